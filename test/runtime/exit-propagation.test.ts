// Exit-signal propagation against a model: random link graphs of processes, some trapping
// exits, get one exit signal from outside (kill, normal, shutdown or an error); the set of
// processes that die, their reasons, and every EXIT message a trapping process receives must
// match Erlang's rules (a model computed separately). Property-based, with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Node } from '../../runtime/node.js';
import type { Pid } from '../../runtime/pid.js';
import { isExitMessage } from '../../runtime/process.js';
import type { ExitReason } from '../../runtime/signals.js';
import { settle } from './runtime-helpers.js';

interface Scenario {
  readonly trapping: boolean[];
  readonly edges: Array<[number, number]>;
  readonly victim: number;
  readonly reason: ExitReason;
}

interface Outcome {
  readonly reasons: Array<ExitReason | 'alive'>;
  /** Per process: "from index:reason" of each EXIT message received, sorted. */
  readonly exits: string[][];
}

const OUTSIDE = 'outside';

function describeReason(reason: ExitReason): string {
  return typeof reason === 'string' ? reason : JSON.stringify(reason);
}

/** Erlang's rules, computed directly on the graph. */
function model(scenario: Scenario): Outcome {
  const count = scenario.trapping.length;
  const neighbours = Array.from({ length: count }, () => new Set<number>());
  for (const [a, b] of scenario.edges) {
    if (a === b) continue;
    neighbours[a]?.add(b);
    neighbours[b]?.add(a);
  }
  const reasons: Array<ExitReason | 'alive'> = Array.from({ length: count }, () => 'alive');
  const exits: string[][] = Array.from({ length: count }, () => []);
  const { victim, reason } = scenario;
  let deathReason: ExitReason | undefined;
  if (reason === 'kill') deathReason = 'killed';
  else if (scenario.trapping[victim]) exits[victim]?.push(`${OUTSIDE}:${describeReason(reason)}`);
  else if (reason !== 'normal') deathReason = reason;
  if (deathReason !== undefined) {
    const queue = [victim];
    reasons[victim] = deathReason;
    while (queue.length > 0) {
      const dying = queue.shift() as number;
      for (const other of neighbours[dying] ?? []) {
        if (reasons[other] !== 'alive') continue;
        if (scenario.trapping[other]) {
          exits[other]?.push(`${dying}:${describeReason(deathReason)}`);
        } else {
          reasons[other] = deathReason;
          queue.push(other);
        }
      }
    }
  }
  return { reasons, exits: exits.map((list) => list.sort()) };
}

async function run(scenario: Scenario): Promise<Outcome> {
  const node = new Node({ name: 'model@127.0.0.1', stopTimeoutMs: 1 });
  const count = scenario.trapping.length;
  const exits: string[][] = Array.from({ length: count }, () => []);
  const reasons: Array<ExitReason | 'alive'> = Array.from({ length: count }, () => 'alive');
  const pids: Pid[] = [];
  const indexOf = (pid: Pid): string => {
    const index = pids.findIndex((candidate) => candidate.equals(pid));
    return index < 0 ? OUTSIDE : String(index);
  };
  try {
    for (let index = 0; index < count; index++) {
      pids.push(
        node.spawn(
          async (ctx) => {
            for (;;) {
              const msg = await ctx.receive();
              if (isExitMessage(msg)) exits[index]?.push(`${indexOf(msg.from)}:${describeReason(msg.reason)}`);
              else ctx.link(msg as Pid);
            }
          },
          { trapExit: scenario.trapping[index] === true },
        ),
      );
    }
    // Signals are delivered synchronously: once `collect` arrives, every DOWN is queued.
    let reportPid!: (pid: Pid) => void;
    const watcherPid = new Promise<Pid>((resolve) => {
      reportPid = resolve;
    });
    const watcher = node.run(async (ctx) => {
      reportPid(ctx.self);
      const refs = pids.map((pid) => ctx.monitor(pid));
      await ctx.receive((msg) => msg === 'collect');
      for (;;) {
        const msg = await ctx.receive(undefined, 0);
        if (typeof msg === 'symbol') return;
        const down = msg as { ref: unknown; reason: ExitReason };
        const index = refs.findIndex((ref) => ref === down.ref);
        if (index >= 0) reasons[index] = down.reason;
      }
    });
    for (const [a, b] of scenario.edges) node.send(pids[a] as Pid, pids[b] as Pid);
    await settle();
    node.exit(pids[scenario.victim] as Pid, scenario.reason);
    node.send(await watcherPid, 'collect');
    await watcher;
    // Copies: node.stop() below sends more EXITs to the survivors.
    return { reasons: [...reasons], exits: exits.map((list) => [...list].sort()) };
  } finally {
    await node.stop();
  }
}

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .integer({ min: 1, max: 7 })
  .chain((count) =>
    fc.record({
      trapping: fc.array(fc.boolean(), { minLength: count, maxLength: count }),
      edges: fc.array(fc.tuple(fc.nat(count - 1), fc.nat(count - 1)), { maxLength: count * 2 }),
      victim: fc.nat(count - 1),
      reason: fc.constantFrom<ExitReason>('kill', 'normal', 'shutdown', { error: 'boom' }),
    }),
  );

describe('exit propagation — matches the model', () => {
  it('random link graphs, trapping sets and reasons', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, async (scenario) => {
        expect(await run(scenario)).toEqual(model(scenario));
      }),
      { numRuns: 60 },
    );
  });
});
