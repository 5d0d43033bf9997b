/**
 * `fedctl demo`: the first thing a newcomer runs. It starts six real `fedctl start` node
 * processes on 127.0.0.1 — two groups of three, blue (the federation's root group) and green —
 * in one federation, spreads the name slots over both groups, registers names from both,
 * looks each one up from the other group (with its home group), kills the leader of blue with
 * SIGKILL (checked to be the leader at that moment) and shows registrations and cross-group
 * lookups keep working, then stops every process it started and removes its temporary data
 * (unless `--data` was given). Every step says what it does and what you should see.
 *
 * The children get a clean environment (PATH, a private HOME and the demo's own cookie file):
 * nothing of the user's FEDCTL_* settings leaks into them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { fedError } from '../runtime/index.js';
import { pollUntil } from '../runtime/kernel/poll.js';
import { type AdminClient, connectAdmin } from './admin-client.js';
import type { GroupRow, NameInfo } from './admin-protocol.js';
import { renderGroups } from './client-commands.js';
import { formatTable, type Output } from './output.js';

interface DemoNode {
  readonly name: string;
  readonly group: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  address: string;
  log: string;
}

interface Status {
  role: string;
  leader: string | null;
  term: number;
  voters: string[];
  gateways: Array<{ node: string; address: string }>;
  federation: { ownedSlots: number } | null;
}

const READY_TIMEOUT_MS = 20_000;
const STEP_TIMEOUT_MS = 30_000;
/** One request's timeout; a step retries failed requests until STEP_TIMEOUT_MS. */
const REQUEST_TIMEOUT_MS = 5_000;
const REBALANCE_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 100;
/** Names registered until both groups are home to one and one is homed away from the group that registered it. */
const CANDIDATE_NAMES = ['web', 'db', 'cache', 'queue', 'auth', 'search', 'mail', 'billing'] as const;
/** Registered after the failover until one is homed in blue (the group that lost its leader). */
const AFTER_FAILOVER_NAMES = ['post-failover', 'after-failover', 'still-here', 'orders', 'payments', 'sessions', 'reports', 'inventory'] as const;

export function registerDemoCommand(program: Command, run: (action: (output: Output) => Promise<number | void>) => Promise<void>): void {
  program
    .command('demo')
    .description('start a federation of two groups on 127.0.0.1, show global names, cross-group lookups and a leader failover, then stop')
    .option('--data <dir>', 'keep node data here (created if absent, must be empty; default: a temporary directory, removed afterwards)')
    .action(async (options: { data?: string }) => {
      await run((output) => demo(options, output));
    });
}

function prepareRoot(data: string | undefined): string {
  if (data === undefined) return mkdtempSync(join(tmpdir(), 'fedctl-demo-'));
  const root = resolve(data);
  mkdirSync(root, { recursive: true });
  if (readdirSync(root).length > 0) throw fedError('config', `--data ${data} is not empty: give the demo an empty or new directory`);
  return root;
}

async function demo(options: { data?: string }, output: Output): Promise<number> {
  const root = prepareRoot(options.data);
  const cookieFile = join(root, 'cookie');
  const cookie = randomBytes(24).toString('base64url');
  writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
  const nodes: DemoNode[] = [];
  const say = (text = ''): void => output.write(text);
  const clients = new Map<string, AdminClient>();
  const ask = async (node: DemoNode, request: Parameters<AdminClient['request']>[0], timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> => {
    let client = clients.get(node.name);
    if (client === undefined) {
      client = await connectAdmin(node.address, cookie, REQUEST_TIMEOUT_MS);
      clients.set(node.name, client);
    }
    return client.request(request, timeoutMs);
  };
  const forget = async (node: DemoNode): Promise<void> => {
    await clients.get(node.name)?.close().catch(() => undefined);
    clients.delete(node.name);
  };
  const start = async (name: string, group: string, extra: string[]): Promise<DemoNode> => {
    const node = await startNode(name, group, extra, root, cookieFile);
    nodes.push(node);
    return node;
  };
  try {
    say('fedctl demo — a federation of two groups of three nodes, all on 127.0.0.1.');
    say('Each group keeps its share of a global name registry in Raft; gateways link the groups.');
    say(`(node data in ${root})`);

    say('\n1. Starting group blue, the root group: it keeps the federation\'s directory.');
    const blue1 = await start('blue1', 'blue', ['--federation-root']);
    const blue = [blue1, ...(await Promise.all([2, 3].map((n) => start(`blue${n}`, 'blue', ['--federation-root', '--seed', blue1.address]))))];
    const blueStatus = await waitFor('blue: three voters and two gateways', async () => {
      const status = (await ask(blue1, { op: 'status' })) as Status;
      return status.voters.length === 3 && status.gateways.length === 2 && status.federation?.ownedSlots === 4096 ? status : undefined;
    });
    const seeds = blueStatus.gateways.map((gateway) => gateway.address);
    say(`   blue1, blue2, blue3 are up; blue's gateways listen on ${seeds.join(' and ')}.`);

    say('\n2. Starting group green; it joins the federation through blue\'s gateways (--federation-seed).');
    const seedFlags = seeds.flatMap((seed) => ['--federation-seed', seed]);
    const green1 = await start('green1', 'green', seedFlags);
    const green = [green1, ...(await Promise.all([2, 3].map((n) => start(`green${n}`, 'green', [...seedFlags, '--seed', green1.address]))))];
    const groups = await waitFor('both groups in the directory, with leaders and gateways', async () => {
      const rows = (await ask(blue1, { op: 'groups' })) as GroupRow[];
      const ready = rows.length === 2 && rows.every((row) => row.reachable && row.leader !== null && row.voters.length === 3 && row.gateways.length === 2);
      return ready ? rows : undefined;
    });
    say('   The federation, as `fedctl groups` shows it:');
    say(indent(renderGroups(groups), 6));
    say('   A name\'s home group is the owner of its hash slot; blue owns all 4096 slots so far.');

    say('\n3. Spreading the slots over both groups (`fedctl rebalance` on a member of the root group) …');
    const rebalanced = (await ask(blue1, { op: 'rebalance' }, REBALANCE_TIMEOUT_MS)) as { moved: number; slots: Record<string, number> };
    say(`   moved ${rebalanced.moved} slots: ${Object.entries(rebalanced.slots).map(([group, count]) => `${group} owns ${count}`).join(', ')}.`);

    say('\n4. Registering names from both groups (each held by a small process on the node that registers it).');
    say('   Where a name lives (its home group) follows from its hash slot, not from who registers it:');
    const registered: Array<{ name: string; from: DemoNode; home: string }> = [];
    for (const [index, name] of CANDIDATE_NAMES.entries()) {
      const homes = new Set(registered.map((entry) => entry.home));
      const homedAway = registered.some((entry) => entry.home !== entry.from.group);
      if (index >= 2 && homes.has('blue') && homes.has('green') && homedAway) break;
      const from = index % 2 === 0 ? (blue[1] as DemoNode) : (green[2] as DemoNode);
      const result = await waitFor(`register ${name}`, () => ask(from, { op: 'register', name, meta: { demo: 'yes' } }) as Promise<{ group: string; pid: string }>);
      registered.push({ name, from, home: result.group });
      say(`   ${name.padEnd(8)} registered from ${from.name.padEnd(7)} → held by ${result.pid}, home group ${result.group}`);
    }

    say('\n5. Looking each name up from the OTHER group (a linearizable read in the name\'s home group):');
    const lookups: unknown[][] = [];
    for (const entry of registered) {
      const asker = (entry.from.group === 'blue' ? green[0] : blue[2]) as DemoNode;
      const info = await waitFor(`${entry.name} from ${asker.name}`, () => ask(asker, { op: 'whereis', name: entry.name, consistency: 'linearizable' }) as Promise<NameInfo & { holderGroup: string }>);
      lookups.push([entry.name, `${asker.name} (${asker.group})`, info.pid, info.holderGroup, info.group]);
    }
    say(indent(formatTable(['name', 'asked from', 'pid', 'held in', 'home group'], lookups), 6));
    const crossHomes = new Set(registered.map((entry) => entry.home));
    say(`   Names homed in ${[...crossHomes].sort().join(' and ')} were found from the other group through the gateways.`);

    say('\n6. Killing the leader of group blue with SIGKILL …');
    const { victim, term } = await waitFor('the current leader of blue', async () => {
      for (const node of blue) {
        const status = (await ask(node, { op: 'status' }).catch(() => undefined)) as Status | undefined;
        if (status?.role === 'leader') return { victim: node, term: status.term };
      }
      return undefined;
    });
    const survivors = blue.filter((node) => node !== victim);
    await forget(victim);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    say(`   ${victim.name} led blue at term ${term} when it was killed.`);
    const newLeader = await waitFor('a new leader in blue', async () => {
      const status = (await ask(survivors[0] as DemoNode, { op: 'status' })) as Status;
      return status !== undefined && status.leader !== null && status.leader !== `${victim.name}@127.0.0.1` && status.term > term ? status : undefined;
    });
    say(`   ${newLeader.leader} leads blue now (term ${newLeader.term}, ${Date.now() - killedAt} ms after the kill).`);

    say('\n7. The registry keeps working:');
    const writer = survivors[0] as DemoNode;
    let afterFailover: { name: string; group: string; revision: number } | undefined;
    for (const name of AFTER_FAILOVER_NAMES) {
      if (afterFailover?.group === 'blue') break;
      const result = await waitFor(`registering ${name}`, () => ask(writer, { op: 'register', name, meta: {} }) as Promise<{ group: string; revision: number }>);
      afterFailover = { name, group: result.group, revision: result.revision };
      say(`   registered ${name} from ${writer.name}: home group ${result.group}, revision ${result.revision}${result.group === 'blue' ? ' (committed by blue\'s new leader)' : ''}`);
    }
    if (afterFailover !== undefined) {
      const found = afterFailover;
      const seenFromGreen = await waitFor(`${found.name} from green`, () => ask(green[1] as DemoNode, { op: 'whereis', name: found.name, consistency: 'linearizable' }) as Promise<NameInfo>);
      say(`   green2 finds ${found.name}: ${seenFromGreen.pid} (home group ${seenFromGreen.group}).`);
    }
    for (const entry of registered) {
      const again = await waitFor(`${entry.name} after the failover`, () => ask(green[2] as DemoNode, { op: 'whereis', name: entry.name, consistency: 'linearizable' }) as Promise<NameInfo>);
      say(`   ${entry.name} (home group ${again.group}) is still where it was: ${again.pid}.`);
    }

    say('\n8. Stopping every node …');
    return 0;
  } finally {
    for (const client of clients.values()) await client.close().catch(() => undefined);
    await Promise.all(nodes.map((node) => stopNode(node)));
    if (options.data === undefined) rmSync(root, { recursive: true, force: true });
    say('   done. Next: `fedctl start --help`, and README.md for the library API.');
  }
}

function startNode(name: string, group: string, extra: string[], root: string, cookieFile: string): Promise<DemoNode> {
  const script = process.argv[1] as string;
  const child = spawn(
    process.execPath,
    [...process.execArgv, script, 'start', '--name', `${name}@127.0.0.1`, '--listen', '127.0.0.1:0', '--group', group, '--data', join(root, name), '--log-level', 'info', ...extra],
    // A clean environment: the user's FEDCTL_* (cookie, log level, metrics, JSON …) must not reach the nodes.
    { env: { PATH: process.env.PATH ?? '', HOME: root, FEDCTL_COOKIE_FILE: cookieFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let exited!: () => void;
  const node: DemoNode = { name, group, child, exited: new Promise<void>((resolve) => (exited = resolve)), address: '', log: '' };
  child.once('exit', () => exited());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(fedError('timeout', `${name} did not start in time: ${lastLine(node.log)}`)), READY_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (node.log.length < 1_000_000) node.log += chunk.toString();
      const match = /ready: listening on (\S+),/.exec(node.log);
      if (match && node.address === '') {
        node.address = match[1] as string;
        clearTimeout(timer);
        resolve(node);
      }
    });
    child.once('exit', (code) => {
      if (node.address === '') {
        clearTimeout(timer);
        reject(fedError('unavailable', `${name} exited with ${String(code)}: ${lastLine(node.log)}`));
      }
    });
  });
}

function lastLine(log: string): string {
  return log.trim().split('\n').pop() ?? '';
}

async function stopNode(node: DemoNode): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const timer = setTimeout(() => node.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  node.child.kill('SIGTERM');
  await node.exited;
  clearTimeout(timer);
}

/** Probe until it answers (a failed request counts as "not yet"), or time out naming the last error. */
function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  return pollUntil(probe, STEP_TIMEOUT_MS, POLL_MS, (lastError) => fedError('timeout', `demo: timed out waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`));
}

function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => `${' '.repeat(spaces)}${line}`)
    .join('\n');
}
