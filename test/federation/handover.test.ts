// A slot moving between groups while clients keep registering and unregistering names in it.
// Pure simulation, one seed per run (fast-check picks the interleaving): two groups each with
// the real name-registry state machine and a directory view that lags (watch events delivered
// one at a time, in order, whenever the schedule says), clients whose caches learn only from
// `moved` answers and late events, and a mover that runs the protocol of federation/routing.ts:
// begin (fence) → the source learns the fence → copy → mark_copied → complete → the source
// learns the switch → release; sometimes aborted and restarted, then moved back.
// It proves: (1) at every step at most one group accepts writes for the slot, judged by the
// groups' own lagging views; (2) every register/unregister a group serves gives the answer a
// single global registry gives for the same sequence (linearizable, no duplicate holder);
// (3) the group that accepts writes holds exactly the reference's names of that slot, so no
// acknowledged registration is ever lost; and (4) after the schedule all requests complete.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Directory, type DirectoryCommand, type DirectoryEvent, type GroupId } from '../../federation/directory.js';
import { DirectoryCache, MOVED_REDIRECTS_MAX, routeRequest, routeSlot, type MovedAnswer } from '../../federation/routing.js';
import { slotOf } from '../../federation/slots.js';
import { NameRegistry, type RegistryCommand, type RegistryResult } from '../../registry/names.js';
import { Pid } from '../../runtime/pid.js';

const HOT_NAMES = ['{hot}a', '{hot}b', '{hot}c', 'cold'];
const SLOT = slotOf('hot');
const PIDS = [new Pid('a@127.0.0.1', 1, 1), new Pid('b@127.0.0.1', 2, 1), new Pid('c@127.0.0.1', 3, 1)];
const GROUPS: GroupId[] = ['root', 'g1'];
const PENDING_MAX = 4;
const FINISH_ROUNDS_MAX = 200;

interface GroupSim {
  readonly id: GroupId;
  readonly view: DirectoryCache;
  readonly registry: NameRegistry;
  delivered: number;
}

interface Request {
  readonly command: Extract<RegistryCommand, { op: 'register' | 'unregister' }>;
  redirects: number;
}

interface ClientSim {
  readonly cache: DirectoryCache;
  delivered: number;
  readonly pending: Request[];
}

type MoverPhase = 'begin' | 'await_fence' | 'copy' | 'mark' | 'complete' | 'await_switch' | 'release' | 'done';

class World {
  readonly directory = new Directory();
  readonly events: DirectoryEvent[] = [];
  readonly groups = new Map<GroupId, GroupSim>();
  readonly clients: ClientSim[] = [];
  readonly reference = new NameRegistry();
  readonly targets: GroupId[] = ['g1', 'root'];
  phase: MoverPhase = 'begin';
  moveRevision = 0;
  abortsLeft: number;
  served = 0;

  constructor(aborts: number) {
    this.abortsLeft = aborts;
    this.directory.onChange((event) => this.events.push(event));
    this.#admin({ op: 'create_root', group: 'root', gateways: [] });
    this.#admin({ op: 'add_group', group: 'g1', gateways: [] });
    for (const id of GROUPS) {
      const view = new DirectoryCache();
      view.applySnapshot(this.directory.snapshot());
      this.groups.set(id, { id, view, registry: new NameRegistry(), delivered: this.events.length });
    }
    for (let index = 0; index < 2; index++) {
      const cache = new DirectoryCache();
      cache.applySnapshot(this.directory.snapshot());
      this.clients.push({ cache, delivered: this.events.length, pending: [] });
    }
  }

  #admin(command: DirectoryCommand): number {
    const result = this.directory.apply(this.directory.appliedIndex + 1, command);
    if (!result.ok) throw new Error(`${command.op} refused: ${result.code}`);
    return result.revision;
  }

  group(id: GroupId): GroupSim {
    return this.groups.get(id) as GroupSim;
  }

  deliverToGroup(id: GroupId): void {
    const sim = this.group(id);
    const event = this.events[sim.delivered];
    if (event === undefined) return;
    expect(sim.view.applyEvent(event)).toBe('applied');
    sim.delivered++;
  }

  deliverToClient(client: ClientSim): void {
    const event = this.events[client.delivered];
    if (event === undefined) return;
    client.cache.applyEvent(event);
    client.delivered++;
  }

  // The mover: one protocol step per call.
  stepMover(): void {
    const to = this.targets[0];
    if (to === undefined) return;
    const from = to === 'g1' ? 'root' : 'g1';
    switch (this.phase) {
      case 'begin':
        this.moveRevision = this.#admin({ op: 'begin_move', slot: SLOT, to, expectedFrom: from });
        this.phase = 'await_fence';
        return;
      case 'await_fence':
        if (this.group(from).view.revision < this.moveRevision) this.deliverToGroup(from);
        else this.phase = 'copy';
        return;
      case 'copy':
        this.#copy(from, to);
        this.phase = 'mark';
        return;
      case 'mark':
        this.#admin({ op: 'mark_copied', slot: SLOT, moveRevision: this.moveRevision });
        this.phase = 'complete';
        return;
      case 'complete':
        if (this.abortsLeft > 0) return this.#abort(to);
        this.#admin({ op: 'complete_move', slot: SLOT, moveRevision: this.moveRevision });
        this.phase = 'await_switch';
        return;
      case 'await_switch':
        if (this.group(from).view.moveOf(SLOT) !== undefined) this.deliverToGroup(from);
        else this.phase = 'release';
        return;
      case 'release':
        this.#dropSlot(from);
        this.targets.shift();
        this.phase = this.targets.length > 0 ? 'begin' : 'done';
        return;
      case 'done':
        return;
    }
  }

  #abort(to: GroupId): void {
    this.abortsLeft--;
    this.#admin({ op: 'abort_move', slot: SLOT, moveRevision: this.moveRevision });
    this.#dropSlot(to);
    this.phase = 'begin';
  }

  #copy(from: GroupId, to: GroupId): void {
    const target = this.group(to).registry;
    for (const [name, entry] of this.group(from).registry.registered()) {
      if (slotOf(name) !== SLOT) continue;
      const result = target.apply(target.appliedIndex + 1, { op: 'register', name, pid: entry.pid, meta: { ...entry.meta } });
      expect(result.ok).toBe(true);
    }
  }

  #dropSlot(id: GroupId): void {
    const registry = this.group(id).registry;
    for (const [name, entry] of registry.registered()) {
      if (slotOf(name) === SLOT) registry.apply(registry.appliedIndex + 1, { op: 'unregister', name, pid: entry.pid });
    }
  }

  request(client: ClientSim, command: Request['command']): void {
    if (client.pending.length >= PENDING_MAX) return;
    client.pending.push({ command, redirects: 0 });
    this.retry(client);
  }

  /** One attempt of the client's oldest request. */
  retry(client: ClientSim): void {
    const request = client.pending[0];
    if (request === undefined) return;
    const here = client.cache.homeOf(request.command.name) ?? 'root';
    const sim = this.group(here);
    const decision = routeRequest(sim.view, here, request.command.name, 'write');
    if (decision.action === 'serve') {
      const result = sim.registry.apply(sim.registry.appliedIndex + 1, request.command);
      const expected = this.reference.apply(this.reference.appliedIndex + 1, request.command);
      expect(summary(result)).toEqual(summary(expected));
      this.served++;
      client.pending.shift();
    } else if (decision.action === 'moved') {
      client.cache.applyMoved(decision as MovedAnswer);
      request.redirects++;
      // Past the redirect budget the request fails as unavailable, never applied: fine for safety.
      if (request.redirects > MOVED_REDIRECTS_MAX) client.pending.shift();
    }
  }

  /** (1) and (3): judged by each group's own view. */
  checkSafety(): void {
    const accepting = GROUPS.filter((id) => routeSlot(this.group(id).view, id, SLOT, 'write').action === 'serve');
    expect(accepting.length).toBeLessThanOrEqual(1);
    for (const id of accepting) expect(slotNames(this.group(id).registry)).toEqual(slotNames(this.reference));
  }
}

function summary(result: RegistryResult): string {
  if (result.ok) return 'ok';
  return result.code === 'name_taken' ? `name_taken:${result.holder.key}` : result.code === 'not_owner' ? `not_owner:${result.holder?.key ?? '-'}` : result.code;
}

function slotNames(registry: NameRegistry): string[] {
  return registry.registered().filter(([name]) => slotOf(name) === SLOT).map(([name, entry]) => `${name}=${entry.pid.key}`);
}

type Step =
  | { kind: 'mover' }
  | { kind: 'deliver_group'; group: number }
  | { kind: 'deliver_client'; client: number }
  | { kind: 'request'; client: number; register: boolean; name: number; pid: number }
  | { kind: 'retry'; client: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('mover' as const) }), weight: 3 },
  fc.record({ kind: fc.constant('deliver_group' as const), group: fc.nat(1) }),
  fc.record({ kind: fc.constant('deliver_client' as const), client: fc.nat(1) }),
  { arbitrary: fc.record({ kind: fc.constant('request' as const), client: fc.nat(1), register: fc.boolean(), name: fc.nat(HOT_NAMES.length - 1), pid: fc.nat(PIDS.length - 1) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('retry' as const), client: fc.nat(1) }), weight: 2 },
);

function run(world: World, step: Step): void {
  switch (step.kind) {
    case 'mover':
      return world.stepMover();
    case 'deliver_group':
      return world.deliverToGroup(GROUPS[step.group] as GroupId);
    case 'deliver_client':
      return world.deliverToClient(world.clients[step.client] as ClientSim);
    case 'request': {
      const name = HOT_NAMES[step.name] as string;
      const pid = PIDS[step.pid] as Pid;
      return world.request(world.clients[step.client] as ClientSim, step.register ? { op: 'register', name, pid } : { op: 'unregister', name, pid });
    }
    case 'retry':
      return world.retry(world.clients[step.client] as ClientSim);
  }
}

/** Heal: deliver everything, finish the mover, drain every request. Bounded. */
function finish(world: World): void {
  for (let round = 0; round < FINISH_ROUNDS_MAX; round++) {
    for (const id of GROUPS) while (world.group(id).delivered < world.events.length) world.deliverToGroup(id);
    for (const client of world.clients) while (client.delivered < world.events.length) world.deliverToClient(client);
    world.stepMover();
    for (const client of world.clients) world.retry(client);
    world.checkSafety();
    if (world.phase === 'done' && world.clients.every((client) => client.pending.length === 0)) return;
  }
  expect.fail('the simulation did not finish within its bound');
}

describe('handover — a slot move under concurrent registrations', () => {
  it('never two accepting groups, answers equal one global registry, nothing lost', () => {
    let servedTotal = 0;
    fc.assert(
      fc.property(fc.nat(1), fc.array(stepArbitrary, { minLength: 20, maxLength: 120 }), (aborts, steps) => {
        const world = new World(aborts);
        for (const step of steps) {
          run(world, step);
          world.checkSafety();
        }
        finish(world);
        servedTotal += world.served;
        const owner = world.directory.ownerOf(SLOT) as GroupId;
        expect(owner).toBe('root');
        expect(slotNames(world.group(owner).registry)).toEqual(slotNames(world.reference));
        expect(slotNames(world.group('g1').registry)).toEqual([]);
        expect(world.group('root').registry.whereis('cold')?.pid.key).toBe(world.reference.whereis('cold')?.pid.key);
      }),
      { numRuns: 200 },
    );
    expect(servedTotal).toBeGreaterThan(1_000);
  });

  it('a register at the source after the fence waits instead of being accepted', () => {
    const world = new World(0);
    const client = world.clients[0] as ClientSim;
    world.stepMover(); // begin: the slot is fenced in the directory
    while (world.phase === 'await_fence') world.stepMover(); // the source learns the fence
    world.request(client, { op: 'register', name: '{hot}a', pid: PIDS[0] as Pid });
    expect(client.pending).toHaveLength(1);
    expect(world.group('root').registry.whereis('{hot}a')).toBeUndefined();
    while (world.targets.length === 2) world.stepMover(); // copy, mark, complete, switch, release
    while (world.group('g1').delivered < world.events.length) world.deliverToGroup('g1');
    world.retry(client); // root answers moved → g1
    expect(client.cache.homeOf('{hot}a')).toBe('g1');
    world.retry(client); // g1 now owns the slot and serves
    expect(client.pending).toHaveLength(0);
    expect(world.group('g1').registry.whereis('{hot}a')?.pid.equals(PIDS[0])).toBe(true);
  });
});
