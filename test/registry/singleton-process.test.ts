// Singletons across real child processes (one group member per process, built with the library
// API by fixtures/singleton-member.ts, each with its own classic-level directory, on TCP on
// 127.0.0.1). The owner of the singleton is killed with kill -9: the singleton moves to a
// survivor (told owner_lost) and, once the killed member is restarted from its directory, may
// move back (a planned handoff). Every instance reports each of its "writes" with its fencing
// token; from those reports alone the test checks that it never ran twice: in the order the
// reports arrive, tokens never go back (no instance acts after a newer one has), each token runs
// on one member only, and nothing of the killed instance's token arrives after the kill.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './fixtures/fedctl-process.js';
import { eventually as eventuallyWithin } from '../support/eventually.js';

const SCRIPT = fileURLToPath(new URL(`./fixtures/singleton-member${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
const NODE_ARGS = import.meta.url.endsWith('.ts') ? ['--import', 'tsx', SCRIPT] : [SCRIPT];
const KEY = 'the-one';
const READY_TIMEOUT_MS = 30_000;

interface Report {
  readonly event: 'started' | 'stopped' | 'exited' | 'tick';
  readonly key: string;
  readonly token: number;
  readonly node: string;
  readonly reason?: string;
  readonly why?: string;
}

interface KeyStatus {
  readonly owner: string | undefined;
  readonly running: number | null;
}

interface Status {
  readonly role: string;
  readonly committedVoters: readonly string[];
  readonly keys: Record<string, KeyStatus>;
}

interface Member {
  readonly short: string;
  readonly name: string;
  readonly port: number;
  readonly raftPath: string;
  creation: number;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  waiting: Map<number, (reply: { ok: boolean; value?: unknown; error?: string }) => void>;
}

const root = mkdtempSync(join(tmpdir(), 'fedctl-singleton-proc-'));
const members: Member[] = [];
/** Every report of every instance and manager, in the order they reached this process. */
const reports: Report[] = [];
let nextId = 1;

afterAll(async () => {
  for (const member of members) await stop(member);
  rmSync(root, { recursive: true, force: true });
});

async function launch(member: Member, options: { bootstrap: boolean; seed?: string }): Promise<void> {
  const config = { name: member.name, port: member.port, raftPath: member.raftPath, creation: member.creation, bootstrap: options.bootstrap, seed: options.seed, keys: [KEY] };
  const child = spawn(process.execPath, NODE_ARGS, { env: { ...process.env, SINGLETON_MEMBER_CONFIG: JSON.stringify(config) }, stdio: ['pipe', 'pipe', 'inherit'] });
  member.child = child;
  member.exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  member.waiting = new Map();
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${member.name} not ready`)), READY_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${member.name} exited (${code})`));
    });
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as { ready?: boolean; id?: number; ok?: boolean; value?: unknown; error?: string } & Partial<Report>;
      if (parsed.ready === true) {
        clearTimeout(timer);
        resolve();
      } else if (parsed.id !== undefined) {
        member.waiting.get(parsed.id)?.({ ok: parsed.ok === true, value: parsed.value, error: parsed.error });
        member.waiting.delete(parsed.id);
      } else if (parsed.event !== undefined) reports.push(parsed as Report);
    });
  });
}

function status(member: Member): Promise<Status> {
  const id = nextId++;
  return new Promise<Status>((resolve, reject) => {
    member.waiting.set(id, (reply) => (reply.ok ? resolve(reply.value as Status) : reject(new Error(reply.error))));
    member.child!.stdin!.write(`${JSON.stringify({ id, op: 'status' })}\n`);
  });
}

async function add(short: string, options: { bootstrap: boolean; seed?: string }): Promise<Member> {
  const member: Member = { short, name: `${short}@127.0.0.1`, port: await freePort(), raftPath: join(root, short, 'raft'), creation: 1, child: undefined, exited: undefined, waiting: new Map() };
  members.push(member);
  await launch(member, options);
  return member;
}

async function kill9(member: Member): Promise<void> {
  member.child?.kill('SIGKILL');
  await member.exited;
  member.child = undefined;
}

async function stop(member: Member): Promise<void> {
  const child = member.child;
  if (child === undefined) return;
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await member.exited;
  clearTimeout(timer);
  member.child = undefined;
}

const live = (): Member[] => members.filter((member) => member.child !== undefined);

/** Child processes start slowly on a loaded machine: 20 s per wait. */
function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  return eventuallyWithin(what, probe, timeoutMs);
}

/** The member running the singleton, once every live member agrees it is the owner and its instance reports. */
async function settledOwner(what: string, predicate: (member: Member, token: number) => boolean = () => true): Promise<{ member: Member; token: number }> {
  return eventually(what, async () => {
    const statuses = await Promise.all(live().map(status));
    const owners = new Set(statuses.map((entry) => entry.keys[KEY]?.owner));
    if (owners.size !== 1) return undefined;
    const member = live().find((candidate) => candidate.name === [...owners][0]);
    const token = statuses[live().indexOf(member!)]?.keys[KEY]?.running;
    if (member === undefined || token === null || token === undefined || !predicate(member, token)) return undefined;
    const reported = reports.filter((report) => report.event === 'tick' && report.token === token).length;
    return reported >= 3 ? { member, token } : undefined;
  });
}

/** From the reports alone: the checks named in the header. Returns the problems found. */
function fencingProblems(killed: { token: number; reportsBeforeKill: number } | undefined): string[] {
  const problems: string[] = [];
  const ticks = reports.filter((report) => report.event === 'tick' && report.key === KEY);
  let newest = 0;
  const nodeOf = new Map<number, string>();
  ticks.forEach((tick, position) => {
    if (tick.token < newest) problems.push(`tick of token ${tick.token} (${tick.node}) arrived after token ${newest} had acted (report ${position})`);
    newest = Math.max(newest, tick.token);
    const node = nodeOf.get(tick.token);
    if (node !== undefined && node !== tick.node) problems.push(`token ${tick.token} ran on ${node} and on ${tick.node}`);
    nodeOf.set(tick.token, tick.node);
  });
  if (killed !== undefined) {
    const late = reports.slice(killed.reportsBeforeKill).filter((report) => report.token === killed.token && report.event === 'tick');
    if (late.length > 0) problems.push(`${late.length} reports of the killed token ${killed.token} after the kill`);
  }
  const starts = reports.filter((report) => report.event === 'started' && report.key === KEY).map((report) => report.token);
  for (let index = 1; index < starts.length; index++) {
    if ((starts[index] as number) <= (starts[index - 1] as number)) problems.push(`start of token ${starts[index]} after token ${starts[index - 1]}`);
  }
  return problems;
}

describe('singleton processes — kill -9 of the owner', () => {
  it('the singleton moves when its owner is killed, comes back after the restart, and never runs twice', { timeout: 120_000 }, async () => {
    const first = await add('s1', { bootstrap: true });
    await add('s2', { bootstrap: false, seed: `127.0.0.1:${first.port}` });
    await add('s3', { bootstrap: false, seed: `127.0.0.1:${first.port}` });
    await eventually('3 voters on every member', async () => (await Promise.all(live().map(status))).every((entry) => entry.committedVoters.length === 3));
    const before = await settledOwner('the singleton on its ring owner');

    await kill9(before.member);
    const reportsBeforeKill = reports.length;
    const moved = await settledOwner('the singleton on a survivor', (member, token) => member !== before.member && token > before.token);
    const movedStart = reports.find((report) => report.event === 'started' && report.token === moved.token);
    expect(movedStart?.reason).toBe('owner_lost');
    expect(movedStart?.node).toBe(moved.member.name);

    // Restarted from its own directory as a new incarnation; it was never replaced, so it is the ring owner again.
    before.member.creation++;
    await launch(before.member, { bootstrap: false });
    const back = await settledOwner('the singleton back on the restarted member', (member, token) => member === before.member && token > moved.token);
    const backStart = reports.find((report) => report.event === 'started' && report.token === back.token);
    expect(backStart?.reason).toBe('handoff');
    expect(reports.some((report) => report.event === 'stopped' && report.token === moved.token && report.why === 'moved')).toBe(true);

    expect(fencingProblems({ token: before.token, reportsBeforeKill })).toEqual([]);
    const tokens = [...new Set(reports.filter((report) => report.event === 'tick').map((report) => report.token))];
    expect(tokens).toEqual(expect.arrayContaining([before.token, moved.token, back.token]));
  });
});
