/**
 * `fedctl demo`: the first thing a newcomer runs. It starts real `fedctl start` node processes on
 * 127.0.0.1 (two groups of three), registers names, looks them up from other nodes, kills a
 * group leader with SIGKILL and shows the registry keep working, then stops every process it
 * started and removes its temporary data (unless `--data` was given). Every step says what it
 * does and what you should see.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { fedError } from '../runtime/index.js';
import { type AdminClient, connectAdmin } from './admin-client.js';
import type { MemberInfo, NameInfo } from './admin-protocol.js';
import { formatTable, type Output } from './output.js';

interface DemoNode {
  readonly name: string;
  readonly group: string;
  readonly child: ChildProcess;
  address: string;
  log: string;
}

const READY_TIMEOUT_MS = 20_000;
const STEP_TIMEOUT_MS = 15_000;

export function registerDemoCommand(program: Command, run: (action: (output: Output) => Promise<number | void>) => Promise<void>): void {
  program
    .command('demo')
    .description('start a small cluster on 127.0.0.1, show names, lookups and a leader failover, then stop')
    .option('--data <dir>', 'keep node data here (default: a temporary directory, removed afterwards)')
    .action(async (options: { data?: string }) => {
      await run((output) => demo(options, output));
    });
}

async function demo(options: { data?: string }, output: Output): Promise<number> {
  const root = options.data ?? mkdtempSync(join(tmpdir(), 'fedctl-demo-'));
  const cookieFile = join(root, 'cookie');
  const cookie = randomBytes(24).toString('base64url');
  writeFileSync(cookieFile, `${cookie}\n`, { mode: 0o600 });
  const nodes: DemoNode[] = [];
  const say = (text: string): void => output.write(text);
  const clients = new Map<string, AdminClient>();
  const ask = async (node: DemoNode, request: Parameters<AdminClient['request']>[0]): Promise<unknown> => {
    let client = clients.get(node.name);
    if (client === undefined) {
      client = await connectAdmin(node.address, cookie, STEP_TIMEOUT_MS);
      clients.set(node.name, client);
    }
    return client.request(request, STEP_TIMEOUT_MS);
  };
  try {
    say('fedctl demo — two groups of three nodes on 127.0.0.1, each keeping its names in Raft.\n');
    say(`1. Starting six nodes (data in ${root}) …`);
    for (const group of ['blue', 'green']) {
      const first = await startNode(`${group}1`, group, [], root, cookieFile);
      nodes.push(first);
      const rest = await Promise.all([2, 3].map((n) => startNode(`${group}${n}`, group, ['--seed', first.address], root, cookieFile)));
      nodes.push(...rest);
      await waitFor(`three voters in ${group}`, async () => {
        const members = (await ask(first, { op: 'members' })) as MemberInfo[];
        return members.filter((member) => member.role === 'voter').length === 3;
      });
    }
    for (const node of nodes) say(`   ${node.name}@127.0.0.1  group ${node.group.padEnd(5)}  ${node.address}`);

    say('\n2. The members of group blue, as `fedctl members` shows them:');
    const blue = nodes.filter((node) => node.group === 'blue');
    const green = nodes.filter((node) => node.group === 'green');
    const members = (await ask(blue[0]!, { op: 'members' })) as MemberInfo[];
    say(indent(formatTable(['node', 'role', 'state', 'leader'], members.map((m) => [m.node, m.role, m.state, m.leader ? 'yes' : '']))));

    say('\n3. Registering names: `web` from blue2, `db` from green3 (each held by a small process on that node):');
    await ask(blue[1]!, { op: 'register', name: 'web', meta: { port: '8080' } });
    await ask(green[2]!, { op: 'register', name: 'db', meta: { port: '5432' } });
    say('   registered web (in blue) and db (in green)');

    say('\n4. Looking `web` up from blue3 — at three consistency levels:');
    for (const consistency of ['local', 'leader', 'linearizable'] as const) {
      const info = await waitFor(`web visible on blue3 (${consistency})`, async () => {
        try {
          return (await ask(blue[2]!, { op: 'whereis', name: 'web', consistency })) as NameInfo;
        } catch {
          return undefined;
        }
      });
      say(`   ${consistency.padEnd(12)} → ${info.pid} (revision ${info.revision})`);
    }
    say('   local reads come from the node\'s own replica (fast, maybe a little stale);');
    say('   linearizable reads confirm with a quorum first, so they never miss a finished write.');

    say('\n5. Killing the leader of group blue with SIGKILL …');
    const leaderName = members.find((member) => member.leader)?.node;
    const leader = blue.find((node) => `${node.name}@127.0.0.1` === leaderName);
    if (leader === undefined) throw fedError('unavailable', 'group blue has no leader to kill');
    clients.get(leader.name)?.close().catch(() => undefined);
    clients.delete(leader.name);
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    const survivor = blue.find((node) => node !== leader)!;
    const newLeader = await waitFor('a new leader in blue', async () => {
      try {
        const status = (await ask(survivor, { op: 'status' })) as { leader: string | null };
        return status.leader !== null && status.leader !== leaderName ? status.leader : undefined;
      } catch {
        return undefined;
      }
    });
    say(`   ${leaderName} is gone; ${newLeader} leads group blue now (${Date.now() - killedAt} ms later).`);
    const registered = await waitFor('a registration after the failover', async () => {
      try {
        return (await ask(survivor, { op: 'register', name: 'after-failover', meta: {} })) as { revision: number };
      } catch {
        return undefined;
      }
    });
    say(`   registering still works: after-failover at revision ${registered.revision}.`);
    const web = (await ask(survivor, { op: 'whereis', name: 'web', consistency: 'linearizable' })) as NameInfo;
    say(`   and web is still where it was: ${web.pid}.`);

    say('\n6. Stopping every node …');
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
    [...process.execArgv, script, 'start', '--name', `${name}@127.0.0.1`, '--listen', '127.0.0.1:0', '--group', group, '--data', join(root, name), ...extra],
    { env: { ...process.env, FEDCTL_COOKIE_FILE: cookieFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const node: DemoNode = { name, group, child, address: '', log: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(fedError('timeout', `${name} did not start in time: ${node.log}`)), READY_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      node.log += chunk.toString();
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
        reject(fedError('unavailable', `${name} exited with ${String(code)}: ${node.log.trim().split('\n').pop() ?? ''}`));
      }
    });
  });
}

function stopNode(node: DemoNode): Promise<void> {
  return new Promise((resolve) => {
    if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve();
    const timer = setTimeout(() => node.child.kill('SIGKILL'), 5_000);
    node.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    node.child.kill('SIGTERM');
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw fedError('timeout', `demo: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n');
}
