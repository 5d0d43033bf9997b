// The `fedctl` bin as npm installs it: `node_modules/.bin/fedctl` is a symlink to
// dist/cli/main.js, so the program sees the link's path in process.argv[1]. It proves the built
// CLI runs when invoked through a symlink (and through a symlinked directory), that it runs
// nothing when merely imported, and what `isEntryPoint` decides for each kind of path.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isEntryPoint } from '../../cli/main.js';
import { CLI, CliHarness } from './harness.js';

const harness = new CliHarness();

afterAll(async () => {
  await harness.close();
});

function runNode(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return harness.runCommand(process.execPath, args);
}

describe('fedctl — entry point', () => {
  it('runs through an npm-style .bin symlink: help exits 0, a bad command exits 2', async () => {
    const bin = join(harness.root, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    const link = join(bin, 'fedctl');
    symlinkSync(CLI, link);
    const help = await runNode([link, '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: fedctl');
    expect(help.stdout).toContain('Exit codes:');
    const bad = await runNode([link, 'bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("fedctl: usage: unknown command 'bogus'");
  });

  it('runs through a symlinked directory too', async () => {
    const linkedDist = join(harness.root, 'linked-dist');
    symlinkSync(join(CLI, '..', '..'), linkedDist);
    const help = await runNode([join(linkedDist, 'cli', 'main.js'), '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: fedctl');
  });

  it('importing the module runs nothing; isEntryPoint compares real paths', async () => {
    const imported = await runNode(['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(CLI).href)}); console.log('imported');`]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toBe('imported\n');
    const url = pathToFileURL(CLI).href;
    expect(isEntryPoint(CLI, url)).toBe(true);
    expect(isEntryPoint(join(harness.root, 'node_modules', '.bin', 'fedctl'), url)).toBe(true);
    expect(isEntryPoint(join(harness.root, 'nothing-here'), url)).toBe(false);
    expect(isEntryPoint(undefined, url)).toBe(false);
    expect(isEntryPoint(process.execPath, url)).toBe(false);
  });
});
