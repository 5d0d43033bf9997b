// The singleton workload's runner side, against fedctl's singleton contract, on hand-made node
// logs (fedctl start does not run singletons yet, so no real run can): the runner turns it on
// only when `fedctl start --help` offers --singleton and --singleton-log (fake fedctl scripts
// with and without them); node logs (ms since the epoch, one file per node, appended across
// restarts; a line cut short by kill -9 left out, any other bad line refused with its file and
// line) merge into singletons.jsonl in run time; a node the runner SIGKILLed ends its
// instances at the kill (no stop line), so a key nobody took over is caught as not running;
// two instances with valid tokens at once fail; a paused owner that resumes after a higher
// token started is fenced, not a failure.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KillRecord, PauseRecord } from '../../jepsen-lite/cluster.js';
import { parseSingletonEvents } from '../../jepsen-lite/history.js';
import { checkSingletonRun } from '../../jepsen-lite/run.js';
import {
  SINGLETON_LOG_FILE,
  detectSingletonSupport,
  helpOffersSingletons,
  mergeSingletonLogs,
  parseSingletonLog,
  singletonKeys,
  singletonStartArgs,
} from '../../jepsen-lite/singletons.js';
import { isFedError } from '../../runtime/index.js';

const root = mkdtempSync(join(tmpdir(), 'jepsen-lite-singletons-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const RUN_START_MS = 1_700_000_000_000;
const MS = 1e6;

function line(type: 'start' | 'stop', key: string, token: number, node: string, atMs: number, reason?: string): string {
  return JSON.stringify({ type, key, token, node, time: RUN_START_MS + atMs, ...(reason !== undefined ? { reason } : {}) });
}

/** A fake fedctl whose `start --help` prints `help`. */
function fakeFedctl(name: string, help: string): string[] {
  const script = join(root, `${name}.mjs`);
  writeFileSync(script, `if (process.argv[2] === 'start' && process.argv[3] === '--help') { process.stdout.write(${JSON.stringify(help)}); } else { process.exit(2); }\n`);
  chmodSync(script, 0o755);
  return [process.execPath, script];
}

/** A run directory with node directories holding the given singleton logs. */
function runWithLogs(
  name: string,
  logs: Record<string, string>,
): {
  outDir: string;
  cluster: { nodes(): string[]; dirOf(node: string): string; kills(): KillRecord[]; pauses(): PauseRecord[] };
  setKills(kills: KillRecord[]): void;
  setPauses(pauses: PauseRecord[]): void;
} {
  const outDir = join(root, name);
  let kills: KillRecord[] = [];
  let pauses: PauseRecord[] = [];
  for (const [node, text] of Object.entries(logs)) {
    mkdirSync(join(outDir, 'nodes', node), { recursive: true });
    writeFileSync(join(outDir, 'nodes', node, SINGLETON_LOG_FILE), text);
  }
  return {
    outDir,
    cluster: { nodes: () => Object.keys(logs).map((node) => `${node}@127.0.0.1`), dirOf: (node) => join(outDir, 'nodes', node.split('@')[0] as string), kills: () => kills, pauses: () => pauses },
    setKills: (list) => {
      kills = list;
    },
    setPauses: (list) => {
      pauses = list;
    },
  };
}

const HEALED = { finalHealNs: 6_000 * MS, doneNs: 8_000 * MS };

describe('singleton workload — turning on', () => {
  it('singletons — on only when fedctl start --help offers both flags', async () => {
    const withFlags = 'Options:\n  --singleton <key>       run a probe singleton (repeatable)\n  --singleton-log <file>  append instance events\n';
    expect(helpOffersSingletons(withFlags)).toBe(true);
    expect(helpOffersSingletons('Options:\n  --singleton <key>\n')).toBe(false);
    expect(helpOffersSingletons('Options:\n  --singletons-max <n>\n  --singleton-logs <dir>\n')).toBe(false);
    expect(await detectSingletonSupport(fakeFedctl('with', withFlags), root)).toBe(true);
    expect(await detectSingletonSupport(fakeFedctl('without', 'Options:\n  --name <name@host>\n'), root)).toBe(false);
    expect(await detectSingletonSupport([join(root, 'no-such-fedctl')], root)).toBe(false);
  });

  it('singletons — each node is started with every key and its own log file', () => {
    expect(singletonKeys(2)).toEqual(['jl-singleton-1', 'jl-singleton-2']);
    expect(singletonStartArgs(['a', 'b'], '/run/nodes/n1/singletons.log')).toEqual(['--singleton', 'a', '--singleton', 'b', '--singleton-log', '/run/nodes/n1/singletons.log']);
  });
});

describe('singleton workload — node logs', () => {
  it('singletons — a last line cut short by kill -9 is left out; a complete last line without newline is kept', () => {
    const text = `${line('start', 'k', 3, 'n1@h', 10)}\n${line('stop', 'k', 3, 'n1@h', 20)}\n{"type":"sta`;
    expect(parseSingletonLog(text, 'n1.log').map((entry) => entry.type)).toEqual(['start', 'stop']);
    expect(parseSingletonLog(`${line('start', 'k', 3, 'n1@h', 10)}`, 'n1.log')).toHaveLength(1);
  });

  it('singletons — any other bad line is refused naming its file and line', () => {
    let error: unknown;
    try {
      parseSingletonLog(`${line('start', 'k', 3, 'n1@h', 10)}\n{"type":"start","key":"k","token":0,"node":"n1@h","time":5}\n${line('stop', 'k', 3, 'n1@h', 20)}\n`, 'n1.log');
    } catch (caught) {
      error = caught;
    }
    expect(isFedError(error, 'badarg')).toBe(true);
    expect((error as Error).message).toBe('n1.log line 2: "token" must be a positive integer');
  });

  it('singletons — logs of several nodes merge in run time (ns since the run started), stops first at one instant', () => {
    const merged = mergeSingletonLogs(
      [
        { file: 'n2.log', text: `${line('start', 'k', 9, 'n2@h', 40, 'handover')}\n` },
        { file: 'n1.log', text: `${line('start', 'k', 5, 'n1@h', 10)}\n${line('stop', 'k', 5, 'n1@h', 40, 'handover')}\n` },
      ],
      RUN_START_MS,
    );
    expect(merged).toEqual([
      { type: 'start', key: 'k', node: 'n1@h', token: 5, time: 10 * MS },
      { type: 'stop', key: 'k', node: 'n1@h', token: 5, time: 40 * MS, reason: 'handover' },
      { type: 'start', key: 'k', node: 'n2@h', token: 9, time: 40 * MS, reason: 'handover' },
    ]);
  });
});

describe('singleton workload — checked runs from hand-made logs', () => {
  it('singletons — a killed owner (no stop line) and a takeover with a higher token pass; singletons.jsonl is written', async () => {
    const run = runWithLogs('takeover', {
      n1: `${line('start', 'jl-singleton-1', 5, 'n1@127.0.0.1', 1_000)}\n`,
      n2: `${line('start', 'jl-singleton-1', 9, 'n2@127.0.0.1', 4_500)}\n`,
    });
    run.setKills([{ node: 'n1@127.0.0.1', pid: 11, timeNs: 3_000 * MS }]);
    const notes: string[] = [];
    const outcome = await checkSingletonRun({ outDir: run.outDir }, run.cluster, { startedAt: new Date(RUN_START_MS) }, ['jl-singleton-1'], { ...HEALED, checkNotes: notes });
    expect(outcome.ran && outcome.report.verdict).toBe('pass');
    expect(outcome.ran && outcome.report.instances.map((instance) => instance.endedBy)).toEqual(['kill', 'running']);
    expect(notes).toEqual([]);
    const written = parseSingletonEvents(readFileSync(join(run.outDir, 'singletons.jsonl'), 'utf8'));
    expect(written.map((event) => [event.node, event.token])).toEqual([
      ['n1@127.0.0.1', 5],
      ['n2@127.0.0.1', 9],
    ]);
  });

  it('singletons — a key whose only owner was killed and never taken over is caught (the kill ends it)', async () => {
    const run = runWithLogs('orphan', { n1: `${line('start', 'jl-singleton-2', 5, 'n1@127.0.0.1', 1_000)}\n` });
    const notes: string[] = [];
    const keys = ['jl-singleton-2'];
    const clock = { startedAt: new Date(RUN_START_MS) };
    // Without the kill the instance would look alive to the end: the kill record is what catches it.
    mkdirSync(join(root, 'orphan-unaware'));
    const unaware = await checkSingletonRun({ outDir: join(root, 'orphan-unaware') }, run.cluster, clock, keys, { ...HEALED, checkNotes: [] });
    expect(unaware.ran && unaware.report.verdict).toBe('pass');
    run.setKills([{ node: 'n1@127.0.0.1', pid: 11, timeNs: 3_000 * MS }]);
    const outcome = await checkSingletonRun({ outDir: run.outDir }, run.cluster, clock, keys, { ...HEALED, checkNotes: notes });
    expect(outcome.ran && outcome.report.violations.map((violation) => violation.kind)).toEqual(['not_running']);
    expect(notes.join('\n')).toContain('not_running: key "jl-singleton-2"');
  });

  it('singletons — two instances with valid tokens at once fail', async () => {
    const run = runWithLogs('split', {
      n1: `${line('start', 'jl-singleton-1', 7, 'n1@127.0.0.1', 1_000)}\n`,
      n2: `${line('start', 'jl-singleton-1', 7, 'n2@127.0.0.1', 2_000)}\n`,
    });
    const outcome = await checkSingletonRun({ outDir: run.outDir }, run.cluster, { startedAt: new Date(RUN_START_MS) }, ['jl-singleton-1'], { ...HEALED, checkNotes: [] });
    expect(outcome.ran && outcome.report.violations.map((violation) => violation.kind)).toContain('overlap');
  });

  it('singletons — a paused owner that stops only after resuming was fenced by the higher token: pass, counted', async () => {
    const run = runWithLogs('paused', {
      n1: `${line('start', 'jl-singleton-1', 5, 'n1@127.0.0.1', 1_000)}\n${line('stop', 'jl-singleton-1', 5, 'n1@127.0.0.1', 5_200, 'lost quorum')}\n`,
      n2: `${line('start', 'jl-singleton-1', 9, 'n2@127.0.0.1', 3_000)}\n`,
    });
    const outcome = await checkSingletonRun({ outDir: run.outDir }, run.cluster, { startedAt: new Date(RUN_START_MS) }, ['jl-singleton-1'], { ...HEALED, checkNotes: [] });
    expect(outcome.ran && outcome.report.verdict).toBe('pass');
    expect(outcome.ran && outcome.report.fencedOverlaps).toBe(1);
  });

  it('singletons — an owner SIGSTOPped past its lease and superseded meanwhile must stop as it resumes: stopping at once passes, running on fails', async () => {
    // n1 owns the key with token 5 and is paused from 2 s to 7 s (longer than the lease plus
    // the drift budget); n2 takes over with token 9 at 6 s. After the SIGCONT at 7 s, n1's
    // instance must stop before it acts.
    const key = 'jl-singleton-1';
    const takeover = `${line('start', key, 9, 'n2@127.0.0.1', 6_000)}
`;
    const prompt = runWithLogs('paused-prompt', { n1: `${line('start', key, 5, 'n1@127.0.0.1', 1_000)}
${line('stop', key, 5, 'n1@127.0.0.1', 7_040, 'lease_expired')}
`, n2: takeover });
    const late = runWithLogs('paused-late', { n1: `${line('start', key, 5, 'n1@127.0.0.1', 1_000)}
${line('stop', key, 5, 'n1@127.0.0.1', 9_500, 'claim_lost')}
`, n2: takeover });
    for (const run of [prompt, late]) run.setPauses([{ node: 'n1@127.0.0.1', pid: 11, fromNs: 2_000 * MS, toNs: 7_000 * MS, alone: false }]);
    const clock = { startedAt: new Date(RUN_START_MS) };
    const ok = await checkSingletonRun({ outDir: prompt.outDir }, prompt.cluster, clock, [key], { finalHealNs: 7_000 * MS, doneNs: 10_000 * MS, checkNotes: [] });
    expect(ok.ran && ok.report.verdict).toBe('pass');
    expect(ok.ran && ok.report.pausedInstances.map((paused) => ({ token: paused.instance.token, superseded: paused.superseded, outlivedLease: paused.outlivedLease, after: paused.endedAfterResumeNs, reason: paused.instance.stopReason }))).toEqual([
      { token: 5, superseded: true, outlivedLease: true, after: 40 * MS, reason: 'lease_expired' },
    ]);
    const notes: string[] = [];
    const bad = await checkSingletonRun({ outDir: late.outDir }, late.cluster, clock, [key], { finalHealNs: 7_000 * MS, doneNs: 10_000 * MS, checkNotes: notes });
    expect(bad.ran && bad.report.violations.map((violation) => violation.kind)).toEqual(['ran_after_resume']);
    expect(notes.join('\n')).toMatch(/ran_after_resume: key "jl-singleton-1": token 5 on n1@127.0.0.1 .* a higher token of its key started while it was paused, yet it ran 2500000000 ns after the resume/);
  });

  it('singletons — a bad node log makes the verdict unknown, never a pass', async () => {
    const run = runWithLogs('bad', { n1: `not json\n${line('start', 'jl-singleton-1', 5, 'n1@127.0.0.1', 1_000)}\n` });
    const notes: string[] = [];
    const outcome = await checkSingletonRun({ outDir: run.outDir }, run.cluster, { startedAt: new Date(RUN_START_MS) }, ['jl-singleton-1'], { ...HEALED, checkNotes: notes });
    expect(outcome.ran && outcome.report.verdict).toBe('unknown');
    expect(notes[0]).toContain('line 1: not valid JSON');
  });
});
