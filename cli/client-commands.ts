/**
 * The commands that speak to a running node as a hidden node: register, unregister, whereis,
 * send, names, watch, members, groups, ring, status, singletons, join, leave, transfer-leader,
 * stats. Each prints a table (people) or one JSON document (`--json`, stable field names: see
 * README).
 *
 * The node is `--node` (or FEDCTL_NODE), by default the local one at 127.0.0.1:4370 (the default
 * `--listen` of `fedctl start`), as etcdctl and consul default to their local agent.
 */
import { type Command, Option } from 'commander';
import { appendAll, fedError, isFedError } from '../runtime/index.js';
import { connectAdmin, namesInPages, type AdminClient } from './admin-client.js';
import { type AdminRequest, type Consistency, type GroupRow, type MemberInfo, type NameInfo, type NamesPage, RESERVED_META_PREFIX } from './admin-protocol.js';
import { resolveCookie, resolveNodeTarget } from './config.js';
import { collect } from './env.js';
import { CliError, EXIT } from './exit-codes.js';
import type { GlobalOptions } from './main.js';
import { emit, formatTable, type Output } from './output.js';
import type { SingletonRow } from './singletons.js';

type Run = (action: (output: Output) => Promise<number | void>) => Promise<void>;

/**
 * `join` and `leave` wait for the configuration change (and, leaving, for singletons to be handed
 * over), `transfer-leader` for the new leader: at least this long, whatever --timeout says (the
 * group's own join timeout is 15 s).
 */
const MEMBERSHIP_TIMEOUT_MS_MIN = 30_000;
/** `rebalance` moves slots batch by batch, names included: at least this long. */
const REBALANCE_TIMEOUT_MS_MIN = 120_000;
/** How long one watch poll waits on the node for a change before asking again. */
const WATCH_POLL_WAIT_MS = 1_000;

async function withClient<T>(command: Command, fn: (client: AdminClient, globals: GlobalOptions) => Promise<T>): Promise<T> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const target = resolveNodeTarget(globals);
  const timeoutMs = Number(globals.timeout);
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0)) throw fedError('config', `--timeout wants a positive integer, got ${globals.timeout}`);
  const cookie = resolveCookie({ cookie: globals.cookie, cookieFile: globals.cookieFile });
  const client = await connectAdmin(target.address, cookie, timeoutMs, { link: target.link });
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
    const key = pair.slice(0, at);
    if (key.startsWith(RESERVED_META_PREFIX)) throw fedError('config', `--meta: keys starting with ${RESERVED_META_PREFIX} are reserved for fedctl, got ${JSON.stringify(key)}`);
    // The node refuses the other keys the codec gives a meaning of its own; this one would not
    // even arrive as sent (msgpackr renames it `__proto_`).
    if (key === '__proto__') throw fedError('config', `--meta: meta key "__proto__" is reserved`);
    if (Object.hasOwn(meta, key)) throw fedError('config', `--meta: key ${JSON.stringify(key)} given twice`);
    meta[key] = pair.slice(at + 1);
  }
  return meta;
}

const nameRows = (names: readonly NameInfo[]) => names.map((info) => [info.name, info.pid, info.group, info.revision, info.meta]);
const NAME_HEADERS = ['name', 'pid', 'group', 'revision', 'meta'];

interface StatusValue {
  node: string;
  group: string;
  role: string;
  leader: string | null;
  term: number;
  commit: number;
  applied: number;
  names: number;
  storeId?: string;
  admitted?: boolean;
  members: Array<{ node: string; role: string; state: string; lag?: number }>;
  gateways: Array<{ member: string; node: string; address: string }>;
  federation: { root: boolean; rootGroup: string | null; ownedSlots: number; names: number; groups: number | null; gateway: { address: string } | null } | null;
  singletons: SingletonRow[];
}


function singletonTable(rows: readonly SingletonRow[]): string {
  return formatTable(['key', 'owner', 'holder', 'token', 'running here', 'phase'], rows.map((row) => [row.key, row.owner, row.holder, row.token, row.running ? 'yes' : 'no', row.phase]));
}

function renderStatus(value: StatusValue): string {
  const parts = [
    formatTable(['node', 'group', 'role', 'leader', 'term', 'commit', 'applied', 'names'], [[value.node, value.group, value.role, value.leader, value.term, value.commit, value.applied, value.names]]),
    '',
    formatTable(['member', 'role', 'state', 'lag'], value.members.map((member) => [member.node, member.role, member.state, member.lag])),
  ];
  if (value.admitted === false) {
    parts.push(
      '',
      `this member's Raft store ${value.storeId ?? '?'} is not admitted yet: it takes part in no election and no commit until the group's leader admits it ` +
        '(a new member, or one whose data directory was lost: the leader first removes its old voter, which needs a quorum of the other voters)',
    );
  }
  const federation = value.federation;
  if (federation !== null) {
    parts.push(
      '',
      `federation: root group ${federation.rootGroup ?? '?'}${federation.root ? ' (this group)' : ''}, ${federation.groups ?? '?'} groups; ` +
        `this group owns ${federation.ownedSlots} slots and ${federation.names} global names${federation.gateway !== null ? `; this member is a gateway at ${federation.gateway.address}` : ''}`,
      formatTable(['gateway', 'member', 'address'], value.gateways.map((gateway) => [gateway.node, gateway.member, gateway.address])),
    );
  }
  if (value.singletons.length > 0) parts.push('', singletonTable(value.singletons));
  return parts.join('\n');
}

/** The table of `fedctl groups` (also shown by the demo). */
export function renderGroups(rows: readonly GroupRow[]): string {
  return formatTable(
    ['group', 'root', 'state', 'slots', 'leader', 'voters', 'learners', 'names', 'gateways'],
    rows.map((group) => [
      group.group,
      group.root ? 'yes' : '',
      group.reachable ? group.state : `${group.state} (unreachable)`,
      group.slots,
      group.leader,
      group.voters.join(','),
      group.learners.join(','),
      group.names,
      group.gateways.map((gateway) => gateway.node).join(','),
    ]),
  );
}

export function registerClientCommands(program: Command, run: Run): void {
  const simple = (request: (command: Command) => AdminRequest, human: (value: never) => string, options: { timeoutMsMin?: number } = {}) =>
    async function (this: Command) {
      const command = this;
      await run(async (output) => {
        const built = request(command);
        const value = await withClient(command, (client, globals) => client.request(built, Math.max(Number(globals.timeout), options.timeoutMsMin ?? 0)));
        emit(output, value, () => human(value as never));
      });
    };

  program
    .command('register <name>')
    .description('register NAME: for --pid, or as a service entry held until `fedctl unregister` (in a federation: in the name\'s home group)')
    .option('--pid <pid>', 'the pid to register (printed form <node#id.creation>)')
    .addOption(new Option('--meta <key=value>', 'metadata (repeatable; keys starting with fedctl: are reserved)').argParser(collect).default([]))
    .action(
      simple(
        (command) => {
          const options = command.opts<{ pid?: string; meta: string[] }>();
          return { op: 'register', name: command.args[0] as string, ...(options.pid ? { pid: options.pid } : {}), meta: parseMeta(options.meta) };
        },
        (value: { name: string; pid: string; revision: number; group: string }) => `registered ${value.name} → ${value.pid} in group ${value.group} (revision ${value.revision})`,
      ),
    );

  program
    .command('unregister <name>')
    .description('remove NAME from the registry (a service entry\'s holder process exits with it)')
    .action(simple((command) => ({ op: 'unregister', name: command.args[0] as string }), (value: { name: string; revision: number }) => `unregistered ${value.name} (revision ${value.revision})`));

  program
    .command('whereis <name>')
    .description('look NAME up (in a federation: in its home group; leader reads are served linearizable there)')
    .addOption(new Option('--consistency <level>', 'local replica, the leader, or linearizable').choices(['local', 'leader', 'linearizable']).default('local'))
    .action(
      simple(
        (command) => ({ op: 'whereis', name: command.args[0] as string, consistency: command.opts<{ consistency: Consistency }>().consistency }),
        (value: NameInfo) => formatTable(NAME_HEADERS, nameRows([value])),
      ),
    );

  program
    .command('send <name> <message>')
    .description('send MESSAGE (a string; with --json-message, parsed as JSON) to the process holding NAME, in any group')
    .option('--json-message', 'parse MESSAGE as JSON')
    .action(
      simple(
        (command) => {
          const text = command.args[1] as string;
          let message: unknown = text;
          if (command.opts<{ jsonMessage?: boolean }>().jsonMessage === true) {
            try {
              message = JSON.parse(text);
            } catch {
              throw fedError('config', `--json-message: MESSAGE is not JSON: ${JSON.stringify(text)}`);
            }
          }
          return { op: 'send', name: command.args[0] as string, message };
        },
        (value: { name: string; pid: string; group: string }) => `sent to ${value.name} → ${value.pid} (group ${value.group})`,
      ),
    );

  program
    .command('names [prefix]')
    .description('list registered names (optionally those starting with PREFIX); in a federation, those homed in the node\'s group')
    .option('--all', 'in a federation, the names homed in every group')
    .action(async function (this: Command) {
      const command = this;
      await run(async (output) => {
        const prefix = (command.args[0] as string | undefined) ?? '';
        const all = command.opts<{ all?: boolean }>().all === true;
        const value = await withClient(command, (client, globals) => namesInPages(client, prefix, Number(globals.timeout), { all }));
        emit(output, value, () => formatTable(NAME_HEADERS, nameRows(value)));
      });
    });

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
    .description('groups of the federation (from its directory): leader, members, names, gateways')
    .action(
      simple(
        () => ({ op: 'groups' }),
        (value: GroupRow[]) => renderGroups(value),
      ),
    );

  program
    .command('rebalance')
    .description('even out the hash slots over the federation\'s groups, moving names with their slots (ask a member of the root group)')
    .action(
      simple(
        () => ({ op: 'rebalance' }),
        (value: { moved: number; slots: Record<string, number> }) =>
          `moved ${value.moved} slots; now ${Object.entries(value.slots).map(([group, count]) => `${group} ${count}`).join(', ')}`,
        { timeoutMsMin: REBALANCE_TIMEOUT_MS_MIN },
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
    .description('leader, term, commit index and lag per member; gateways and federation; singletons')
    .action(simple(() => ({ op: 'status' }), (value: StatusValue) => renderStatus(value)));

  program
    .command('singletons')
    .description('the singletons declared on the node: owner, fencing token, running here or not')
    .action(simple(() => ({ op: 'singletons' }), (value: SingletonRow[]) => singletonTable(value)));

  program
    .command('join <seed>')
    .description('make the node (--node, default the local one) join the group that SEED (host:port) belongs to')
    .action(simple((command) => ({ op: 'join', seed: command.args[0] as string }), (value: { node: string; group: string }) => `${value.node} joined group ${value.group}`, { timeoutMsMin: MEMBERSHIP_TIMEOUT_MS_MIN }));

  program
    .command('leave')
    .description('make the node (--node, default the local one) hand over its singletons and leave its group')
    .action(simple(() => ({ op: 'leave' }), (value: { node: string; group: string }) => `${value.node} left group ${value.group}`, { timeoutMsMin: MEMBERSHIP_TIMEOUT_MS_MIN }));

  program
    .command('transfer-leader <node>')
    .description("hand the leadership of the node's group (--node, default the local one) to the voter NODE, as `members` names it")
    .action(simple((command) => ({ op: 'transfer_leader', to: command.args[0] as string }), (value: { group: string; leader: string }) => `leadership of group ${value.group} moved to ${value.leader}`, { timeoutMsMin: MEMBERSHIP_TIMEOUT_MS_MIN }));

  program
    .command('stats')
    .description('counters of the node (use --json)')
    .action(simple(() => ({ op: 'stats' }), (value: unknown) => JSON.stringify(value, null, 2)));

  program
    .command('watch [prefix]')
    .description('print changes to names (optionally under PREFIX) as they commit; in a federation, names homed in the node\'s group')
    .option('--limit <n>', 'stop after N changes')
    .option('--after-revision <n>', 'start with the changes after revision N (default: from now on)')
    .action(async function (this: Command) {
      const command = this;
      await run(async (output) => {
        const options = command.opts<{ limit?: string; afterRevision?: string }>();
        const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : Number(options.limit);
        if (!(Number.isInteger(limit) || limit === Number.POSITIVE_INFINITY) || !(limit > 0)) throw fedError('config', `--limit wants a positive integer, got ${String(options.limit)}`);
        const after = options.afterRevision === undefined ? -1 : Number(options.afterRevision);
        if (!(Number.isInteger(after) && after >= -1)) throw fedError('config', `--after-revision wants a revision (an integer ≥ 0), got ${String(options.afterRevision)}`);
        const prefix = (command.args[0] as string | undefined) ?? '';
        await withClient(command, async (client) => {
          let afterRevision = after;
          let seen = 0;
          let stopped = false;
          const stop = (): void => {
            stopped = true;
          };
          process.once('SIGINT', stop);
          try {
            while (!stopped && seen < limit) {
              let reply: { events: Array<{ type: string; name: string; pid: string; revision: number; reason?: string }>; revision: number };
              try {
                reply = (await client.request({ op: 'watch_poll', prefix, afterRevision, waitMs: WATCH_POLL_WAIT_MS }, WATCH_POLL_WAIT_MS + 4_000)) as typeof reply;
              } catch (error) {
                if (isFedError(error) && error.details?.compacted === true) {
                  throw new CliError('compacted', `the node no longer keeps the changes after revision ${afterRevision}`, EXIT.notFound, { cause: error });
                }
                throw error;
              }
              for (const event of reply.events) {
                if (seen >= limit) break;
                seen++;
                if (output.json) output.write(JSON.stringify(event));
                else output.write(`${event.type.toUpperCase().padEnd(6)} ${event.name} ${event.pid} (revision ${event.revision}${event.reason === undefined ? '' : `, ${event.reason}`})`);
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
