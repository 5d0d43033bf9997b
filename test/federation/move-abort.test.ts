// A slot move aborted under its mover, on real nodes (two groups over 127.0.0.1, one process).
// The root's leader aborts moves it sees stalled, while the mover (any root member) keeps
// going; here the abort is injected deterministically at the two dangerous points: right
// after the destination imported the slot (before `mark_copied`), and right after
// `mark_copied` (before `complete_move`). A sampler watches every member's own log meanwhile.
// It proves: the mover reports the slot refused (`move_aborted`) instead of moved; at no
// sampled instant do two groups' logs have the slot `owned`; afterwards the source owns it
// again, the destination holds no copy, and every name registered before the move is still
// found (linearizably, from both groups) and the slot takes new registrations.
import { afterEach, describe, expect, it } from 'vitest';
import type { GlobalNames } from '../../federation/index.js';
import { slotOf } from '../../federation/index.js';
import { createCluster, eventually, idleProcess, type Cluster, type Member } from './fixtures/cluster.js';

let cluster: Cluster;

afterEach(async () => {
  await cluster.closeAll();
});

const HOT_SLOT = slotOf('hot');

function globalOf(member: Member): GlobalNames {
  return member.group.state.extension('global') as GlobalNames;
}

/** Every 5 ms: the groups in which some member's log has the slot owned; more than one is a violation. */
function watchOwners(groups: Record<string, readonly Member[]>): { violations: string[]; stop(): void } {
  const violations: string[] = [];
  const timer = setInterval(() => {
    const owners = Object.entries(groups)
      .filter(([, members]) => members.some((member) => !member.closed && globalOf(member).slotState(HOT_SLOT) === 'owned'))
      .map(([id]) => id);
    if (owners.length > 1) violations.push(`slot owned in ${owners.join(' and ')}`);
  }, 5);
  return { violations, stop: () => clearInterval(timer) };
}

type AbortPoint = 'after_import' | 'after_mark_copied';

async function abortedMove(point: AbortPoint): Promise<void> {
  cluster = createCluster();
  const a = await cluster.startGroup('ga', ['a1', 'a2', 'a3'], { root: true });
  const b = await cluster.startGroup('gb', ['b1', 'b2'], { seeds: cluster.rootGatewayAddresses() });
  const holder = idleProcess(a[1]!.node);
  const names = ['{hot}n0', '{hot}n1', '{hot}n2'];
  for (const name of names) await a[1]!.federation.register(name, holder);

  // Inject the abort exactly once, at the chosen point, as the root's leader would.
  let injected = false;
  const abort = (moveRevision: number) => {
    if (injected) return;
    injected = true;
    void a[0]!.group.propose({ op: 'ext', ext: 'directory', cmd: { op: 'abort_move', slot: HOT_SLOT, moveRevision } });
  };
  const offs = [...a, ...b].map((member) =>
    member.group.onApply((event) => {
      if (event.type !== 'command' || event.command.op !== 'ext') return;
      const cmd = event.command.cmd as { op: string; slot?: number; moveRevision?: number; commands?: Array<{ op: string; slot: number; moveRevision: number }> };
      if (point === 'after_import' && event.command.ext === 'global' && cmd.op === 'import' && cmd.slot === HOT_SLOT) abort(cmd.moveRevision!);
      if (point === 'after_mark_copied' && event.command.ext === 'directory' && cmd.op === 'batch') {
        const marked = cmd.commands?.find((command) => command.op === 'mark_copied' && command.slot === HOT_SLOT);
        if (marked !== undefined) abort(marked.moveRevision);
      }
    }),
  );
  const sampler = watchOwners({ ga: a, gb: b });
  try {
    const report = await a[0]!.federation.moveSlotsReport([HOT_SLOT], 'gb');
    expect(injected).toBe(true);
    expect(report.moved).toEqual([]);
    expect(report.refused).toMatchObject([{ slot: HOT_SLOT, code: 'move_aborted' }]);
    await eventually('source owns the slot again, destination holds no copy', () =>
      a.every((member) => globalOf(member).slotState(HOT_SLOT) === 'owned') && b.every((member) => globalOf(member).slotState(HOT_SLOT) === undefined),
    );
    const summary = await a[0]!.federation.directory();
    expect(summary.moves).toEqual([]);
    expect(summary.slots).toEqual({ ga: 4_096 });
    for (const name of names) {
      for (const member of [a[2]!, b[1]!]) {
        const found = await member.federation.whereis(name, { consistency: 'linearizable' });
        expect({ name, holder: found?.pid.toString(), group: found?.group }).toEqual({ name, holder: holder.toString(), group: 'ga' });
      }
    }
    expect(b.flatMap((member) => member.federation.registeredHere('{hot}'))).toEqual([]);
    expect((await b[1]!.federation.register('{hot}after', idleProcess(b[1]!.node))).group).toBe('ga');
  } finally {
    sampler.stop();
    for (const off of offs) off();
  }
  expect(sampler.violations).toEqual([]);
}

describe('federation — a move aborted under its mover', () => {
  it('aborted after the destination imported: reported refused, undone, one owner throughout, no name lost', async () => {
    await abortedMove('after_import');
  });

  it('aborted after mark_copied: the mover neither accepts at the destination nor drops the source', async () => {
    await abortedMove('after_mark_copied');
  });
});
