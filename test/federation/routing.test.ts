// Routing decisions and the directory cache: serve / moved / wait / unavailable for every
// position of a group relative to a slot and its move; gateway choice by health tier and
// rendezvous spread with fail-over; and a cache that follows snapshots, watch events and
// `moved` answers delivered late, twice or out of order without ever going backwards (a
// fast-check property against the authoritative directory).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Directory, type DirectoryCommand, type DirectoryEvent, type DirectorySnapshot, type Gateway } from '../../federation/directory.js';
import {
  DirectoryCache,
  MOVE_WAIT_RETRY_MS,
  homeGroup,
  orderGateways,
  pickGateway,
  routeRequest,
  routeSlot,
  type GatewayHealth,
  type MovedAnswer,
} from '../../federation/routing.js';
import { SLOT_COUNT, slotOf } from '../../federation/slots.js';

const gw = (name: string): Gateway => ({ node: `${name}@127.0.0.1`, address: `127.0.0.1:${1000 + name.length}` });

function apply(directory: Directory, command: DirectoryCommand): number {
  const result = directory.apply(directory.appliedIndex + 1, command);
  if (!result.ok) throw new Error(`${command.op} refused: ${result.code}`);
  return result.revision;
}

function threeGroups(): Directory {
  const directory = new Directory();
  apply(directory, { op: 'create_root', group: 'root', gateways: [gw('r1'), gw('r2')] });
  apply(directory, { op: 'add_group', group: 'g1', gateways: [gw('a1'), gw('a2')] });
  apply(directory, { op: 'add_group', group: 'g2', gateways: [gw('b1')] });
  return directory;
}

describe('routing — decisions', () => {
  it('the owner serves; other groups answer moved with the owner, its record and the slot revision', () => {
    const directory = threeGroups();
    const slot = slotOf('svc');
    expect(homeGroup(directory, 'svc')).toBe('root');
    expect(routeRequest(directory, 'root', 'svc', 'write')).toEqual({ action: 'serve', slot });
    expect(routeRequest(directory, 'g1', 'svc', 'read')).toEqual({
      action: 'moved', slot, owner: 'root', slotRevision: 1, move: null, group: directory.group('root'),
    });
  });

  it('while a slot moves: writes wait at both sides, reads are served by the source only, third groups redirect', () => {
    const directory = threeGroups();
    const slot = slotOf('svc');
    const moveRevision = apply(directory, { op: 'begin_move', slot, to: 'g1' });
    const move = directory.moveOf(slot);
    for (const here of ['root', 'g1']) {
      expect(routeSlot(directory, here, slot, 'write')).toEqual({ action: 'wait', slot, move, retryAfterMs: MOVE_WAIT_RETRY_MS });
    }
    expect(routeSlot(directory, 'root', slot, 'read').action).toBe('serve');
    expect(routeSlot(directory, 'g1', slot, 'read')).toMatchObject({ action: 'moved', owner: 'root' });
    expect(routeSlot(directory, 'g2', slot, 'write')).toMatchObject({ action: 'moved', owner: 'root', slotRevision: moveRevision, move });
    apply(directory, { op: 'mark_copied', slot, moveRevision });
    expect(routeSlot(directory, 'g1', slot, 'write').action).toBe('wait');
    apply(directory, { op: 'complete_move', slot, moveRevision });
    expect(routeSlot(directory, 'g1', slot, 'write').action).toBe('serve');
    expect(routeSlot(directory, 'root', slot, 'read')).toMatchObject({ action: 'moved', owner: 'g1', slotRevision: moveRevision + 2 });
  });

  it('answers unavailable before the directory knows the slot, and for slots out of range', () => {
    expect(routeRequest(new DirectoryCache(), 'g1', 'svc', 'read').action).toBe('unavailable');
    expect(routeSlot(threeGroups(), 'root', SLOT_COUNT, 'read').action).toBe('unavailable');
  });
});

describe('routing — gateway choice', () => {
  const gateways = ['g1', 'g2', 'g3'].map(gw);
  const allConnected = (): GatewayHealth => 'connected';

  it('prefers connected over alive over unknown, never down or excluded ones', () => {
    const health: Record<string, GatewayHealth> = { 'g1@127.0.0.1': 'unknown', 'g2@127.0.0.1': 'alive', 'g3@127.0.0.1': 'connected' };
    expect(orderGateways(gateways, 'x', (node) => health[node] as GatewayHealth).map((g) => g.node)).toEqual(['g3@127.0.0.1', 'g2@127.0.0.1', 'g1@127.0.0.1']);
    health['g3@127.0.0.1'] = 'down';
    expect(pickGateway(gateways, 'x', (node) => health[node] as GatewayHealth)?.node).toBe('g2@127.0.0.1');
    expect(pickGateway(gateways, 'x', (node) => health[node] as GatewayHealth, new Set(['g2@127.0.0.1']))?.node).toBe('g1@127.0.0.1');
    expect(pickGateway(gateways, 'x', () => 'down')).toBeUndefined();
  });

  it('spreads callers evenly and keeps each caller on the same gateway', () => {
    const uses = new Map<string, number>();
    for (let caller = 0; caller < 3_000; caller++) {
      const first = pickGateway(gateways, `n${caller}@h`, allConnected)?.node as string;
      expect(pickGateway(gateways, `n${caller}@h`, allConnected)?.node).toBe(first);
      uses.set(first, (uses.get(first) ?? 0) + 1);
    }
    for (const count of uses.values()) expect(Math.abs(count - 1_000)).toBeLessThan(150);
  });

  it('fail-over: losing a gateway moves only its callers, each to its next choice', () => {
    for (let caller = 0; caller < 500; caller++) {
      const order = orderGateways(gateways, `n${caller}@h`, allConnected);
      const lost = gateways[1] as Gateway;
      const after = pickGateway(gateways, `n${caller}@h`, (node) => (node === lost.node ? 'down' : 'connected'));
      expect(after).toEqual(order[0]?.node === lost.node ? order[1] : order[0]);
    }
  });
});

describe('routing — directory cache', () => {
  it('following every event reproduces the directory; duplicates are stale and a skipped event is a gap', () => {
    const directory = new Directory();
    const events: DirectoryEvent[] = [];
    directory.onChange((event) => events.push(event));
    apply(directory, { op: 'create_root', group: 'root', gateways: [gw('r1')] });
    apply(directory, { op: 'add_group', group: 'g1', gateways: [gw('a1')] });
    const moveRevision = apply(directory, { op: 'begin_move', slot: 3, to: 'g1' });
    apply(directory, { op: 'mark_copied', slot: 3, moveRevision });
    apply(directory, { op: 'complete_move', slot: 3, moveRevision });
    apply(directory, { op: 'begin_move', slot: 4, to: 'g1' });
    const cache = new DirectoryCache();
    expect(cache.applyEvent(events[1] as DirectoryEvent)).toBe('gap');
    for (const event of events) expect(cache.applyEvent(event)).toBe('applied');
    expect(cache.applyEvent(events[2] as DirectoryEvent)).toBe('stale');
    expect(cache.revision).toBe(directory.revision);
    expect(cache.groups()).toEqual(directory.groups());
    expect([cache.ownerOf(3), cache.ownerOf(4), cache.ownerOf(5)]).toEqual(['g1', 'root', 'root']);
    expect(cache.moveOf(4)).toEqual(directory.moveOf(4));
    expect(cache.rootGroup).toBe('root');
    expect(cache.homeOf('svc')).toBe(directory.ownerOf(slotOf('svc')));
  });

  it('a moved answer updates one slot ahead of the stream; older news never undoes it', () => {
    const directory = threeGroups();
    const cache = new DirectoryCache();
    const old = directory.snapshot();
    cache.applySnapshot(old);
    const slot = slotOf('svc');
    const moveRevision = apply(directory, { op: 'begin_move', slot, to: 'g2' });
    apply(directory, { op: 'mark_copied', slot, moveRevision });
    apply(directory, { op: 'complete_move', slot, moveRevision });
    const answer = routeSlot(directory, 'root', slot, 'write');
    expect(answer.action).toBe('moved');
    expect(cache.applyMoved(answer as MovedAnswer)).toBe(true);
    expect(cache.applyMoved(answer as MovedAnswer)).toBe(false);
    expect(cache.homeOf('svc')).toBe('g2');
    expect(cache.applySnapshot(old)).toBe('applied');
    expect(cache.homeOf('svc')).toBe('g2');
    expect(cache.applySnapshot(new Directory().snapshot())).toBe('stale');
    expect(cache.homeOf('svc')).toBe('g2');
  });

  it('property: late, repeated and reordered news keeps every slot monotone and converges to the directory', () => {
    const slots = [0, 1, 2];
    const group = fc.constantFrom('root', 'g1', 'g2');
    const slot = fc.constantFrom(...slots);
    const command = fc.oneof(
      fc.record({ op: fc.constant('begin_move' as const), slot, to: group }),
      fc.record({ op: fc.constant('mark_copied' as const), slot, moveRevision: fc.constant(0) }),
      fc.record({ op: fc.constant('complete_move' as const), slot, moveRevision: fc.constant(0) }),
      fc.record({ op: fc.constant('set_gateways' as const), group, gateways: fc.constant([gw('z')]) }),
    );
    type News = { kind: 'event'; event: DirectoryEvent } | { kind: 'snapshot'; snapshot: DirectorySnapshot } | { kind: 'moved'; answer: MovedAnswer };
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 30 }), fc.array(fc.nat(), { maxLength: 60 }), (commands, order) => {
        const directory = threeGroups();
        const news: News[] = [];
        directory.onChange((event) => news.push({ kind: 'event', event }));
        for (const generated of commands) {
          const move = 'moveRevision' in generated ? directory.moveOf(generated.slot) : undefined;
          const concrete = move === undefined ? generated : { ...generated, moveRevision: move.revision };
          directory.apply(directory.appliedIndex + 1, concrete);
          news.push({ kind: 'snapshot', snapshot: directory.snapshot() });
          for (const here of ['root', 'g1', 'g2']) {
            const answer = routeSlot(directory, here, 0, 'write');
            if (answer.action === 'moved') news.push({ kind: 'moved', answer });
          }
        }
        const cache = new DirectoryCache();
        const seen = new Array<number>(SLOT_COUNT).fill(0);
        const deliver = (item: News) => {
          if (item.kind === 'event') cache.applyEvent(item.event);
          else if (item.kind === 'snapshot') cache.applySnapshot(item.snapshot);
          else cache.applyMoved(item.answer);
          for (const checked of slots) {
            expect(cache.slotRevision(checked)).toBeGreaterThanOrEqual(seen[checked] as number);
            expect(cache.slotRevision(checked)).toBeLessThanOrEqual(directory.slotRevision(checked));
            seen[checked] = cache.slotRevision(checked);
          }
        };
        for (const pick of order) deliver(news[pick % news.length] as News);
        deliver({ kind: 'snapshot', snapshot: directory.snapshot() });
        for (const checked of slots) {
          expect(cache.ownerOf(checked)).toBe(directory.ownerOf(checked));
          expect(cache.moveOf(checked)).toEqual(directory.moveOf(checked));
        }
        expect(cache.groups()).toEqual(directory.groups());
      }),
      { numRuns: 100 },
    );
  });
});
