// The deliberately unsafe `early-ack` mode (test-only, for jepsen-lite's teeth), in-process
// members on real TCP: it acknowledges a registration once its entry is appended locally, with
// the answer the state machine gives at that point of the log — so WITHOUT faults it answers
// exactly as the safe mode does (concurrent registrations of one name: one ok, the rest
// name_taken; a re-registration by the holder is idempotent) — and only a fault makes it lie:
// a leader cut off from its followers acknowledges a registration that never commits.
import { afterEach, describe, expect, it } from 'vitest';
import { isFedError } from '../../runtime/index.js';
import { GroupCluster, eventually, heal, idleProcess, isolate } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

const EARLY_ACK = { unsafe: 'early-ack' } as const;

describe('group unsafe early-ack — answers as the state machine would', () => {
  it('without faults: one of many concurrent registrations of a name wins, the others get name_taken', async () => {
    const all = await cluster.three(EARLY_ACK);
    for (let round = 0; round < 5; round++) {
      const attempts = all.flatMap((member) =>
        [0, 1, 2].map(() =>
          member.group.register(`contended-${round}`, idleProcess(member.node)).then(
            () => 'ok',
            (error: unknown) => (isFedError(error, 'name_taken') ? 'taken' : `other:${String(error)}`),
          ),
        ),
      );
      const outcomes = await Promise.all(attempts);
      expect(outcomes.filter((outcome) => outcome === 'ok'), `round ${round}`).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome === 'taken'), `round ${round}`).toHaveLength(8);
    }
    // The acknowledged holder is the committed one.
    const [a] = all;
    const pid = idleProcess(a!.node);
    const { revision } = await a!.group.register('mine', pid);
    await expect(a!.group.register('mine', pid)).resolves.toEqual({ revision });
    const committed = await all[2]!.group.whereis('mine', { consistency: 'linearizable' });
    expect(committed?.revision).toBe(revision);
  });

  it('with a fault it lies: a cut-off leader acknowledges a registration that never commits', async () => {
    const [a, b, c] = await cluster.three({ ...EARLY_ACK, nameDownGraceMs: 60_000, voterDownGraceMs: 60_000 });
    isolate(cluster, a!);
    const acknowledged = await a!.group.register('phantom', idleProcess(a!.node));
    expect(acknowledged.revision).toBeGreaterThan(0);
    const leader = await eventually('a new leader', () => [b!, c!].find((member) => member.group.status().role === 'leader'));
    await leader.group.register('real', idleProcess(leader.node));
    heal(cluster);
    await eventually('a follows the new leader', () => a!.group.status().leader === leader.name && a!.group.whereisLocal('real') !== undefined);
    for (const member of [a!, b!, c!]) expect(await member.group.whereis('phantom', { consistency: 'linearizable' })).toBeUndefined();
  });
});
