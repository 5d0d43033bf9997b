// Federation across real child processes (one member per process, built with the library API
// by fixtures/fed-node.ts) over TCP on 127.0.0.1: a root group of three and a second group of
// two. It proves that a name registered in one group is found from the other and a message to
// it crosses the gateways, and that after kill -9 of a gateway process of the home group the
// other gateway keeps cross-group registration and lookup working.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually as eventuallyWithin } from '../support/eventually.js';

const SCRIPT = fileURLToPath(new URL(`./fixtures/fed-node${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
const NODE_ARGS = import.meta.url.endsWith('.ts') ? ['--import', 'tsx', SCRIPT] : [SCRIPT];

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly code?: string;
}

interface Proc {
  readonly name: string;
  readonly address: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  call(op: string, args?: Record<string, unknown>): Promise<Reply>;
}

const procs: Proc[] = [];

afterEach(async () => {
  for (const proc of procs.splice(0)) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.stdin?.end();
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 3_000);
      await proc.exited;
      clearTimeout(timer);
    }
  }
});

async function startProc(config: { name: string; group: string; root: boolean; seeds: string[]; join?: string }): Promise<Proc> {
  const child = spawn(process.execPath, NODE_ARGS, { env: { ...process.env, FED_NODE_CONFIG: JSON.stringify(config) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const waiting = new Map<number, (reply: Reply) => void>();
  let nextId = 1;
  const ready = await new Promise<{ name: string; address: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${config.name} exited early (${code})`)));
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as { ready?: boolean; name: string; address: string } & Reply;
      if (parsed.ready === true) resolve(parsed);
      else waiting.get(parsed.id)?.(parsed);
    });
  });
  const proc: Proc = {
    ...ready,
    child,
    exited,
    call(op, args = {}) {
      const id = nextId++;
      return new Promise<Reply>((resolve) => {
        waiting.set(id, resolve);
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
  };
  procs.push(proc);
  return proc;
}

/** Child processes start slowly on a loaded machine: 20 s per wait. */
function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  return eventuallyWithin(what, probe, timeoutMs);
}

type Status = { gateway: { address: string } | null; gateways: string[]; ownedSlots: number; directoryRevision: number };

describe('federation — child processes', () => {
  it('cross-group names and messages through gateways survive kill -9 of a gateway process', async () => {
    const a1 = await startProc({ name: 'pa1', group: 'ga', root: true, seeds: [] });
    const [a2, a3] = await Promise.all([
      startProc({ name: 'pa2', group: 'ga', root: true, seeds: [], join: a1.address }),
      startProc({ name: 'pa3', group: 'ga', root: true, seeds: [], join: a1.address }),
    ]);
    const rootGateways = await eventually('root gateways', async () => {
      const statuses = await Promise.all([a1, a2, a3].map(async (proc) => (await proc.call('status')).value as Status));
      const addresses = statuses.map((status) => status.gateway?.address).filter((address): address is string => address !== undefined);
      return addresses.length === 2 && statuses.every((status) => status.ownedSlots === 4_096) ? addresses : undefined;
    });
    const b1 = await startProc({ name: 'pb1', group: 'gb', root: false, seeds: rootGateways });
    const b2 = await startProc({ name: 'pb2', group: 'gb', root: false, seeds: rootGateways, join: b1.address });
    await eventually('gb registers', async () => (await b2.call('register', { name: 'svc:b' })).ok);
    const registered = await b2.call('whereis', { name: 'svc:b' });
    for (const proc of [a1, a2, a3, b1]) {
      const found = await proc.call('whereis', { name: 'svc:b', consistency: 'linearizable' });
      expect(found).toMatchObject({ ok: true, value: { group: 'ga', holderGroup: 'gb', pid: (registered.value as { pid: string }).pid } });
    }
    expect(await a3.call('send', { name: 'svc:b', msg: { from: 'pa3' } })).toMatchObject({ ok: true });
    await eventually('message crossed', async () => ((await b2.call('received')).value as unknown[]).length === 1);
    expect((await b2.call('received')).value).toEqual([{ from: 'pa3' }]);

    // kill -9 one gateway process of the home group (the first gateway listed).
    const statuses = await Promise.all([a1, a2, a3].map(async (proc) => ({ proc, status: (await proc.call('status')).value as Status })));
    const victim = statuses.find((entry) => entry.status.gateway !== null)!.proc;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const register = await b1.call('register', { name: 'svc:after-kill' });
    expect(register).toMatchObject({ ok: true, value: { group: 'ga' } });
    const survivor = [a1, a2, a3].find((proc) => proc !== victim)!;
    expect(await survivor.call('whereis', { name: 'svc:after-kill', consistency: 'linearizable' })).toMatchObject({ ok: true, value: { holderGroup: 'gb' } });
    expect(await b2.call('whereis', { name: 'svc:b', consistency: 'linearizable' })).toMatchObject({ ok: true, value: { group: 'ga' } });
  });
});
