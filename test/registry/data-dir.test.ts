// The data directory: first start creates it, each start bumps the creation, and a corrupt,
// newer-format or foreign directory is refused with a typed error and left untouched.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDataDir } from '../../registry/data-dir.js';
import { isFedError } from '../../runtime/index.js';

const made: string[] = [];
function freshDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'fedctl-data-'));
  made.push(root);
  return join(root, 'node');
}
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('data directory — identity and creation', () => {
  it('creates on first start and bumps the creation on every start', () => {
    const dir = freshDir();
    const first = openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' });
    expect(first.fresh).toBe(true);
    expect(first.identity.creation).toBe(1);
    expect(openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' }).identity.creation).toBe(2);
    const third = openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' });
    expect(third.fresh).toBe(false);
    expect(third.identity.creation).toBe(3);
  });

  it('refuses another node or group with wrong_data_dir and changes nothing', () => {
    const dir = freshDir();
    openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' });
    const before = readFileSync(join(dir, 'node.json'), 'utf8');
    expect(isFedError(refusal(() => openDataDir(dir, { name: 'b@127.0.0.1', group: 'g1' })), 'wrong_data_dir')).toBe(true);
    expect(isFedError(refusal(() => openDataDir(dir, { name: 'a@127.0.0.1', group: 'g2' })), 'wrong_data_dir')).toBe(true);
    expect(readFileSync(join(dir, 'node.json'), 'utf8')).toBe(before);
  });

  it('refuses a newer format with wrong_data_dir', () => {
    const dir = freshDir();
    openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' });
    const newer = JSON.stringify({ format: 99, name: 'a@127.0.0.1', group: 'g1', creation: 4 });
    writeFileSync(join(dir, 'node.json'), newer);
    expect(isFedError(refusal(() => openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' })), 'wrong_data_dir')).toBe(true);
    expect(readFileSync(join(dir, 'node.json'), 'utf8')).toBe(newer);
  });

  it('refuses corrupt identity files and unknown non-empty directories with corrupt_data', () => {
    const dir = freshDir();
    openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' });
    for (const junk of ['{not json', '{"format":1}', 'null', '{"format":1,"name":"a@127.0.0.1","group":"g1","creation":0}']) {
      writeFileSync(join(dir, 'node.json'), junk);
      expect(isFedError(refusal(() => openDataDir(dir, { name: 'a@127.0.0.1', group: 'g1' })), 'corrupt_data'), junk).toBe(true);
      expect(readFileSync(join(dir, 'node.json'), 'utf8')).toBe(junk);
    }
    const stranger = freshDir();
    openDataDir(stranger, { name: 'a@127.0.0.1', group: 'g1' });
    rmSync(join(stranger, 'node.json'));
    writeFileSync(join(stranger, 'something-else'), 'x');
    expect(isFedError(refusal(() => openDataDir(stranger, { name: 'a@127.0.0.1', group: 'g1' })), 'corrupt_data')).toBe(true);
  });
});
