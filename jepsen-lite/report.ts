/**
 * report.html: one self-contained page (inline CSS and SVG, no network resources) with, in
 * order: the verdict and what failed; the seed and the command to re-run; counts per outcome;
 * a timeline of operations per client with fault windows shaded; latency over time (SVG);
 * local-read staleness; the singletons paused while they ran and what they did after the
 * resume; the faults; the nodes (with their groups, in a federation). Every text from the run is HTML-escaped.
 * Charts draw at most `CHART_MARKS_MAX` operations each (an even sample of a longer run, said
 * so under the chart), so a long run gives a page a browser can open.
 */
import { writeFileSync } from 'node:fs';
import { type Operation, pairOperations } from './history.js';
import type { RunResults } from './results.js';
import type { Executed } from './run.js';

const CHART_WIDTH = 1000;
const LABEL_WIDTH = 90;
const ROW_HEIGHT = 9;
const LATENCY_HEIGHT = 260;
/** Most operations one chart draws; a longer run is sampled evenly. */
export const CHART_MARKS_MAX = 20_000;
const COLORS = { ok: '#2e7d32', fail: '#ef6c00', info: '#c62828', pending: '#6a1b9a' } as const;
const FUNCTION_COLORS: Record<string, string> = { register: '#1565c0', unregister: '#6a1b9a', whereis: '#2e7d32', whereis_local: '#9e9d24' };

export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export function writeReport(path: string, results: RunResults, executed: Executed): void {
  writeFileSync(path, renderReport(results, executed));
}

/** The largest value, at least `floor` (no argument spreading: a run has millions of values). */
export function maxOf(values: Iterable<number>, floor: number): number {
  let max = floor;
  for (const value of values) if (value > max) max = value;
  return max;
}

/** At most `limit` items, evenly spread over the list, in order. */
export function evenSample<T>(items: readonly T[], limit: number): readonly T[] {
  if (items.length <= limit) return items;
  const sampled: T[] = [];
  for (let index = 0; index < limit; index++) sampled.push(items[Math.floor((index * items.length) / limit)] as T);
  return sampled;
}

function sampleNote(total: number): string {
  return total > CHART_MARKS_MAX ? ` <b>${CHART_MARKS_MAX} of ${total} operations are drawn</b> (an even sample).` : '';
}

export function renderReport(results: RunResults, executed: Executed): string {
  const operations = pairOperations(executed.recorder.events);
  const endNs = maxOf(
    executed.recorder.events.map((event) => event.time),
    1,
  );
  const sections = [
    verdictSection(results),
    rerunSection(results),
    countsSection(results),
    `<h2>Timeline per client</h2><p class="muted">Bars run from invoke to completion: <span style="color:${COLORS.ok}">ok</span>, <span style="color:${COLORS.fail}">fail</span>, <span style="color:${COLORS.info}">info</span> (to the end when never completed). Shaded: fault windows. The last row holds the final reads.${sampleNote(operations.length)}</p>${timelineSvg(operations, executed, endNs)}`,
    `<h2>Latency over time</h2><p class="muted">Completed ok/fail operations; x = invoke time, y = latency (ms). Colour by function: ${Object.entries(FUNCTION_COLORS).map(([f, color]) => `<span style="color:${color}">${f}</span>`).join(', ')}.</p>${latencySvg(operations, executed, endNs)}`,
    stalenessSection(results),
    singletonsSection(results),
    faultsSection(results),
    nodesSection(results),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jepsen-lite ${escapeHtml(results.verdict)} — seed ${results.seed}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
h1{margin:0 0 8px}h2{margin-top:28px;border-bottom:1px solid #ddd}
.verdict{padding:12px 16px;border-radius:6px;color:#fff;font-size:22px;font-weight:600}
.pass{background:#2e7d32}.fail{background:#c62828}.unknown{background:#ef6c00}.not-run{background:#757575}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}
td.l,th.l{text-align:left}pre,code{background:#f5f5f5;padding:2px 4px;white-space:pre-wrap}
.muted{color:#666}.badge{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff}
</style></head><body>
${sections.join('\n')}
</body></html>
`;
}

function badge(verdict: string): string {
  return `<span class="badge ${escapeHtml(verdict)}">${escapeHtml(verdict)}</span>`;
}

function verdictSection(results: RunResults): string {
  const { checkers } = results;
  const rows = [
    ['linearizability', checkers.linearizability.verdict, `${checkers.linearizability.namesChecked} names, ${checkers.linearizability.operationsChecked} operations${checkers.linearizability.unknownNames.length > 0 ? `; out of budget: ${checkers.linearizability.unknownNames.join(', ')}` : ''}`],
    ['lost registrations', checkers.lostRegistrations.verdict, `${checkers.lostRegistrations.namesChecked} names checked; excused: ${checkers.lostRegistrations.excused.removed} removed by the registry, ${checkers.lostRegistrations.excused.ambiguous} ambiguous`],
    [
      'acknowledged writes committed',
      checkers.acknowledgedCommits.verdict,
      `${checkers.acknowledgedCommits.checked} acknowledged writes checked against the committed history, ${checkers.acknowledgedCommits.confirmed} found at their revision${checkers.acknowledgedCommits.undetermined.length > 0 ? `, ${checkers.acknowledgedCommits.undetermined.length} undecided` : ''}`,
    ],
    ['recovery after the final heal', checkers.recovery.verdict, checkers.recovery.healthyAfterHeal ? 'the cluster was healthy again' : 'the cluster was NOT healthy again in time'],
    [
      'singletons',
      checkers.singletons.verdict,
      checkers.singletons.verdict === 'not-run'
        ? checkers.singletons.reason
        : `${checkers.singletons.keys.length} keys, ${checkers.singletons.instances} instances; ${checkers.singletons.fencedOverlaps} fenced instances ran beside a newer token (longest ${checkers.singletons.fencedOverlapMsMax} ms)`,
    ],
  ];
  const failures = [
    ...checkers.linearizability.failures.map((failure) => `<h3>Not linearizable: ${escapeHtml(failure.name)}</h3><pre>${escapeHtml(failure.explanation.join('\n'))}</pre>`),
    ...checkers.lostRegistrations.lost.map((lost) => `<p>Lost registration: ${escapeHtml(lost)}</p>`),
    ...checkers.acknowledgedCommits.uncommitted.map((write) => `<p>Acknowledged but never committed: ${escapeHtml(write)}</p>`),
    ...(checkers.singletons.verdict === 'not-run' ? [] : checkers.singletons.violations.map((violation) => `<p>Singletons: ${escapeHtml(violation)}</p>`)),
    ...(checkers.recovery.healthyAfterHeal ? [] : ['<p>The group did not recover after the final heal.</p>']),
  ];
  return `<div class="verdict ${escapeHtml(results.verdict)}">${results.verdict === 'pass' ? 'PASS' : results.verdict === 'fail' ? 'FAIL' : 'UNKNOWN'} — jepsen-lite, seed ${results.seed}</div>
<table style="margin-top:12px"><tr><th class="l">checker</th><th class="l">verdict</th><th class="l">details</th></tr>
${rows.map(([name, verdict, detail]) => `<tr><td class="l">${escapeHtml(name as string)}</td><td class="l">${badge(verdict as string)}</td><td class="l">${escapeHtml(detail as string)}</td></tr>`).join('\n')}
</table>${failures.join('\n')}`;
}

function rerunSection(results: RunResults): string {
  const options = results.options;
  return `<h2>Run</h2><p>Started ${escapeHtml(results.startedAt)}; ${options.nodes} nodes${options.groups > 1 ? ` in ${options.groups} groups (a federation)` : ''}, ${options.timeSeconds} s of workload at ${options.ratePerSecond} ops/s, ${options.concurrency} clients (${options.clientsPerName} per name, ${options.opsPerName} ops per name), nemesis <code>${escapeHtml(options.nemesis.join(','))}</code>${options.unsafe !== undefined ? `, <b>UNSAFE node mode ${escapeHtml(options.unsafe)}</b>` : ''}.</p>
<p>Seed <b>${results.seed}</b>. Re-run: <code>${escapeHtml(results.rerun)}</code></p>${federationTable(results)}`;
}

/** A federation's groups: root, nodes, and hash slots before the workload and after the final heal. */
function federationTable(results: RunResults): string {
  const { federation } = results;
  if (federation === null) return '';
  const rows = federation.groups.map(
    (group) =>
      `<tr><td class="l">${escapeHtml(group.id)}${group.root ? ' (root)' : ''}</td><td class="l">${escapeHtml(group.nodes.join(' '))}</td><td>${federation.slotsBefore?.[group.id] ?? '–'}</td><td>${federation.slotsAfter?.[group.id] ?? '–'}</td></tr>`,
  );
  return `<table><tr><th class="l">group</th><th class="l">nodes</th><th>slots before</th><th>slots after</th></tr>${rows.join('')}</table>`;
}

function countsSection(results: RunResults): string {
  const { counts, latency } = results.operations;
  const rows = Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([f, entry]) => `<tr><td class="l">${escapeHtml(f)}</td><td>${entry.ok}</td><td>${entry.fail}</td><td>${entry.info}</td><td>${entry.pending}</td></tr>`);
  return `<h2>Operations</h2><table><tr><th class="l">function</th><th>ok</th><th>fail</th><th>info</th><th>pending</th></tr>${rows.join('')}</table>
<p>${results.operations.client} client operations, ${results.operations.finalReads} final reads. ${results.names.used} names, ${results.names.owners} owners (holder processes, one per client connection).</p>
<p>The registry removed ${results.registry.removals} names by itself (${escapeHtml(Object.entries(results.registry.removalsByReason).map(([reason, count]) => `${reason}: ${count}`).join(', ') || 'none')}), as its watch reported${results.registry.complete ? '' : ' — <b>the watch missed changes</b>'}; ${results.registry.removalsWithoutFault} of them on a node no fault had touched shortly before.</p>
<p>Latency of completed operations: p50 ${fmt(latency.p50Ms)} ms, p99 ${fmt(latency.p99Ms)} ms, max ${fmt(latency.maxMs)} ms.</p>`;
}

function fmt(value: number | null): string {
  return value === null ? '–' : value.toFixed(1);
}

function stalenessSection(results: RunResults): string {
  const stale = results.operations.localReadStaleness;
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  return `<h2>Local reads (stale-allowed)</h2><p>${stale.localReads} local reads: ${stale.stale} were stale (median ${ms(stale.staleNsP50)} ms, p99 ${ms(stale.staleNsP99)} ms, max ${ms(stale.staleNsMax)} ms behind the write that replaced the value they returned), ${stale.unexplained} returned a value no acknowledged write produced (possible with info writes).</p>`;
}

function faultsSection(results: RunResults): string {
  if (results.faults.length === 0) return '<h2>Faults</h2><p>None.</p>';
  const rows = results.faults.map((fault) => {
    const leader = fault.leaderAfter !== undefined ? `<br><span class="muted">leader before ${escapeHtml(fault.leaderBefore ?? 'none')}, after the resume ${escapeHtml(fault.leaderAfter ?? 'none agreed')}</span>` : '';
    const problems = fault.problems.length > 0 ? `<br><span class="muted">${escapeHtml(fault.problems.join('; '))}</span>` : '';
    return `<tr><td>${fault.index}</td><td>${(fault.startMs / 1000).toFixed(1)}</td><td>${fault.endMs === null ? '–' : (fault.endMs / 1000).toFixed(1)}</td><td class="l">${escapeHtml(fault.kind)}</td><td class="l">${escapeHtml(fault.description)}${leader}${problems}</td></tr>`;
  });
  return `<h2>Faults</h2><table><tr><th>#</th><th>from (s)</th><th>to (s)</th><th class="l">kind</th><th class="l">what</th></tr>${rows.join('')}</table>
<p>Faults of different kinds may overlap. Workload ${(results.timing.workloadStartMs / 1000).toFixed(1)}–${(results.timing.workloadEndMs / 1000).toFixed(1)} s; final heal at ${(results.timing.finalHealMs / 1000).toFixed(1)} s.</p>`;
}

/** Paused singleton owners: each instance alive at a SIGSTOP of its node, and its end after the SIGCONT. */
function singletonsSection(results: RunResults): string {
  const { singletons } = results.checkers;
  if (singletons.verdict === 'not-run' || singletons.paused.length === 0) return '';
  const rows = singletons.paused.map((paused) => {
    const why = paused.superseded ? 'superseded during the pause' : paused.outlivedLease ? 'paused past its lease' : 'may run on';
    const after = paused.endedAfterResumeMs === null ? '–' : paused.endedAfterResumeMs.toFixed(1);
    return `<tr><td class="l">${escapeHtml(paused.key)}</td><td>${paused.token}</td><td class="l">${escapeHtml(paused.node)}</td><td>${(paused.pausedMs / 1000).toFixed(1)}</td><td>${paused.resumedMs === null ? '–' : (paused.resumedMs / 1000).toFixed(1)}</td><td class="l">${escapeHtml(why)}</td><td class="l">${escapeHtml(paused.ended)}</td><td>${after}</td></tr>`;
  });
  return `<h2>Singletons paused while they ran</h2><p class="muted">An owner paused (SIGSTOP) keeps its token while it is stopped; one superseded or paused past its lease must stop its instance as soon as it resumes (SIGCONT).</p>
<table><tr><th class="l">key</th><th>token</th><th class="l">node</th><th>paused (s)</th><th>resumed (s)</th><th class="l">then</th><th class="l">ended</th><th>ms after the resume</th></tr>${rows.join('')}</table>`;
}

function nodesSection(results: RunResults): string {
  const groupOf = new Map((results.federation?.groups ?? []).flatMap((group) => group.nodes.map((node) => [node, group.id] as const)));
  const rows = Object.entries(results.nodes).map(([name, node]) => `<tr><td class="l">${escapeHtml(name)}${groupOf.has(name) ? ` (${escapeHtml(groupOf.get(name) as string)})` : ''}</td><td class="l">${node.pids.join(', ')}</td><td class="l"><code>${escapeHtml(node.log)}</code></td></tr>`);
  const notes = results.notes.length > 0 ? `<h2>Notes</h2>${results.notes.map((note) => `<pre>${escapeHtml(note)}</pre>`).join('')}` : '';
  return `<h2>Nodes</h2><table><tr><th class="l">node</th><th class="l">pids</th><th class="l">log</th></tr>${rows.join('')}</table>${notes}`;
}

function faultRects(executed: Executed, x: (ns: number) => number, height: number, endNs: number): string {
  return executed.nemesis.windows
    .map((window) => {
      const from = x(window.startNs);
      const to = x(window.endNs ?? endNs);
      return `<rect x="${from.toFixed(1)}" y="0" width="${Math.max(1, to - from).toFixed(1)}" height="${height}" fill="#ffcdd2" opacity="0.6"><title>${escapeHtml(`${window.kind}: ${window.description}`)}</title></rect>`;
    })
    .join('');
}

function timelineSvg(operations: readonly Operation[], executed: Executed, endNs: number): string {
  const { processClient } = executed.recorder;
  const clients = [...new Set([...processClient.values()].filter((client) => client >= 0))].sort((a, b) => a - b);
  const rowOf = (operation: Operation): number => {
    const client = processClient.get(operation.process) ?? -1;
    return client >= 0 ? clients.indexOf(client) : clients.length;
  };
  const height = (clients.length + 1) * ROW_HEIGHT + 20;
  const x = (ns: number): number => LABEL_WIDTH + (ns / endNs) * (CHART_WIDTH - LABEL_WIDTH - 10);
  const bars = evenSample(operations, CHART_MARKS_MAX)
    .map((operation) => {
      const row = rowOf(operation);
      const from = x(operation.invokeTime);
      const to = x(operation.completeTime ?? endNs);
      const title = `${operation.f} ${operation.name}${operation.input === null ? '' : ` ${operation.input}`} → ${operation.type === 'ok' ? JSON.stringify(operation.output) : operation.type}`;
      return `<rect x="${from.toFixed(1)}" y="${row * ROW_HEIGHT + 1}" width="${Math.max(0.8, to - from).toFixed(1)}" height="${ROW_HEIGHT - 2}" fill="${COLORS[operation.type]}"><title>${escapeHtml(title)}</title></rect>`;
    })
    .join('');
  const labels = [...clients.map((client) => `client ${client}`), 'final reads']
    .map((label, row) => `<text x="2" y="${row * ROW_HEIGHT + ROW_HEIGHT - 1}" font-size="8">${label}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${height}" viewBox="0 0 ${CHART_WIDTH} ${height}">${faultRects(executed, x, height - 20, endNs)}${bars}${labels}${timeAxis(x, endNs, height - 20)}</svg>`;
}

function timeAxis(x: (ns: number) => number, endNs: number, y: number): string {
  const seconds = endNs / 1e9;
  const step = seconds > 120 ? 30 : seconds > 40 ? 10 : seconds > 10 ? 5 : 1;
  const ticks: string[] = [];
  for (let second = 0; second <= seconds; second += step) {
    ticks.push(`<line x1="${x(second * 1e9).toFixed(1)}" y1="${y}" x2="${x(second * 1e9).toFixed(1)}" y2="${y + 4}" stroke="#999"/><text x="${x(second * 1e9).toFixed(1)}" y="${y + 14}" font-size="9" text-anchor="middle">${second}s</text>`);
  }
  return ticks.join('');
}

function latencySvg(operations: readonly Operation[], executed: Executed, endNs: number): string {
  const points = evenSample(
    operations.filter((operation) => operation.completeTime !== null && (operation.type === 'ok' || operation.type === 'fail')),
    CHART_MARKS_MAX,
  );
  const latencies = points.map((operation) => ((operation.completeTime as number) - operation.invokeTime) / 1e6);
  const maxMs = maxOf(latencies, 1);
  const height = LATENCY_HEIGHT + 20;
  const x = (ns: number): number => LABEL_WIDTH + (ns / endNs) * (CHART_WIDTH - LABEL_WIDTH - 10);
  const y = (latencyMs: number): number => LATENCY_HEIGHT - (latencyMs / maxMs) * (LATENCY_HEIGHT - 10);
  const dots = points
    .map((operation, index) => `<circle cx="${x(operation.invokeTime).toFixed(1)}" cy="${y(latencies[index] as number).toFixed(1)}" r="1.6" fill="${FUNCTION_COLORS[operation.f] ?? '#000'}"/>`)
    .join('');
  const axis = [0, 0.25, 0.5, 0.75, 1]
    .map((fraction) => `<text x="${LABEL_WIDTH - 4}" y="${y(fraction * maxMs).toFixed(1)}" font-size="9" text-anchor="end">${(fraction * maxMs).toFixed(0)} ms</text><line x1="${LABEL_WIDTH}" y1="${y(fraction * maxMs).toFixed(1)}" x2="${CHART_WIDTH - 10}" y2="${y(fraction * maxMs).toFixed(1)}" stroke="#eee"/>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${height}" viewBox="0 0 ${CHART_WIDTH} ${height}">${faultRects(executed, x, LATENCY_HEIGHT, endNs)}${axis}${dots}${timeAxis(x, endNs, LATENCY_HEIGHT)}</svg>`;
}
