/**
 * The commands that speak to a running node as a hidden node: register, unregister, whereis,
 * names, watch, members, groups, ring, status, join, leave, stats. Each prints a table (people)
 * or one JSON document (`--json`, stable field names: see README).
 */
import { type Command, Option } from 'commander';
import { fedError } from '../runtime/index.js';
import { connectAdmin, type AdminClient } from './admin-client.js';
import type { AdminRequest, Consistency, MemberInfo, NameInfo } from './admin-protocol.js';
import { parseAddress, resolveCookie } from './config.js';
import type { GlobalOptions } from './main.js';
import { emit, formatTable, type Output } from './output.js';

type Run = (action: (output: Output) => Promise<number | void>) => Promise<void>;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

async function withClient<T>(command: Command, fn: (client: AdminClient, globals: GlobalOptions) => Promise<T>): Promise<T> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  if (globals.node === undefined) throw fedError('config', 'which node? pass --node host:port or set FEDCTL_NODE');
  parseAddress(globals.node, '--node');
  const timeoutMs = Number(globals.timeout);
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0)) throw fedError('config', `--timeout wants a positive integer, got ${globals.timeout}`);
  const cookie = resolveCookie({ cookie: globals.cookie, cookieFile: globals.cookieFile });
  const client = await connectAdmin(globals.node, cookie, timeoutMs);
  try {
    return await fn(client, globals);
  } finally {
    await client.close();
  }
}

function parseMeta(pairs: readonly string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw fedError('config', `--meta wants key=value, got ${JSON.stringify(pair)}`);
    meta[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return meta;
}

const nameRows = (names: readonly NameInfo[]) => names.map((info) => [info.name, info.pid, info.revision, info.meta]);

export function registerClientCommands(program: Command, run: Run): void {
  const simple = (request: (command: Command) => AdminRequest, human: (value: never) => string) =>
    async function (this: Command) {
      const command = this;
      await run(async (output) => {
        const value = await withClient(command, (client) => client.request(request(command)));
        emit(output, value, () => human(value as never));
      });
    };

  program
    .command('register <name>')
    .description('register NAME: for --pid, or as a service entry held until `fedctl unregister`')
    .option('--pid <pid>', 'the pid to register (printed form <node#id.creation>)')
    .addOption(new Option('--meta <key=value>', 'metadata (repeatable)').argParser(collect).default([]))
    .action(
      simple(
        (command) => {
          const options = command.opts<{ pid?: string; meta: string[] }>();
          return { op: 'register', name: command.args[0] as string, ...(options.pid ? { pid: options.pid } : {}), meta: parseMeta(options.meta) };
        },
        (value: { name: string; pid: string; revision: number }) => `registered ${value.name} → ${value.pid} (revision ${value.revision})`,
      ),
    );

  program
    .command('unregister <name>')
    .description('remove NAME from the registry')
    .action(simple((command) => ({ op: 'unregister', name: command.args[0] as string }), (value: { name: string; revision: number }) => `unregistered ${value.name} (revision ${value.revision})`));

  program
    .command('whereis <name>')
    .description('look NAME up')
    .addOption(new Option('--consistency <level>', 'local replica, the leader, or linearizable').choices(['local', 'leader', 'linearizable']).default('local'))
    .action(
      simple(
        (command) => ({ op: 'whereis', name: command.args[0] as string, consistency: command.opts<{ consistency: Consistency }>().consistency }),
        (value: NameInfo) => formatTable(['name', 'pid', 'revision', 'meta'], nameRows([value])),
      ),
    );

  program
    .command('names [prefix]')
    .description('list registered names (optionally those starting with PREFIX)')
    .action(simple((command) => ({ op: 'names', prefix: (command.args[0] as string | undefined) ?? '' }), (value: NameInfo[]) => formatTable(['name', 'pid', 'revision', 'meta'], nameRows(value))));

  program
    .command('members')
    .description('members of the node\'s group: role, state, replication lag')
    .action(
      simple(
        () => ({ op: 'members' }),
        (value: MemberInfo[]) =>
          formatTable(
            ['node', 'address', 'role', 'state', 'leader', 'lag'],
            value.map((member) => [member.node, member.address, member.role, member.state, member.leader ? 'yes' : '', member.lag]),
          ),
      ),
    );

  program
    .command('groups')
    .description('groups of the federation')
    .action(
      simple(
        () => ({ op: 'groups' }),
        (value: Array<{ group: string; leader: string | null; voters: string[]; learners: string[]; names: number }>) =>
          formatTable(['group', 'leader', 'voters', 'learners', 'names'], value.map((group) => [group.group, group.leader, group.voters.join(','), group.learners.join(','), group.names])),
      ),
    );

  program
    .command('ring [key]')
    .description('the consistent-hash ring, or which member owns KEY')
    .action(
      simple(
        (command) => ({ op: 'ring', ...(command.args[0] !== undefined ? { key: command.args[0] as string } : {}) }),
        (value: { key?: string; owner?: string; preference?: string[]; members?: unknown[] }) =>
          value.key !== undefined
            ? formatTable(['key', 'owner', 'preference'], [[value.key, value.owner, (value.preference ?? []).join(',')]])
            : formatTable(['member', 'weight'], (value.members ?? []).map((member) => {
                const entry = member as { name: string; weight?: number };
                return [entry.name, entry.weight ?? 1];
              })),
      ),
    );

  program
    .command('status')
    .description('leader, term, commit index and lag per member')
    .action(
      simple(
        () => ({ op: 'status' }),
        (value: { node: string; group: string; role: string; leader: string | null; term: number; commit: number; applied: number; names: number; members: Array<{ node: string; role: string; state: string; lag?: number }> }) =>
          [
            formatTable(['node', 'group', 'role', 'leader', 'term', 'commit', 'applied', 'names'], [[value.node, value.group, value.role, value.leader, value.term, value.commit, value.applied, value.names]]),
            '',
            formatTable(['member', 'role', 'state', 'lag'], value.members.map((member) => [member.node, member.role, member.state, member.lag])),
          ].join('\n'),
      ),
    );

  program
    .command('join <seed>')
    .description('make the node (--node) join the group that SEED (host:port) belongs to')
    .action(simple((command) => ({ op: 'join', seed: command.args[0] as string }), (value: { node: string; group: string }) => `${value.node} joined group ${value.group}`));

  program
    .command('leave')
    .description('make the node (--node) leave its group gracefully')
    .action(simple(() => ({ op: 'leave' }), (value: { node: string; group: string }) => `${value.node} left group ${value.group}`));

  program
    .command('stats')
    .description('counters of the node (use --json)')
    .action(simple(() => ({ op: 'stats' }), (value: unknown) => JSON.stringify(value, null, 2)));

  program
    .command('watch [prefix]')
    .description('print changes to names (optionally under PREFIX) as they commit')
    .option('--limit <n>', 'stop after N changes')
    .action(async function (this: Command) {
      const command = this;
      await run(async (output) => {
        const limitText = command.opts<{ limit?: string }>().limit;
        const limit = limitText === undefined ? Number.POSITIVE_INFINITY : Number(limitText);
        if (!(limit > 0)) throw fedError('config', `--limit wants a positive integer, got ${String(limitText)}`);
        const prefix = (command.args[0] as string | undefined) ?? '';
        await withClient(command, async (client) => {
          let afterRevision = -1;
          let seen = 0;
          let stopped = false;
          const stop = (): void => {
            stopped = true;
          };
          process.once('SIGINT', stop);
          try {
            while (!stopped && seen < limit) {
              const reply = (await client.request({ op: 'watch_poll', prefix, afterRevision, waitMs: 1_000 }, 5_000)) as {
                events: Array<{ type: string; name: string; pid: string; revision: number }>;
                revision: number;
              };
              for (const event of reply.events) {
                if (seen >= limit) break;
                seen++;
                if (output.json) output.write(JSON.stringify(event));
                else output.write(`${event.type.toUpperCase().padEnd(6)} ${event.name} ${event.pid} (revision ${event.revision})`);
              }
              afterRevision = reply.revision;
            }
          } finally {
            process.off('SIGINT', stop);
          }
        });
      });
    });
}
