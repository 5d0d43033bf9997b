/**
 * The admin server of a running node: a process registered locally as `fedctl_admin` that
 * answers the CLI's requests (see admin-protocol.ts). Each request is served concurrently; a
 * request that throws is answered with its typed error, never crashing the server.
 *
 * Names registered from the CLI without `--pid` are held by a small "service entry" process on
 * this node, which lives until `fedctl unregister` (so the name follows the usual rule: it dies
 * with its process, and with this node).
 */
import { type Distribution, FedError, type Node, Pid, type ProcessContext, Ref, fedError, isFedError } from '../runtime/index.js';
import type { Group, NameEntry } from '../registry/index.js';
import type { NodeObserver } from '../runtime/observe/index.js';
import { ADMIN_SERVER_NAME, type AdminReply, type AdminRequest, type NameInfo } from './admin-protocol.js';

export interface AdminEnvelope {
  readonly type: 'fedctl_admin';
  readonly ref: Ref;
  readonly from: Pid;
  readonly request: AdminRequest;
}

export interface AdminReplyEnvelope {
  readonly type: 'fedctl_admin_reply';
  readonly ref: Ref;
  readonly reply: AdminReply;
}

export function isAdminEnvelope(msg: unknown): msg is AdminEnvelope {
  const envelope = msg as Partial<AdminEnvelope> | null;
  return (
    typeof envelope === 'object' &&
    envelope !== null &&
    envelope.type === 'fedctl_admin' &&
    envelope.ref instanceof Ref &&
    envelope.from instanceof Pid &&
    typeof envelope.request === 'object' &&
    envelope.request !== null
  );
}

const WATCH_WAIT_MS_MAX = 30_000;

export interface AdminContext {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  /** Present only when the node runs with fault injection enabled. */
  readonly faults?: ((blocked: readonly string[]) => void) | undefined;
  /** Answers `introspect` (and enriches `stats`) when present. */
  readonly observer?: NodeObserver | undefined;
}

export function startAdminServer(context: AdminContext): { stop(): void } {
  const pid = context.node.spawn((ctx) => serve(ctx, context), { name: ADMIN_SERVER_NAME });
  return {
    stop: () => {
      if (context.node.started) context.node.exit(pid, 'kill');
    },
  };
}

async function serve(ctx: ProcessContext, context: AdminContext): Promise<void> {
  for (;;) {
    const message = await ctx.receive();
    if (!isAdminEnvelope(message)) continue;
    handle(context, message.request).then(
      (value): AdminReply => ({ ok: true, value }),
      (error: unknown): AdminReply => ({
        ok: false,
        code: isFedError(error) ? error.code : 'error',
        message: error instanceof Error ? error.message : String(error),
        ...(error instanceof FedError && error.details !== undefined ? { details: { ...error.details } } : {}),
      }),
    ).then((reply) => {
      if (ctx.alive) ctx.send(message.from, { type: 'fedctl_admin_reply', ref: message.ref, reply } satisfies AdminReplyEnvelope);
    });
  }
}

export function nameInfo(name: string, entry: NameEntry | { pid: Pid; meta: Readonly<Record<string, unknown>>; revision: number }): NameInfo {
  return { name, pid: entry.pid.toString(), node: entry.pid.node, meta: { ...entry.meta }, revision: entry.revision };
}

async function handle(context: AdminContext, request: AdminRequest): Promise<unknown> {
  const { group, node, distribution } = context;
  switch (request.op) {
    case 'register': {
      const meta = request.meta ?? {};
      if (request.pid !== undefined) {
        const pid = Pid.parse(request.pid);
        const { revision } = await group.register(request.name, pid, meta);
        return { name: request.name, pid: pid.toString(), revision };
      }
      const holder = node.spawn(async (ctx) => {
        await ctx.receive((msg) => msg === 'release');
      });
      try {
        const { revision } = await group.register(request.name, holder, { ...meta, entry: 'service' });
        return { name: request.name, pid: holder.toString(), revision };
      } catch (error) {
        node.send(holder, 'release');
        throw error;
      }
    }
    case 'spawn_holder': {
      const holder = node.spawn(async (ctx) => {
        await ctx.receive((msg) => msg === 'release');
      });
      return { pid: holder.toString() };
    }
    case 'release_holder': {
      const pid = Pid.parse(request.pid);
      if (pid.node !== node.name) throw fedError('badarg', `${request.pid} is not a pid of ${node.name}`);
      node.send(pid, 'release');
      return { pid: request.pid };
    }
    case 'fault': {
      if (context.faults === undefined) throw fedError('badarg', `fault injection is off on ${node.name} (start it with --fault-injection)`);
      context.faults(request.blocked);
      return { node: node.name, blocked: [...request.blocked].sort() };
    }
    case 'unregister': {
      if (request.pid !== undefined) {
        const { revision } = await group.unregister(request.name, Pid.parse(request.pid));
        return { name: request.name, revision };
      }
      const entry = group.whereisLocal(request.name) ?? (await group.whereis(request.name, { consistency: 'linearizable' }));
      if (entry === undefined) throw fedError('not_found', `no name ${JSON.stringify(request.name)}`);
      const { revision } = await group.unregister(request.name, entry.pid);
      if (entry.pid.node === node.name && entry.meta.entry === 'service') node.send(entry.pid, 'release');
      return { name: request.name, revision };
    }
    case 'whereis': {
      const entry = await group.whereis(request.name, { consistency: request.consistency });
      if (entry === undefined) throw fedError('not_found', `no name ${JSON.stringify(request.name)}`, { consistency: request.consistency });
      return { ...nameInfo(request.name, entry), consistency: request.consistency };
    }
    case 'names':
      return group.registered(request.prefix ?? '').map(([name, entry]) => nameInfo(name, entry));
    case 'members':
      return group.members().map((member) => ({
        node: member.node,
        address: member.address ?? '',
        role: member.role,
        state: member.connected ? 'up' : 'down',
        leader: member.leader,
        ...(member.match !== undefined ? { matchIndex: member.match, lag: Math.max(0, group.status().lastIndex - member.match) } : {}),
      }));
    case 'status': {
      const status = group.status();
      return {
        ...status,
        creation: node.creation,
        address: distribution.address,
        processes: node.processCount(),
        peers: distribution.peers(),
        members: group.members().map((member) => ({
          node: member.node,
          role: member.role,
          state: member.connected ? 'up' : 'down',
          ...(member.match !== undefined ? { lag: Math.max(0, status.lastIndex - member.match) } : {}),
        })),
        gateways: [],
      };
    }
    case 'ring': {
      const ring = group.ring();
      if (request.key !== undefined) return { key: request.key, owner: ring.owner(request.key), preference: ring.owners(request.key, 3) };
      return { members: ring.members };
    }
    case 'groups': {
      const status = group.status();
      return [{ group: status.group, leader: status.leader, voters: status.voters, learners: status.learners, names: status.names, gateways: [] }];
    }
    case 'join':
      await group.join(request.seed);
      return { group: group.id, node: node.name };
    case 'leave':
      await group.leave();
      return { group: group.id, node: node.name, left: true };
    case 'stats':
      return {
        node: node.name,
        creation: node.creation,
        processes: node.processCount(),
        raft: group.status(),
        distribution: distribution.stats(),
        messages: node.messageStats(),
        ...(context.observer !== undefined ? { admission: group.admission(), introspection: context.observer.snapshot({ top: 10 }) } : {}),
      };
    case 'introspect': {
      if (context.observer === undefined) throw fedError('badarg', `introspection is not available on ${node.name}`);
      const top = request.top ?? 20;
      if (!(Number.isInteger(top) && top >= 0)) throw fedError('badarg', `introspect: top must be a non-negative integer, not ${String(top)}`);
      const sortBy = request.sortBy ?? 'mailbox';
      if (sortBy !== 'mailbox' && sortBy !== 'rate') throw fedError('badarg', `introspect: sortBy must be mailbox or rate, not ${String(sortBy)}`);
      return context.observer.snapshot({ top, sortBy });
    }
    case 'watch_poll':
      return watchPoll(group, request.prefix, request.afterRevision, Math.min(request.waitMs, WATCH_WAIT_MS_MAX));
    default:
      throw fedError('badarg', `unknown admin request ${JSON.stringify((request as { op?: unknown }).op)}`);
  }
}

/** Changes after `afterRevision` under `prefix`, waiting up to `waitMs` for the first one. */
async function watchPoll(group: Group, prefix: string, afterRevision: number, waitMs: number): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), waitMs);
  const events: Array<{ revision: number; [key: string]: unknown }> = [];
  const from = afterRevision >= 0 ? { afterRevision } : {};
  try {
    for await (const event of group.watch(prefix, { ...from, signal: controller.signal })) {
      events.push(
        event.type === 'put'
          ? { type: 'put', ...nameInfo(event.name, event.entry), revision: event.revision }
          : { type: 'delete', name: event.name, pid: event.previous.pid.toString(), reason: event.reason, revision: event.revision },
      );
      if (events.length >= 1) break;
    }
  } finally {
    clearTimeout(timer);
  }
  const last = events[events.length - 1];
  return { events, revision: last !== undefined ? last.revision : group.state.appliedIndex };
}
