/**
 * `npm run bench -- federation [sizes…]`: what federation costs as the cluster grows, beside a
 * single full mesh of the same nodes. Default sizes 100, 1,000 and 10,000 nodes in groups of up
 * to 50, with the code's default settings (2 gateways per group).
 *
 * How each row is obtained (the `how` column says which):
 * - `run`: the simulator (federation/sim/) builds the federation from real nodes — real
 *   `Node`, `Distribution` (sealed links, heartbeats), `Group` (Raft) and `Federation` per node —
 *   over a virtual in-process network on virtual time, spreads the slots (`rebalance`), then
 *   counts: connections per node as the network sees them; the messages of sampled
 *   registrations and uncached remote `whereis` (time stands still while one runs, so nothing
 *   periodic mixes in); and everything sent during an idle window.
 * - `computed`: the scale model (federation/scale-model.ts), whose formulas
 *   test/federation/scale-model.test.ts checks against simulated runs; used where a run does not
 *   fit this machine's time budget (10,000 nodes, and full meshes above `MESH_RUN_NODES_MAX`).
 *   Each run row is followed by the model's figures for it, so the two can be compared here too.
 *
 * Checks the targets and exits non-zero if one is missed: connections per node within
 * (group size − 1) + gateway links, members inside their group, and messages per registration
 * not growing with the number of groups.
 */
import { FEDERATION_DEFAULTS } from '../federation/federation.js';
import { defaultScaleParameters, modelFigures, type ModelFigures } from '../federation/scale-model.js';
import { FederationSim } from '../federation/sim/federation-sim.js';

const DEFAULT_SIZES = [100, 1_000, 10_000];
const GROUP_SIZE_MAX = 50;
/** Largest federation simulated (above: computed). 1,000 nodes take about a minute of CPU. */
const RUN_NODES_MAX = 1_000;
/** Largest single full mesh simulated (a mesh of n has n(n−1)/2 links). */
const MESH_RUN_NODES_MAX = 100;
const REGISTRATION_SAMPLES = 40;
const WHEREIS_SAMPLES = 40;
/**
 * Simulated idle window: a multiple of every link tick (1 s, 5 s) and of the Raft heartbeat.
 * Directory watches and holder resyncs come every 30 s: a run of up to `LONG_IDLE_NODES_MAX`
 * nodes watches 31 s so they are measured too; larger runs watch 5 s (CPU) and those 30-s
 * messages are left to the model (checked over a minute in scale-model.test.ts).
 */
const IDLE_WINDOW_MS = 5_000;
const LONG_IDLE_WINDOW_MS = 31_000;
const LONG_IDLE_NODES_MAX = 100;
const SEED = 1;
/** Simulated time between the sampled operations and the idle window. */
const QUIESCE_MS = 2 * FEDERATION_DEFAULTS.holderCheckMs;

interface Row {
  readonly nodes: number;
  readonly topology: 'federation' | 'full mesh';
  readonly how: 'run' | 'computed' | 'model of run';
  readonly groups: number;
  readonly connectionsMax: number;
  readonly connectionsMean: number;
  readonly memberConnectionsMax: number;
  readonly registrationMean: number;
  readonly registrationMax: number;
  readonly whereisMean: number;
  readonly linearizableMean: number;
  readonly linkHeartbeatsPerSecond: number;
  readonly raftHeartbeatsPerSecond: number;
  readonly otherIdlePerSecond: number;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function modelRow(model: ModelFigures, topology: Row['topology'], how: Row['how']): Row {
  return {
    nodes: model.nodes,
    topology,
    how,
    groups: model.groups,
    connectionsMax: model.connectionsMax,
    connectionsMean: model.connectionsMean,
    memberConnectionsMax: model.memberConnectionsMax,
    registrationMean: model.registrationMessagesMean,
    registrationMax: model.registrationMessagesMax,
    whereisMean: model.remoteWhereisMessagesMean,
    linearizableMean: model.linearizableWhereisMessagesMean,
    linkHeartbeatsPerSecond: model.linkHeartbeatsPerSecond,
    raftHeartbeatsPerSecond: model.raftHeartbeatsPerSecond,
    otherIdlePerSecond: model.federationIdleMessagesPerSecond,
  };
}

const realMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

/** Build and measure one simulated cluster (a single group when `groupSizeMax >= nodes`). */
async function run(nodes: number, groupSizeMax: number): Promise<{ row: Row; model: Row; notes: string[] }> {
  const topology: Row['topology'] = groupSizeMax >= nodes ? 'full mesh' : 'federation';
  const started = realMs();
  const cpu = process.cpuUsage();
  const sim = await FederationSim.build({
    nodes,
    groupSizeMax,
    seed: SEED,
    onPhase: (phase, simulatedMs) => console.error(`  ${nodes} ${topology}: ${phase} at ${(simulatedMs / 1000).toFixed(1)} s simulated, ${((realMs() - started) / 1000).toFixed(0)} s real`),
  });
  const notes: string[] = [];
  try {
    const connections = sim.connections();
    const registrations: number[] = [];
    const names: Array<{ name: string; home: string }> = [];
    let elapsedMs = 0;
    for (let sample = 0; sample < REGISTRATION_SAMPLES; sample++) {
      const counted = await sim.registration();
      registrations.push(counted.messages);
      names.push({ name: counted.name, home: counted.home });
      elapsedMs = Math.max(elapsedMs, counted.elapsedMs);
    }
    const whereis: number[] = [];
    const linearizable: number[] = [];
    if (sim.groupIds.length > 1) {
      for (const { name, home } of names.slice(0, WHEREIS_SAMPLES)) {
        // Each name is read once, by a client outside its home group: the first read is uncached.
        let client = sim.client().member;
        while (client.groupId === home) client = sim.client().member;
        const first = await sim.remoteWhereis(name, client, 'local');
        const strong = await sim.remoteWhereis(name, client, 'linearizable');
        whereis.push(first.messages);
        linearizable.push(strong.messages);
        elapsedMs = Math.max(elapsedMs, first.elapsedMs, strong.elapsedMs);
      }
    } else {
      for (const { name } of names.slice(0, WHEREIS_SAMPLES)) {
        const client = sim.client().member;
        whereis.push((await sim.count(() => client.federation.whereis(name))).messages);
        linearizable.push((await sim.count(() => client.federation.whereis(name, { consistency: 'linearizable' }))).messages);
      }
    }
    // The registrations above made new (home, holder) group pairs: let their first holder checks
    // (subscriptions) pass, so the idle window sees the steady state.
    await sim.time.advance(QUIESCE_MS);
    const idle = await sim.idle(nodes <= LONG_IDLE_NODES_MAX ? LONG_IDLE_WINDOW_MS : IDLE_WINDOW_MS);
    const raft = (idle.byKindPerSecond.get('raft heartbeat') ?? 0) + (idle.byKindPerSecond.get('raft heartbeat_response') ?? 0);
    const leadersAtGateways = sim.groupIds.filter((id) => sim.groups.get(id)!.some((member) => sim.isLeader(member) && sim.isGateway(member))).length;
    const row: Row = {
      nodes,
      topology,
      how: 'run',
      groups: sim.groupIds.length,
      connectionsMax: connections.max,
      connectionsMean: connections.mean,
      memberConnectionsMax: connections.memberMax,
      registrationMean: mean(registrations),
      registrationMax: Math.max(...registrations),
      whereisMean: mean(whereis),
      linearizableMean: mean(linearizable),
      linkHeartbeatsPerSecond: idle.linkHeartbeatsPerSecond,
      raftHeartbeatsPerSecond: raft,
      otherIdlePerSecond: idle.messagesPerSecond - raft,
    };
    const model = modelRow(modelFigures(defaultScaleParameters(nodes, groupSizeMax), sim.holderPairs()), topology, 'model of run');
    const usage = process.cpuUsage(cpu);
    notes.push(
      `${nodes} ${topology} (run): ${sim.groupIds.length} groups, ${connections.gateways} gateways (hidden links per gateway ≤ ${connections.hiddenMax}), ` +
        `leaders that are gateways ${leadersAtGateways}/${sim.groupIds.length}, ${sim.holderPairs()} holder group pairs; ` +
        `operations needed ${elapsedMs} ms of simulated time; built and measured in ${((realMs() - started) / 1000).toFixed(0)} s real, ` +
        `${((usage.user + usage.system) / 1e6).toFixed(0)} s CPU, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
    );
    const idleKinds = [...idle.byKindPerSecond].filter(([kind]) => !kind.startsWith('raft heartbeat')).map(([kind, rate]) => `${kind} ${rate.toFixed(2)}/s`);
    if (idleKinds.length > 0) notes.push(`  idle federation traffic: ${idleKinds.join(', ')}`);
    return { row, model, notes };
  } finally {
    await sim.close();
  }
}

function cell(value: number, digits = 0): string {
  return Number.isNaN(value) ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function printTable(rows: readonly Row[]): void {
  const header = ['nodes', 'topology', 'how', 'groups', 'conn max', 'conn mean', 'member conn max', 'msgs/registration', 'msgs/remote whereis', 'linearizable', 'link heartbeats/s', 'raft heartbeats/s', 'other idle msgs/s'];
  const cells = rows.map((row) => [
    cell(row.nodes),
    row.topology,
    row.how,
    cell(row.groups),
    cell(row.connectionsMax),
    cell(row.connectionsMean, 1),
    cell(row.memberConnectionsMax),
    `${cell(row.registrationMean, 1)} (max ${cell(row.registrationMax)})`,
    cell(row.whereisMean, 1),
    cell(row.linearizableMean, 1),
    cell(row.linkHeartbeatsPerSecond),
    cell(row.raftHeartbeatsPerSecond),
    cell(row.otherIdlePerSecond, 2),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => (line[column] ?? '').length)));
  const line = (values: string[]) => values.map((text, column) => text.padStart(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const values of cells) console.log(line(values));
}

export default async function (args: string[]): Promise<void> {
  const sizes = args.length > 0 ? args.map(Number) : DEFAULT_SIZES;
  const started = realMs();
  const rows: Row[] = [];
  const notes: string[] = [];
  const federations: Row[] = [];
  for (const nodes of sizes) {
    if (nodes <= RUN_NODES_MAX) {
      const measured = await run(nodes, GROUP_SIZE_MAX);
      rows.push(measured.row, measured.model);
      notes.push(...measured.notes);
      federations.push(measured.row);
    } else {
      const computed = modelRow(modelFigures(defaultScaleParameters(nodes, GROUP_SIZE_MAX)), 'federation', 'computed');
      rows.push(computed);
      federations.push(computed);
    }
    if (nodes <= MESH_RUN_NODES_MAX) {
      const measured = await run(nodes, nodes);
      rows.push(measured.row, measured.model);
      notes.push(...measured.notes);
    } else rows.push(modelRow(modelFigures(defaultScaleParameters(nodes, nodes)), 'full mesh', 'computed'));
  }
  console.log(
    `federation scale: groups of up to ${GROUP_SIZE_MAX}, ${FEDERATION_DEFAULTS.gatewaysWanted} gateways per group, default settings; ` +
      `${REGISTRATION_SAMPLES} registrations and ${WHEREIS_SAMPLES} remote whereis sampled per run, idle window ${LONG_IDLE_WINDOW_MS / 1000} s simulated ` +
      `up to ${LONG_IDLE_NODES_MAX} nodes, ${IDLE_WINDOW_MS / 1000} s above (seed ${SEED})`,
  );
  console.log(`how: run = simulated with the real code (federation/sim/); computed = the scale model only (federation/scale-model.ts), not run;`);
  console.log(`     model of run = the model's figures for the run above it (the model assumes each group's leader is one of its gateways)`);
  console.log(`other idle msgs/s: directory watches and holder resyncs (every 30 s each); a 5 s window may catch none of them (the model's row counts them)`);
  printTable(rows);
  for (const note of notes) console.log(note);
  const failures: string[] = [];
  for (const row of federations) {
    const bound = GROUP_SIZE_MAX - 1 + FEDERATION_DEFAULTS.gatewaysWanted * (row.groups - 1);
    if (row.connectionsMax > bound) failures.push(`${row.nodes} nodes: ${row.connectionsMax} connections > ${bound}`);
    if (row.memberConnectionsMax > GROUP_SIZE_MAX - 1) failures.push(`${row.nodes} nodes: a member holds ${row.memberConnectionsMax} connections`);
  }
  const registrationMax = Math.max(...federations.map((row) => row.registrationMax));
  const smallest = federations[0];
  if (smallest !== undefined && registrationMax > smallest.registrationMax) failures.push(`messages per registration grow with the groups: ${registrationMax} > ${smallest.registrationMax}`);
  console.log(
    `targets: connections ≤ (group size − 1) + ${FEDERATION_DEFAULTS.gatewaysWanted} × (groups − 1) gateway links; members ≤ group size − 1; ` +
      `messages per registration independent of the number of groups — ${failures.length === 0 ? 'met' : 'MISSED'}`,
  );
  for (const failure of failures) console.log(`  ${failure}`);
  console.log(`took ${((realMs() - started) / 1000).toFixed(0)} s`);
  if (failures.length > 0) process.exitCode = 1;
}
