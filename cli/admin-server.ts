/**
 * The admin server of a running node: a process registered locally as `fedctl_admin` that
 * answers the CLI's requests (see admin-protocol.ts). Each request is served concurrently; a
 * request that throws is answered with its typed error, never crashing the server.
 *
 * Namespaces. A node that is not federated serves names from its group's registry. A federated
 * node serves `register`, `unregister`, `whereis`, `send`, `names` and `watch` from the global
 * namespace: a name lives in its home group (the owner of its hash slot) whichever member is
 * asked, and `whereis` answers with that home group. `names` and `watch` cover the names homed
 * in the node's own group (`names --all` asks every group). The group registry stays what
 * Raft membership, singletons and the ring use.
 *
 * Service entries. A name registered from the CLI without `--pid` is held by a small process
 * on the node that served the request; its metadata carries `fedctl:entry=service` (keys under
 * `fedctl:` are reserved: a user's `--meta fedctl:…` is refused, never overwritten). The holder
 * lives until `fedctl unregister` — sent to any node of any group: whoever serves it tells the
 * holder to exit once the name is gone — or until its node dies (the name dies with it).
 */
import { type Distribution, FedError, Node, Pid, type ProcessContext, Ref, encode, fedError, isFedError, keepNewest, partitionPoint } from '../runtime/index.js';
import type { Group, NameEntry, SingletonManager } from '../registry/index.js';
import type { DirectorySummary, Federation, FederationMachines, GlobalWhereis } from '../federation/index.js';
import type { NodeObserver } from '../runtime/observe/index.js';
import { ADMIN_SERVER_NAME, type AdminReply, type AdminRequest, type Consistency, type GroupRow, type NameInfo, NAMES_PAGE_BYTES_MAX, NAMES_PAGE_NAMES_MAX, type NamesPage, SERVICE_ENTRY_META_KEY, RESERVED_META_PREFIX } from './admin-protocol.js';
import { type AdminClient, connectAdmin, namesInPages } from './admin-client.js';
import { GlobalWatchFeed } from './global-watch.js';
import type { ProbeSingletons } from './singletons.js';

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
/** Events one `watch_poll` answers at most (more follow in the next poll, at once). */
const WATCH_POLL_EVENTS_MAX = 1_000;
/** How long `groups` / `names --all` wait for each other group's gateway. */
const REMOTE_GROUP_TIMEOUT_MS = 2_000;
/** What tells a holder process to exit (`name` must match the one it holds, if any). */
const RELEASE = 'fedctl_release';

export interface AdminContext {
  readonly node: Node;
  readonly distribution: Distribution;
  readonly group: Group;
  readonly cookie: string;
  readonly machines: FederationMachines;
  /** The member's federation role, once it has one. */
  readonly federation: () => Federation | undefined;
  /** The directory as last read (refreshed in the background). */
  readonly directory: () => DirectorySummary | undefined;
  readonly singletons: ProbeSingletons;
  readonly manager: SingletonManager;
  /** Present only when the node runs with fault injection enabled. */
  /** Fault injection (jepsen-lite); answers what it cut on the member's gateway, if it runs one. */
  readonly faults?: ((blocked: readonly string[]) => { readonly gatewayBlocked: string[] | null }) | undefined;
  /** Answers `introspect` (and enriches `stats`) when present. */
  readonly observer?: NodeObserver | undefined;
}

type Handler = (request: AdminRequest, from: Pid) => Promise<unknown>;

export function startAdminServer(context: AdminContext): { stop(): void } {
  const feed = new GlobalWatchFeed(context.machines.global, context.group);
  const server = new AdminServer(context, feed);
  const pid = context.node.spawn((ctx) => serve(ctx, (request, from) => server.handle(request, from), context.distribution), { name: ADMIN_SERVER_NAME });
  return {
    stop: () => {
      feed.close();
      if (context.node.started && context.node.isAlive(pid)) context.node.exit(pid, 'kill');
    },
  };
}

/**
 * The read-only admin server of a gateway node: what members of other groups ask a group about
 * (`group_info`, `names`, `names_page`) when `fedctl groups` or `names --all` runs there.
 */
export function startGatewayAdminServer(gatewayNode: Node, context: { readonly group: Group; readonly machines: FederationMachines }): { stop(): void } {
  const listings = new KeptListings();
  const handler: Handler = async (request) => {
    switch (request.op) {
      case 'group_info':
        return groupInfo(context.group, context.machines);
      case 'names':
        return globalNames(context.machines, context.group.id, request.prefix ?? '');
      case 'names_page': {
        const { prefix, after } = checkNamesPage(request);
        if (request.all === true) throw fedError('badarg', 'a gateway lists the names homed in its own group only (no all)');
        return listings.replicaPage(`global:${prefix}`, after, () => context.machines.global.registered(prefix), context.group.id);
      }
      default:
        throw fedError('badarg', `a gateway answers only group_info, names and names_page, not ${JSON.stringify((request as { op?: unknown }).op)}`);
    }
  };
  const pid = gatewayNode.spawn((ctx) => serve(ctx, handler), { name: ADMIN_SERVER_NAME });
  return {
    stop: () => {
      if (gatewayNode.started && gatewayNode.isAlive(pid)) gatewayNode.exit(pid, 'kill');
    },
  };
}

/**
 * Answer admin requests. With the node's `distribution`, an answer to another node goes as an
 * awaited send, so one over the frame limit (which a plain send drops) is answered instead with
 * a `frame_too_large` error the client prints, not a timeout that blames the node.
 */
async function serve(ctx: ProcessContext, handler: Handler, distribution?: Distribution): Promise<void> {
  const answer = (to: Pid, ref: Ref, op: unknown, reply: AdminReply): void => {
    if (!ctx.alive) return;
    const envelope = { type: 'fedctl_admin_reply', ref, reply } satisfies AdminReplyEnvelope;
    if (distribution === undefined || to.node === ctx.self.node) {
      ctx.send(to, envelope);
      return;
    }
    distribution.sendAsync(to, envelope, { from: ctx.self }).catch((error: unknown) => {
      if (!isFedError(error, 'frame_too_large') || !ctx.alive) return;
      const tooLarge: AdminReply = { ok: false, code: 'frame_too_large', message: `the answer to ${String(op)} is too large to send (${error.message})` };
      ctx.send(to, { type: 'fedctl_admin_reply', ref, reply: tooLarge } satisfies AdminReplyEnvelope);
    });
  };
  for (;;) {
    const message = await ctx.receive();
    if (!isAdminEnvelope(message)) continue;
    handler(message.request, message.from)
      .then(
        (value): AdminReply => ({ ok: true, value }),
        (error: unknown): AdminReply => ({
          ok: false,
          code: isFedError(error) ? error.code : 'error',
          message: error instanceof Error ? error.message : String(error),
          ...(error instanceof FedError && error.details !== undefined ? { details: { ...error.details } } : {}),
        }),
      )
      .then((reply) => answer(message.from, message.ref, (message.request as { op?: unknown }).op, reply));
  }
}

/** A name's entry in a group's registry or in the federation's global names. */
type ListedEntry = NameEntry | { pid: Pid; meta: Readonly<Record<string, unknown>>; revision: number };

export function nameInfo(name: string, entry: ListedEntry, group: string): NameInfo {
  return { name, pid: entry.pid.toString(), node: entry.pid.node, meta: { ...entry.meta }, revision: entry.revision, group };
}

/** How long a listing's sorted names serve its later pages. */
const LISTING_TTL_MS = 60_000;
/** Listings (prefix and source) kept at once. */
const LISTINGS_KEPT = 4;

/**
 * The page of sorted `entries` after `after`: at most NAMES_PAGE_NAMES_MAX rows and about
 * NAMES_PAGE_BYTES_MAX bytes (estimated; at least one row), and the cursor if any are left.
 * `nameOf` and `infoOf` read an entry (a replica's [name, entry], or a row already listed).
 */
function namesPage<T>(entries: readonly T[], after: string | undefined, nameOf: (entry: T) => string, infoOf: (entry: T) => NameInfo): NamesPage {
  // The first name sorting after `after` (names are unique and sorted by code units).
  let index = after === undefined ? 0 : partitionPoint(entries, 0, (entry) => nameOf(entry) <= after);
  const names: NameInfo[] = [];
  let bytes = 0;
  for (; index < entries.length && names.length < NAMES_PAGE_NAMES_MAX; index++) {
    const info = infoOf(entries[index] as T);
    const metaBytes = Object.keys(info.meta).length === 0 ? 1 : encode(info.meta).byteLength;
    // The row as msgpack: its six keys and headers (about 48 bytes), the strings, the meta.
    const rowBytes = 48 + Buffer.byteLength(info.name) + info.pid.length + info.node.length + info.group.length + metaBytes;
    if (names.length > 0 && bytes + rowBytes > NAMES_PAGE_BYTES_MAX) break;
    names.push(info);
    bytes += rowBytes;
  }
  return { names, next: index < entries.length && names.length > 0 ? (names[names.length - 1] as NameInfo).name : null };
}

/**
 * The sorted listings that paged answers read, by source and prefix: a listing is taken afresh
 * for its first page (no `after`), and its later pages read the one taken last for that key if
 * it is at most LISTING_TTL_MS old — a listing of n names costs one sort (one round of asking
 * other groups, for `all`), not one per page, and reads one state throughout. At most
 * LISTINGS_KEPT at once.
 */
class KeptListings {
  readonly #kept = new Map<string, { entries: readonly unknown[]; takenAt: number }>();

  /** The listing kept for `key`, if `after` asks for a later page of it and it is fresh. */
  kept<T>(key: string, after: string | undefined): readonly T[] | undefined {
    const kept = this.#kept.get(key);
    if (after === undefined || kept === undefined || Date.now() - kept.takenAt > LISTING_TTL_MS) return undefined;
    return kept.entries as readonly T[];
  }

  keep<T>(key: string, entries: readonly T[]): readonly T[] {
    this.#kept.delete(key);
    this.#kept.set(key, { entries, takenAt: Date.now() });
    keepNewest(this.#kept, LISTINGS_KEPT);
    return entries;
  }

  /** The page after `after` of a replica's names, listed by `list` (kept under `key`), as rows of `group`. */
  replicaPage(key: string, after: string | undefined, list: () => ReadonlyArray<[string, ListedEntry]>, group: string): NamesPage {
    const entries = this.kept<[string, ListedEntry]>(key, after) ?? this.keep(key, list());
    return namesPage(entries, after, ([name]) => name, ([name, entry]) => nameInfo(name, entry, group));
  }
}

function checkNamesPage(request: { readonly prefix?: unknown; readonly after?: unknown }): { prefix: string; after: string | undefined } {
  const prefix = request.prefix ?? '';
  const after = request.after;
  if (typeof prefix !== 'string' || (after !== undefined && typeof after !== 'string')) throw fedError('badarg', 'names_page takes a prefix and an optional after, both strings');
  return { prefix, after };
}

function groupInfo(group: Group, machines: FederationMachines): { group: string; leader: string | null; voters: string[]; learners: string[]; names: number } {
  const status = group.status();
  return { group: status.group, leader: status.leader, voters: [...status.voters], learners: [...status.learners], names: machines.global.size };
}

function globalNames(machines: FederationMachines, groupId: string, prefix: string): NameInfo[] {
  return machines.global.registered(prefix).map(([name, entry]) => nameInfo(name, entry, groupId));
}

function checkMeta(meta: unknown): Record<string, string> {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw fedError('badarg', 'register: meta must be an object of strings');
  for (const key of Object.keys(meta)) {
    if (key.startsWith(RESERVED_META_PREFIX)) throw fedError('badarg', `meta keys starting with ${RESERVED_META_PREFIX} are reserved for fedctl (got ${JSON.stringify(key)})`);
  }
  return meta as Record<string, string>;
}

class AdminServer {
  readonly #context: AdminContext;
  readonly #feed: GlobalWatchFeed;
  /** Holder processes this server spawned, by pid key: the service entry's name, or null (spawn_holder). */
  readonly #holders = new Map<string, string | null>();
  /** Sorted names of recent paged listings (see KeptListings). */
  readonly #listings = new KeptListings();

  constructor(context: AdminContext, feed: GlobalWatchFeed) {
    this.#context = context;
    this.#feed = feed;
  }

  async handle(request: AdminRequest, from: Pid): Promise<unknown> {
    const { group, node, distribution } = this.#context;
    const federation = this.#context.federation();
    switch (request.op) {
      case 'register':
        return this.#register(request.name, request.pid, checkMeta(request.meta ?? {}), federation);
      case 'spawn_holder':
        return { pid: this.#spawnHolder(null).toString() };
      case 'release_holder': {
        const pid = Pid.parse(request.pid);
        if (pid.node !== node.name || !this.#holders.has(pid.key)) throw fedError('badarg', `${request.pid} is not a holder process of ${node.name}`);
        this.#release(pid, this.#holders.get(pid.key) ?? undefined);
        return { pid: request.pid };
      }
      case 'fault': {
        if (this.#context.faults === undefined) throw fedError('badarg', `fault injection is off on ${node.name} (start it with --fault-injection)`);
        const { gatewayBlocked } = this.#context.faults(request.blocked);
        return { node: node.name, blocked: [...request.blocked].sort(), gatewayBlocked };
      }
      case 'unregister':
        return this.#unregister(request.name, request.pid, federation);
      case 'whereis':
        return this.#whereis(request.name, request.consistency, federation);
      case 'send':
        return this.#send(request.name, request.message, federation);
      case 'names':
        if (federation === undefined) return group.registered(request.prefix ?? '').map(([name, entry]) => nameInfo(name, entry, group.id));
        if (request.all !== true) return globalNames(this.#context.machines, group.id, request.prefix ?? '');
        return this.#allNames(request.prefix ?? '');
      case 'names_page': {
        const { prefix, after } = checkNamesPage(request);
        // An answer to `all` says so (`all: true`): a node from before `all` was paged ignores it,
        // and the client then asks the single-answer way instead of taking one group for all.
        const echo = request.all === true ? { all: true } : {};
        if (request.all === true && federation !== undefined) {
          const key = `all:${prefix}`;
          const rows = this.#listings.kept<NameInfo>(key, after) ?? this.#listings.keep(key, await this.#allNames(prefix));
          return { ...namesPage(rows, after, (info) => info.name, (info) => info), ...echo };
        }
        // Outside a federation, every group is this one (as `names` with `all` answers).
        const page =
          federation !== undefined
            ? this.#listings.replicaPage(`global:${prefix}`, after, () => this.#context.machines.global.registered(prefix), group.id)
            : this.#listings.replicaPage(`group:${prefix}`, after, () => group.registered(prefix), group.id);
        return { ...page, ...echo };
      }
      case 'members':
        return group.members().map((member) => ({
          node: member.node,
          address: member.address ?? '',
          role: member.role,
          state: member.connected ? 'up' : 'down',
          leader: member.leader,
          ...(member.match !== undefined ? { matchIndex: member.match, lag: Math.max(0, group.status().lastIndex - member.match) } : {}),
        }));
      case 'status':
        return this.#status(federation);
      case 'singletons':
        return this.#context.singletons.status();
      case 'ring': {
        const ring = group.ring();
        if (request.key !== undefined) return { key: request.key, owner: ring.owner(request.key), preference: ring.owners(request.key, 3) };
        return { members: ring.members };
      }
      case 'groups':
        return this.#groups(federation);
      case 'group_info':
        return groupInfo(group, this.#context.machines);
      case 'rebalance': {
        if (federation === undefined) throw fedError('badarg', `${node.name} is not in a federation (start it with --federation-root or --federation-seed)`);
        const moved = await federation.rebalance();
        const directory = await federation.directory();
        return { moved, slots: { ...directory.slots } };
      }
      case 'join':
        await group.join(request.seed);
        return { group: group.id, node: node.name };
      case 'leave':
        // Singletons running here are handed over first (planned moves), then the member leaves.
        await this.#context.manager.leave();
        return { group: group.id, node: node.name, left: true };
      case 'transfer_leader':
        await group.transferLeadership(request.to);
        return { group: group.id, leader: request.to };
      case 'stats':
        return {
          node: node.name,
          creation: node.creation,
          processes: node.processCount(),
          raft: group.status(),
          distribution: distribution.stats(),
          messages: node.messageStats(),
          federation: this.#federationStatus(federation),
          singletons: this.#context.singletons.status(),
          ...(this.#context.observer !== undefined ? { admission: group.admission(), introspection: this.#context.observer.snapshot({ top: 10, reader: `stats:${from.node}` }) } : {}),
        };
      case 'introspect': {
        const observer = this.#context.observer;
        if (observer === undefined) throw fedError('badarg', `introspection is not available on ${node.name}`);
        const top = request.top ?? 20;
        if (!(Number.isInteger(top) && top >= 0)) throw fedError('badarg', `introspect: top must be a non-negative integer, not ${String(top)}`);
        const sortBy = request.sortBy ?? 'mailbox';
        if (sortBy !== 'mailbox' && sortBy !== 'rate') throw fedError('badarg', `introspect: sortBy must be mailbox or rate, not ${String(sortBy)}`);
        return observer.snapshot({ top, sortBy, reader: request.reader ?? `introspect:${from.node}` });
      }
      case 'watch_poll': {
        const waitMs = Math.min(request.waitMs, WATCH_WAIT_MS_MAX);
        if (federation === undefined) return watchPoll(group, request.prefix, request.afterRevision, waitMs);
        const { events, revision } = await this.#feed.next(request.prefix, request.afterRevision, waitMs);
        return {
          events: events.map((event) =>
            event.type === 'put'
              ? { type: 'put', ...nameInfo(event.name, event.entry, group.id), revision: event.revision }
              : { type: 'delete', name: event.name, pid: event.pid.toString(), reason: event.reason, revision: event.revision, group: group.id },
          ),
          revision,
        };
      }
      default:
        throw fedError('badarg', `unknown admin request ${JSON.stringify((request as { op?: unknown }).op)}`);
    }
  }

  async #register(name: string, pidText: string | undefined, meta: Record<string, string>, federation: Federation | undefined): Promise<unknown> {
    const { group } = this.#context;
    const put = async (pid: Pid, entryMeta: Record<string, unknown>): Promise<{ revision: number; group: string }> =>
      federation !== undefined ? federation.register(name, pid, entryMeta) : { ...(await group.register(name, pid, entryMeta)), group: group.id };
    if (pidText !== undefined) {
      const pid = Pid.parse(pidText);
      const { revision, group: home } = await put(pid, meta);
      return { name, pid: pid.toString(), revision, group: home };
    }
    const holder = this.#spawnHolder(name);
    try {
      const { revision, group: home } = await put(holder, { ...meta, [SERVICE_ENTRY_META_KEY]: 'service' });
      return { name, pid: holder.toString(), revision, group: home };
    } catch (error) {
      this.#release(holder, name);
      throw error;
    }
  }

  async #unregister(name: string, pidText: string | undefined, federation: Federation | undefined): Promise<unknown> {
    const { group } = this.#context;
    if (pidText !== undefined) {
      const pid = Pid.parse(pidText);
      if (federation !== undefined) return { name, ...(await federation.unregister(name, pid)) };
      const { revision } = await group.unregister(name, pid);
      return { name, revision, group: group.id };
    }
    if (federation !== undefined) {
      const found = await federation.whereis(name, { consistency: 'linearizable' });
      if (found === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)}`);
      const { revision } = await federation.unregister(name, found.pid);
      if (found.meta[SERVICE_ENTRY_META_KEY] === 'service') await this.#releaseAnywhere(found, name, federation);
      return { name, revision, group: found.group };
    }
    const entry = group.whereisLocal(name) ?? (await group.whereis(name, { consistency: 'linearizable' }));
    if (entry === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)}`);
    const { revision } = await group.unregister(name, entry.pid);
    if (entry.meta[SERVICE_ENTRY_META_KEY] === 'service') this.#release(entry.pid, name);
    return { name, revision, group: group.id };
  }

  async #whereis(name: string, consistency: Consistency, federation: Federation | undefined): Promise<unknown> {
    const { group } = this.#context;
    if (federation === undefined) {
      const entry = await group.whereis(name, { consistency });
      if (entry === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)}`, { consistency });
      return { ...nameInfo(name, entry, group.id), holderGroup: group.id, consistency };
    }
    // The global namespace reads locally (the home group's replica, or a gateway's cache) or
    // linearizably at home; `leader` is served as the stronger `linearizable`.
    const used = consistency === 'local' ? 'local' : 'linearizable';
    const found = await federation.whereis(name, { consistency: used });
    if (found === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)}`, { consistency: used });
    return { ...nameInfo(name, found, found.group), holderGroup: found.holderGroup, consistency: used };
  }

  async #send(name: string, message: unknown, federation: Federation | undefined): Promise<unknown> {
    const { group, node } = this.#context;
    if (federation !== undefined) {
      const found = await federation.whereis(name);
      if (found === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)}`);
      await federation.send(found, message);
      return { name, pid: found.pid.toString(), group: found.holderGroup ?? found.group };
    }
    const entry = group.whereisLocal(name) ?? (await group.whereis(name, { consistency: 'linearizable' }));
    if (entry === undefined) throw fedError('not_found', `no name ${JSON.stringify(name)}`);
    node.send(entry.pid, message);
    return { name, pid: entry.pid.toString(), group: group.id };
  }

  #status(federation: Federation | undefined): unknown {
    const { group, node, distribution } = this.#context;
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
      gateways: federation === undefined ? [] : this.#context.machines.global.gateways().map((gateway) => ({ member: gateway.member, node: gateway.node, address: gateway.address })),
      federation: this.#federationStatus(federation),
      singletons: this.#context.singletons.status(),
    };
  }

  #federationStatus(federation: Federation | undefined): unknown {
    if (federation === undefined) return null;
    const directory = this.#context.directory();
    return {
      ...federation.status(),
      rootGroup: directory?.rootGroup ?? null,
      groups: directory?.groups.filter((record) => record.state !== 'removed').length ?? null,
    };
  }

  async #groups(federation: Federation | undefined): Promise<GroupRow[]> {
    const { group, machines } = this.#context;
    if (federation === undefined) {
      const info = groupInfo(group, machines);
      return [{ ...info, names: group.status().names, root: false, state: 'standalone', slots: null, gateways: [], reachable: true }];
    }
    const directory = await federation.directory();
    return Promise.all(
      directory.groups.map(async (record): Promise<GroupRow> => {
        const base = {
          group: record.id,
          root: record.id === directory.rootGroup,
          state: record.state,
          slots: directory.slots[record.id] ?? 0,
          gateways: record.gateways.map((gateway) => ({ node: gateway.node, address: gateway.address })),
        };
        if (record.id === group.id) return { ...base, ...groupInfo(group, machines), reachable: true };
        const info = (await this.#askGroup(record.gateways, (client) => client.requestOnce({ op: 'group_info' }, REMOTE_GROUP_TIMEOUT_MS))) as ReturnType<typeof groupInfo> | undefined;
        if (info === undefined) return { ...base, leader: null, voters: [], learners: [], names: null, reachable: false };
        return { ...base, leader: info.leader, voters: info.voters, learners: info.learners, names: info.names, reachable: true };
      }),
    );
  }

  async #allNames(prefix: string): Promise<NameInfo[]> {
    const federation = this.#context.federation();
    if (federation === undefined) return [];
    const directory = await federation.directory();
    const lists = await Promise.all(
      directory.groups.map(async (record) => {
        if (record.id === this.#context.group.id) return globalNames(this.#context.machines, record.id, prefix);
        // Page by page: another group's share may be more than one answer can carry.
        const names = await this.#askGroup(record.gateways, (client) => namesInPages(client, prefix, REMOTE_GROUP_TIMEOUT_MS, { once: true }));
        if (names === undefined) throw fedError('unavailable', `group ${record.id} did not answer through any of its gateways`);
        return names;
      }),
    );
    return lists.flat().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Ask another group's gateway nodes in turn (a hidden connection each) what `ask` asks of a
   * client; undefined if none answers.
   */
  async #askGroup<T>(gateways: ReadonlyArray<{ readonly address: string }>, ask: (client: AdminClient) => Promise<T>): Promise<T | undefined> {
    for (const gateway of gateways) {
      let client;
      try {
        client = await connectAdmin(gateway.address, this.#context.cookie, REMOTE_GROUP_TIMEOUT_MS);
        return await ask(client);
      } catch {
        // the next gateway
      } finally {
        await client?.close().catch(() => undefined);
      }
    }
    return undefined;
  }

  #spawnHolder(name: string | null): Pid {
    const holders = this.#holders;
    const pid = this.#context.node.spawn(async (ctx) => {
      try {
        for (;;) {
          const msg = (await ctx.receive()) as { type?: unknown; name?: unknown } | null;
          // Anything else sent to a service entry is dropped: the entry is a name, not a service.
          if (msg !== null && typeof msg === 'object' && msg.type === RELEASE && (msg.name ?? null) === name) return;
        }
      } finally {
        holders.delete(ctx.self.key);
      }
    });
    holders.set(pid.key, name);
    return pid;
  }

  #release(pid: Pid, name: string | undefined): void {
    this.#context.node.send(pid, { type: RELEASE, name: name ?? null });
  }

  /** Tell a service entry's holder, in whatever group it lives, that its name is gone. */
  async #releaseAnywhere(found: GlobalWhereis, name: string, federation: Federation): Promise<void> {
    const holderGroup = found.holderGroup ?? found.group;
    if (holderGroup === this.#context.group.id || found.pid.node === this.#context.node.name) {
      this.#release(found.pid, name);
      return;
    }
    await federation.send({ pid: found.pid, group: holderGroup }, { type: RELEASE, name });
  }
}

/**
 * Changes under `prefix` after `afterRevision` (-1: from now on), waiting up to `waitMs` for the
 * first one; then every change available (at most WATCH_POLL_EVENTS_MAX — a revision's events
 * are never split, see `Group.changesSince` — and `more` when further ones are available), with
 * the revision to resume after. The answer is taken at one instant once the wait is over, so it
 * holds every change up to the revision it reports, also when the wait ends just as one is
 * applied.
 */
async function watchPoll(group: Group, prefix: string, afterRevision: number, waitMs: number): Promise<unknown> {
  const from = afterRevision >= 0 ? afterRevision : group.state.appliedIndex;
  let batch = group.changesSince(prefix, from, WATCH_POLL_EVENTS_MAX);
  if (batch.events.length === 0 && waitMs > 0) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), waitMs);
    try {
      // Only to wait (for the first change, the group closing, or the time): the answer is read below.
      for await (const _change of group.watch(prefix, { afterRevision: from, signal: controller.signal })) break;
    } finally {
      clearTimeout(timer);
    }
    batch = group.changesSince(prefix, from, WATCH_POLL_EVENTS_MAX);
  }
  const events = batch.events.map((event) =>
    event.type === 'put'
      ? { type: 'put', ...nameInfo(event.name, event.entry, group.id), revision: event.revision }
      : { type: 'delete', name: event.name, pid: event.previous.pid.toString(), reason: event.reason, revision: event.revision, group: group.id },
  );
  return { events, revision: batch.revision, more: batch.more };
}
