/**
 * `npm run bench -- federation [sizes…]`: the federation scale model (federation/scale-model.ts)
 * for 100, 1,000 and 10,000 nodes in groups of up to 50 with 2 gateways per group, beside an
 * Erlang-style full mesh of the same size. Prints one table and checks the two targets:
 * connections per node ≤ (group size − 1) + gateway links, and messages per registration not
 * growing with the number of groups. Exits non-zero if a target is missed.
 */
import { buildFederation, measureFederation, measureFullMesh, MODEL_DEFAULTS, type Figures } from '../federation/scale-model.js';

const DEFAULT_SIZES = [100, 1_000, 10_000];

function cell(value: number, digits = 0): string {
  return Number.isNaN(value) ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(figures: Figures): string[] {
  return [
    cell(figures.nodes),
    figures.topology,
    cell(figures.groups),
    cell(figures.connectionsMax),
    cell(figures.connectionsMean, 1),
    cell(figures.memberConnectionsMax),
    `${cell(figures.registrationMessagesMean, 1)} (max ${cell(figures.registrationMessagesMax)})`,
    cell(figures.remoteWhereisMessagesMean, 1),
    cell(figures.linearizableWhereisMessagesMean, 1),
    cell(figures.heartbeatsPerSecond),
  ];
}

function printTable(rows: string[][]): void {
  const header = ['nodes', 'topology', 'groups', 'conn max', 'conn mean', 'member conn max', 'msgs/registration', 'msgs/remote whereis', 'linearizable', 'heartbeats/s'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((cells) => (cells[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((text, column) => text.padStart(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const cells of rows) console.log(line(cells));
}

export default async function (args: string[]): Promise<void> {
  const sizes = args.length > 0 ? args.map(Number) : DEFAULT_SIZES;
  const started = performance.now();
  const rows: string[][] = [];
  const federations: Figures[] = [];
  for (const nodes of sizes) {
    const model = buildFederation({ nodes });
    const figures = measureFederation(model);
    federations.push(figures);
    rows.push(row(figures), row(measureFullMesh(nodes)));
    console.error(`built ${nodes} nodes: ${figures.groups} groups, ${figures.slotsMoved} slot moves while growing`);
  }
  console.log(`federation scale model: groups of up to ${MODEL_DEFAULTS.groupSizeMax}, ${MODEL_DEFAULTS.gatewaysPerGroup} gateways per group, ` +
    `${MODEL_DEFAULTS.registrationSamples} registrations and ${MODEL_DEFAULTS.whereisSamples} remote whereis routed per size (seed ${MODEL_DEFAULTS.seed})`);
  printTable(rows);
  const failures: string[] = [];
  for (const figures of federations) {
    if (figures.connectionsMax > figures.connectionsBound) failures.push(`${figures.nodes} nodes: ${figures.connectionsMax} connections > ${figures.connectionsBound}`);
    if (figures.memberConnectionsMax > MODEL_DEFAULTS.groupSizeMax - 1) failures.push(`${figures.nodes} nodes: a member holds ${figures.memberConnectionsMax} connections`);
  }
  const registrationMax = 6 + 2 * (MODEL_DEFAULTS.groupSizeMax - 1);
  for (const figures of federations) {
    if (figures.registrationMessagesMax > registrationMax) failures.push(`${figures.nodes} nodes: ${figures.registrationMessagesMax} messages per registration > ${registrationMax}`);
  }
  console.log(`targets: connections ≤ (group size − 1) + (groups − 1) gateway links; members ≤ group size − 1; ` +
    `messages per registration ≤ ${registrationMax} whatever the number of groups — ${failures.length === 0 ? 'met' : 'MISSED'}`);
  for (const failure of failures) console.log(`  ${failure}`);
  console.log(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length > 0) process.exitCode = 1;
}
