// Probe singletons of `fedctl start --singleton KEY --singleton-log FILE` (the contract jepsen-lite
// checks against): three real nodes declaring keys k1 and k2, each writing its own log. It proves
// that each key runs on exactly one member, which every member names with the same fencing
// token; that the log holds one well-formed `start` line per instance (key, token, node, time)
// and one `stop` line after it when the instance ends — here when its node stops cleanly
// (reason `closed`); that a killed owner (SIGKILL, no stop line) is replaced by an instance on
// another member with a higher token; and that `fedctl status` shows the singletons.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliHarness, type StartedNode, eventually } from './harness.js';

const harness = new CliHarness();
const nodes: StartedNode[] = [];
const startedAt = Date.now();

interface Row {
  key: string;
  owner: string | null;
  holder: string | null;
  token: number | null;
  running: boolean;
  phase: string;
}

interface Line {
  type: 'start' | 'stop';
  key: string;
  token: number;
  node: string;
  time: number;
  reason?: string;
}

const logOf = (name: string): string => join(harness.root, `${name}.singletons.jsonl`);

function lines(name: string): Line[] {
  let text = '';
  try {
    text = readFileSync(logOf(name), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Line);
}

/** Starts without a later stop of the same key and token, in one node's log. */
function open(name: string): Line[] {
  const result: Line[] = [];
  for (const line of lines(name)) {
    if (line.type === 'start') result.push(line);
    else {
      const index = result.findIndex((start) => start.key === line.key && start.token === line.token);
      expect(index).toBeGreaterThanOrEqual(0);
      result.splice(index, 1);
    }
  }
  return result;
}

const json = <T>(node: StartedNode, ...args: string[]) => harness.json<T>(['--node', node.address, ...args]);
const alive = (): StartedNode[] => nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);

/** Every live member agrees on each key's holder and token, and exactly one runs it. */
async function settled(keys: readonly string[]): Promise<Map<string, { holder: string; token: number }>> {
  return eventually('singletons settled', async () => {
    const views = await Promise.all(alive().map(async (node) => ({ node, rows: await json<Row[]>(node, 'singletons') })));
    const result = new Map<string, { holder: string; token: number }>();
    for (const key of keys) {
      const rows = views.map((view) => ({ node: view.node, row: view.rows.find((row) => row.key === key) as Row }));
      const first = rows[0]!.row;
      if (first.holder === null || first.token === null) return undefined;
      if (!rows.every(({ row }) => row.holder === first.holder && row.token === first.token)) return undefined;
      const running = rows.filter(({ row }) => row.running);
      if (running.length !== 1 || `${running[0]!.node.name}@127.0.0.1` !== first.holder) return undefined;
      result.set(key, { holder: first.holder, token: first.token });
    }
    return result;
  }, 30_000);
}

beforeAll(async () => {
  const args = (name: string) => ['--singleton', 'k1', '--singleton', 'k2', '--singleton-log', logOf(name)];
  const first = await harness.startNode('s1', args('s1'));
  nodes.push(first, ...(await Promise.all(['s2', 's3'].map((name) => harness.startNode(name, [...args(name), '--seed', first.address])))));
  await eventually('three voters', async () => (await json<{ voters: string[] }>(first, 'status')).voters.length === 3);
}, 60_000);

afterAll(async () => {
  await harness.close();
});

describe('fedctl singletons', () => {
  it('each key runs on one member, named with the same token everywhere; its log has the open start line', async () => {
    const placed = await settled(['k1', 'k2']);
    for (const [key, { holder, token }] of placed) {
      const name = holder.replace('@127.0.0.1', '');
      const starts = open(name).filter((line) => line.key === key);
      expect(starts).toHaveLength(1);
      expect(starts[0]).toMatchObject({ type: 'start', key, token, node: holder });
      expect(starts[0]!.time).toBeGreaterThanOrEqual(startedAt);
      expect(starts[0]!.time).toBeLessThanOrEqual(Date.now());
      for (const other of nodes.filter((node) => node.name !== name)) expect(open(other.name).filter((line) => line.key === key)).toEqual([]);
    }
    const status = (await harness.run(['--node', nodes[0]!.address, 'status'])).stdout;
    expect(status).toMatch(/^k1\s+\S+@127\.0\.0\.1\s+\S+@127\.0\.0\.1\s+\d+\s+(yes|no)\s+\w+$/m);
    expect(status).toMatch(/^k2\s+/m);
  });

  it('a killed holder is replaced with a higher token; a cleanly stopped one writes its stop line (reason closed)', async () => {
    const before = await settled(['k1', 'k2']);
    const k1 = before.get('k1')!;
    const victim = nodes.find((node) => `${node.name}@127.0.0.1` === k1.holder) as StartedNode;
    const victimLines = lines(victim.name).length;
    victim.child.kill('SIGKILL');
    await victim.exited();
    const after = await settled(['k1', 'k2']);
    expect(after.get('k1')!.holder).not.toBe(k1.holder);
    expect(after.get('k1')!.token).toBeGreaterThan(k1.token);
    // SIGKILL: no line after the kill, the instance ended with the process.
    expect(lines(victim.name)).toHaveLength(victimLines);
    const replacement = open(after.get('k1')!.holder.replace('@127.0.0.1', '')).filter((line) => line.key === 'k1');
    expect(replacement).toEqual([expect.objectContaining({ type: 'start', token: after.get('k1')!.token })]);

    // Stop the member holding k1 now, cleanly: its instances stop (closed) before it exits.
    const stopping = nodes.find((node) => `${node.name}@127.0.0.1` === after.get('k1')!.holder) as StartedNode;
    const held = open(stopping.name);
    expect(held.length).toBeGreaterThan(0);
    expect(await stopping.stop()).toBe(0);
    expect(open(stopping.name)).toEqual([]);
    for (const start of held) {
      const stop = lines(stopping.name).find((line) => line.type === 'stop' && line.key === start.key && line.token === start.token);
      expect(stop).toMatchObject({ node: start.node, reason: 'closed' });
      expect(stop!.time).toBeGreaterThanOrEqual(start.time);
    }
  });
});
