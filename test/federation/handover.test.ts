// A slot moving between groups while clients register and unregister names in it, and while
// the root's leader may abort the move at any point — the race a mover must survive. Pure
// simulation of the real pieces, one seed per run (fast-check picks the interleaving): the
// real `Directory` (the root's log), one real `GlobalNames` per group (each group's own log:
// its slot state alone decides whether a write applies, as at a home gateway), directory views
// (`DirectoryCache`) that lag (events delivered one at a time, whenever the schedule says),
// clients that route with `routeSlot` and learn from `moved` answers, the mover's steps as
// `Federation#runMoveBatch` takes them (begin → fence at the source → import at the destination
// → mark_copied → complete; every refused step leads to abort and `moveOutcome`'s undo, every
// success to `moveOutcome`'s accept/drop), and each group's reconciler (`reconcileSteps`) run
// at random with its lagging view.
// It proves: (1) at no step do two groups' logs have the slot owned; (2) every write a group
// serves gets the answer a single global registry gives for the same sequence; (3) the group
// whose log owns the slot holds exactly the reference's names of it, so no acknowledged
// registration is lost, even when the move was aborted half-way; (4) afterwards (views caught
// up, reconcilers run) exactly the directory's owner holds the slot and every request completes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Directory, type DirectoryCommand, type DirectoryEvent, type DirectoryResult, type GroupId, type SlotMove } from '../../federation/directory.js';
import { GlobalNames, type GlobalCommand, type GlobalEntry, type GlobalResult } from '../../federation/global-names.js';
import { moveOutcome, reconcileSteps } from '../../federation/handover.js';
import { DirectoryCache, MOVED_REDIRECTS_MAX, routeSlot, type MovedAnswer } from '../../federation/routing.js';
import { slotOf } from '../../federation/slots.js';
import { Pid } from '../../runtime/pid.js';

const NAMES = ['{hot}a', '{hot}b', '{hot}c'];
const SLOT = slotOf('hot');
const PIDS = [new Pid('a@127.0.0.1', 1, 1), new Pid('b@127.0.0.1', 2, 1), new Pid('c@127.0.0.1', 3, 1)];
const GROUPS: GroupId[] = ['root', 'g1'];
const PENDING_MAX = 4;
const FINISH_ROUNDS_MAX = 200;

type Write = Extract<GlobalCommand, { op: 'register' | 'unregister' }>;

interface GroupSim {
  readonly id: GroupId;
  readonly global: GlobalNames;
  readonly view: DirectoryCache;
  delivered: number;
  index: number;
}

interface ClientSim {
  readonly cache: DirectoryCache;
  delivered: number;
  readonly pending: Array<{ readonly command: Write; redirects: number }>;
}

/** Where the mover stands: the step it takes next. */
type MoverPhase = 'begin' | 'fence' | 'import' | 'mark' | 'complete' | 'finish' | 'done';

/** The single global registry the answers are compared with. */
class Reference {
  readonly holders = new Map<string, Pid>();

  apply(command: Write): string {
    const held = this.holders.get(command.name);
    if (command.op === 'register') {
      if (held !== undefined && !held.equals(command.pid)) return `name_taken:${held.key}`;
      this.holders.set(command.name, command.pid);
      return 'ok';
    }
    if (held !== undefined && !held.equals(command.pid)) return `not_owner:${held.key}`;
    this.holders.delete(command.name);
    return 'ok';
  }

  slotNames(): string[] {
    return [...this.holders].map(([name, pid]) => `${name}=${pid.key}`).sort();
  }
}

function answer(result: GlobalResult): string {
  if (result.ok) return 'ok';
  if (result.code === 'name_taken') return `name_taken:${result.holder.key}`;
  if (result.code === 'not_owner') return `not_owner:${result.holder?.key ?? '-'}`;
  return result.code;
}

function slotNames(global: GlobalNames): string[] {
  return global
    .registered()
    .filter(([name]) => slotOf(name) === SLOT)
    .map(([name, entry]) => `${name}=${entry.pid.key}`)
    .sort();
}

class World {
  readonly directory = new Directory();
  readonly events: DirectoryEvent[] = [];
  readonly groups = new Map<GroupId, GroupSim>();
  readonly clients: ClientSim[] = [];
  readonly reference = new Reference();
  /** Moves to run, one after the other: there and back. */
  readonly targets: GroupId[] = ['g1', 'root'];
  phase: MoverPhase = 'begin';
  move: SlotMove | undefined;
  fenced: ReadonlyArray<readonly [string, GlobalEntry]> = [];
  aborted = false;
  served = 0;
  aborts = 0;

  constructor() {
    this.directory.onChange((event) => this.events.push(event));
    this.#directory({ op: 'create_root', group: 'root', gateways: [] });
    this.#directory({ op: 'add_group', group: 'g1', gateways: [] });
    for (const id of GROUPS) {
      const view = new DirectoryCache();
      view.applySnapshot(this.directory.snapshot());
      this.groups.set(id, { id, global: new GlobalNames(), view, delivered: this.events.length, index: 0 });
    }
    this.#global('root', { op: 'claim_all' });
    for (let index = 0; index < 2; index++) {
      const cache = new DirectoryCache();
      cache.applySnapshot(this.directory.snapshot());
      this.clients.push({ cache, delivered: this.events.length, pending: [] });
    }
  }

  #directory(command: DirectoryCommand): DirectoryResult {
    return this.directory.apply(this.directory.appliedIndex + 1, command);
  }

  /** Apply a command to a group's log (its own index sequence). */
  #global(id: GroupId, command: GlobalCommand): GlobalResult {
    const group = this.group(id);
    return group.global.apply(++group.index, command).value as GlobalResult;
  }

  group(id: GroupId): GroupSim {
    return this.groups.get(id) as GroupSim;
  }

  deliverToGroup(id: GroupId): void {
    const group = this.group(id);
    const event = this.events[group.delivered];
    if (event === undefined) return;
    expect(group.view.applyEvent(event)).toBe('applied');
    group.delivered++;
  }

  deliverToClient(client: ClientSim): void {
    const event = this.events[client.delivered];
    if (event === undefined) return;
    client.cache.applyEvent(event);
    client.delivered++;
  }

  /** The root's leader aborts the move in progress (as stalled), wherever the mover is. */
  abortMove(): void {
    const current = this.directory.moveOf(SLOT);
    if (current === undefined) return;
    if (this.#directory({ op: 'abort_move', slot: SLOT, moveRevision: current.revision }).ok) this.aborts++;
  }

  /** Each group's reconciler, with its own (lagging) view. */
  reconcile(id: GroupId): void {
    const group = this.group(id);
    const steps = reconcileSteps(group.global.slots(), group.view, id);
    for (const op of ['accept', 'unfence', 'drop'] as const) if (steps[op].length > 0) this.#global(id, { op, steps: steps[op] });
  }

  /** One step of the mover, as `Federation#runMoveBatch` takes them. */
  stepMover(): void {
    const to = this.targets[0];
    if (to === undefined) return;
    const move = this.move;
    switch (this.phase) {
      case 'begin': {
        const began = this.#directory({ op: 'begin_move', slot: SLOT, to });
        if (!began.ok) return; // e.g. a move still in progress: try again later
        this.move = this.directory.moveOf(SLOT);
        this.phase = 'fence';
        return;
      }
      case 'fence': {
        const fenced = this.#global(move!.from, { op: 'fence', steps: [{ slot: SLOT, moveRevision: move!.revision }] });
        const entries = fenced.ok ? fenced.entries?.find(([slot]) => slot === SLOT)?.[1] : undefined;
        if (entries === undefined) return this.#giveUp();
        this.fenced = entries;
        this.phase = 'import';
        return;
      }
      case 'import': {
        const imported = this.#global(move!.to, { op: 'import_batch', imports: [{ slot: SLOT, moveRevision: move!.revision, entries: this.fenced }] });
        if (!imported.ok || imported.applied?.includes(SLOT) !== true) return this.#giveUp();
        this.phase = 'mark';
        return;
      }
      case 'mark':
      case 'complete': {
        const op = this.phase === 'mark' ? 'mark_copied' : 'complete_move';
        if (!this.#directory({ op, slot: SLOT, moveRevision: move!.revision }).ok) return this.#giveUp();
        this.phase = this.phase === 'mark' ? 'complete' : 'finish';
        return;
      }
      case 'finish':
        this.#finish(move!);
        this.targets.shift();
        this.move = undefined;
        this.phase = this.targets.length > 0 ? 'begin' : 'done';
        return;
      case 'done':
        return;
    }
  }

  /** A refused step: make sure the move ended (abort), undo it as the directory decides, try the move again. */
  #giveUp(): void {
    const move = this.move!;
    this.#directory({ op: 'abort_move', slot: SLOT, moveRevision: move.revision });
    this.#finish(move);
    this.move = undefined;
    this.phase = 'begin';
  }

  /** `Federation#finishMoves`: the last steps, as `moveOutcome` says. */
  #finish(move: SlotMove): void {
    const outcome = moveOutcome(this.directory, move);
    expect(outcome).not.toBe('in_progress');
    const step = [{ slot: SLOT, moveRevision: move.revision }];
    if (outcome === 'completed') {
      this.#global(move.to, { op: 'accept', steps: step });
      this.#global(move.from, { op: 'drop', steps: step });
    } else if (outcome === 'aborted') {
      this.#global(move.from, { op: 'unfence', steps: step });
      this.#global(move.to, { op: 'drop', steps: step });
    } else {
      this.#global(move.from, { op: 'drop', steps: step });
      this.#global(move.to, { op: 'drop', steps: step });
    }
  }

  request(client: ClientSim, command: Write): void {
    if (client.pending.length >= PENDING_MAX) return;
    client.pending.push({ command, redirects: 0 });
    this.retry(client);
  }

  /** One attempt of the client's oldest request at the group its cache names as home. */
  retry(client: ClientSim): void {
    const request = client.pending[0];
    if (request === undefined) return;
    const here = client.cache.homeOf(request.command.name) ?? 'root';
    const group = this.group(here);
    const result = this.#global(here, request.command);
    if (result.ok || result.code !== 'not_home') {
      // The group's log owned the slot: served. The answer must be the global registry's.
      expect(answer(result)).toBe(this.reference.apply(request.command));
      this.served++;
      client.pending.shift();
      return;
    }
    const decision = routeSlot(group.view, here, SLOT, 'write');
    if (decision.action === 'moved') {
      client.cache.applyMoved(decision as MovedAnswer);
      // Past the redirect budget the request fails as unavailable, never applied: fine for safety.
      if (++request.redirects > MOVED_REDIRECTS_MAX) client.pending.shift();
    }
  }

  /** (1) and (3), judged by each group's own log. */
  checkSafety(): void {
    const owners = GROUPS.filter((id) => this.group(id).global.slotState(SLOT) === 'owned');
    expect(owners.length).toBeLessThanOrEqual(1);
    for (const id of owners) expect(slotNames(this.group(id).global)).toEqual(this.reference.slotNames());
  }
}

type Step =
  | { kind: 'mover' }
  | { kind: 'abort' }
  | { kind: 'reconcile'; group: number }
  | { kind: 'deliver_group'; group: number }
  | { kind: 'deliver_client'; client: number }
  | { kind: 'request'; client: number; register: boolean; name: number; pid: number }
  | { kind: 'retry'; client: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('mover' as const) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('abort' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('reconcile' as const), group: fc.nat(1) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('deliver_group' as const), group: fc.nat(1) }), weight: 2 },
  fc.record({ kind: fc.constant('deliver_client' as const), client: fc.nat(1) }),
  { arbitrary: fc.record({ kind: fc.constant('request' as const), client: fc.nat(1), register: fc.boolean(), name: fc.nat(NAMES.length - 1), pid: fc.nat(PIDS.length - 1) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('retry' as const), client: fc.nat(1) }), weight: 2 },
);

function run(world: World, step: Step): void {
  switch (step.kind) {
    case 'mover':
      return world.stepMover();
    case 'abort':
      return world.abortMove();
    case 'reconcile':
      return world.reconcile(GROUPS[step.group] as GroupId);
    case 'deliver_group':
      return world.deliverToGroup(GROUPS[step.group] as GroupId);
    case 'deliver_client':
      return world.deliverToClient(world.clients[step.client] as ClientSim);
    case 'request': {
      const name = NAMES[step.name] as string;
      const pid = PIDS[step.pid] as Pid;
      return world.request(world.clients[step.client] as ClientSim, step.register ? { op: 'register', name, pid, group: 'root' } : { op: 'unregister', name, pid });
    }
    case 'retry':
      return world.retry(world.clients[step.client] as ClientSim);
  }
}

/** Heal: deliver everything, reconcile, finish the mover, drain every request. Bounded. */
function finish(world: World): void {
  for (let round = 0; round < FINISH_ROUNDS_MAX; round++) {
    for (const id of GROUPS) while (world.group(id).delivered < world.events.length) world.deliverToGroup(id);
    for (const client of world.clients) while (client.delivered < world.events.length) world.deliverToClient(client);
    for (const id of GROUPS) world.reconcile(id);
    world.stepMover();
    for (const client of world.clients) world.retry(client);
    world.checkSafety();
    if (world.phase === 'done' && world.clients.every((client) => client.pending.length === 0)) return;
  }
  expect.fail('the simulation did not finish within its bound');
}

describe('handover — a slot move under concurrent registrations and aborts', () => {
  it('never two owning logs, answers equal one global registry, nothing lost', () => {
    let servedTotal = 0;
    let abortsTotal = 0;
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 20, maxLength: 150 }), (steps) => {
        const world = new World();
        for (const step of steps) {
          run(world, step);
          world.checkSafety();
        }
        finish(world);
        servedTotal += world.served;
        abortsTotal += world.aborts;
        const owner = world.directory.ownerOf(SLOT) as GroupId;
        expect(owner).toBe('root');
        for (const id of GROUPS) expect({ id, state: world.group(id).global.slotState(SLOT) }).toEqual({ id, state: id === owner ? 'owned' : undefined });
        expect(slotNames(world.group(owner).global)).toEqual(world.reference.slotNames());
        expect(slotNames(world.group('g1').global)).toEqual([]);
      }),
      { numRuns: 300, seed: 20_240_601 },
    );
    // The runs served writes and really aborted moves under the mover.
    expect(servedTotal).toBeGreaterThan(1_000);
    expect(abortsTotal).toBeGreaterThan(50);
  });

  it('a register at the source after the fence waits (not_home) instead of being accepted', () => {
    const world = new World();
    const client = world.clients[0] as ClientSim;
    world.stepMover(); // begin
    world.stepMover(); // the source's log fences the slot
    world.request(client, { op: 'register', name: '{hot}a', pid: PIDS[0] as Pid, group: 'root' });
    expect(client.pending).toHaveLength(1);
    expect(world.group('root').global.whereis('{hot}a')).toBeUndefined();
    while (world.phase !== 'begin' || world.targets.length === 2) world.stepMover(); // import, mark, complete, finish
    while (world.group('root').delivered < world.events.length) world.deliverToGroup('root');
    world.retry(client); // root answers moved → g1
    expect(client.cache.homeOf('{hot}a')).toBe('g1');
    world.retry(client); // g1's log owns the slot and serves
    expect(client.pending).toHaveLength(0);
    expect(world.group('g1').global.whereis('{hot}a')?.pid.equals(PIDS[0])).toBe(true);
  });

  it('a move aborted after mark_copied is undone: the source owns its names again, the destination drops its copy', () => {
    const world = new World();
    const client = world.clients[0] as ClientSim;
    world.request(client, { op: 'register', name: '{hot}b', pid: PIDS[1] as Pid, group: 'root' });
    for (let step = 0; step < 4; step++) world.stepMover(); // begin, fence, import, mark_copied
    expect(world.phase).toBe('complete');
    world.abortMove(); // the root's leader, as stalled
    world.stepMover(); // complete_move is refused → abort, undo by moveOutcome
    world.checkSafety();
    expect(world.group('root').global.slotState(SLOT)).toBe('owned');
    expect(world.group('g1').global.slotState(SLOT)).toBeUndefined();
    expect(slotNames(world.group('root').global)).toEqual([`{hot}b=${(PIDS[1] as Pid).key}`]);
  });
});
