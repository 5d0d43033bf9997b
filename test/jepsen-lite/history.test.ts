// The history files: events written by the writer read back equal; every malformed line is
// refused with a badarg error naming its line number (bad JSON, wrong shapes per type and
// function, times going backwards, blank lines in the middle); the writer refuses bad events
// without writing them; pairing checks the process discipline and leaves open calls pending.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HistoryEvent,
  JsonLinesWriter,
  type SingletonEvent,
  pairOperations,
  parseHistory,
  parseSingletonEvents,
  readHistory,
  readSingletonEvents,
} from '../../jepsen-lite/history.js';
import { isFedError } from '../../runtime/index.js';

const made: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedctl-history-'));
  made.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

const A = '<a@127.0.0.1#1.1>';
const EVENTS: HistoryEvent[] = [
  { process: 0, type: 'invoke', f: 'register', name: 'n', value: A, time: 10 },
  { process: 1, type: 'invoke', f: 'whereis', name: 'n', value: null, time: 11 },
  { process: 0, type: 'ok', f: 'register', name: 'n', value: 'ok', time: 20 },
  { process: 1, type: 'ok', f: 'whereis', name: 'n', value: A, time: 21 },
  { process: 2, type: 'invoke', f: 'unregister', name: 'n', value: A, time: 30 },
  { process: 2, type: 'ok', f: 'unregister', name: 'n', value: { not_owner: null }, time: 31 },
  { process: 3, type: 'invoke', f: 'register', name: 'n', value: A, time: 40 },
  { process: 3, type: 'info', f: 'register', name: 'n', value: { error: 'timeout' }, time: 50 },
  { process: 4, type: 'invoke', f: 'whereis_local', name: 'n', value: null, time: 60 },
];

describe('history — reading and writing', () => {
  it('history — events written by the writer read back equal', async () => {
    const dir = freshDir();
    const writer = JsonLinesWriter.history(join(dir, 'history.jsonl'));
    for (const event of EVENTS) writer.append(event);
    await writer.close();
    expect(await readHistory(join(dir, 'history.jsonl'))).toEqual(EVENTS);
    const first = readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n')[0];
    expect(first).toBe(`{"process":0,"type":"invoke","f":"register","name":"n","value":"${A}","time":10}`);
  });

  it('history — an ok write keeps the revision and group the node answered with, after the six fields; pairing carries them', async () => {
    const dir = freshDir();
    const events: HistoryEvent[] = [
      { process: 0, type: 'invoke', f: 'register', name: 'n', value: A, time: 10 },
      { process: 0, type: 'ok', f: 'register', name: 'n', value: 'ok', time: 20, revision: 42, group: 'g2' },
    ];
    const writer = JsonLinesWriter.history(join(dir, 'history.jsonl'));
    for (const event of events) writer.append(event);
    await writer.close();
    expect(await readHistory(join(dir, 'history.jsonl'))).toEqual(events);
    expect(readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n')[1]).toBe(`{"process":0,"type":"ok","f":"register","name":"n","value":"ok","time":20,"revision":42,"group":"g2"}`);
    expect(pairOperations(events)[0]).toMatchObject({ revision: 42, group: 'g2' });
  });

  it('history — singleton events round-trip too, in any time order', async () => {
    const dir = freshDir();
    const events: SingletonEvent[] = [
      { type: 'start', key: 'k', node: 'a@127.0.0.1', token: 7, time: 50 },
      { type: 'stop', key: 'k', node: 'a@127.0.0.1', token: 7, time: 20 },
    ];
    const writer = JsonLinesWriter.singletons(join(dir, 'singletons.jsonl'));
    for (const event of events) writer.append(event);
    await writer.close();
    expect(await readSingletonEvents(join(dir, 'singletons.jsonl'))).toEqual(events);
  });

  it('history — the writer refuses a bad event without writing it, and refuses use after close', async () => {
    const dir = freshDir();
    const path = join(dir, 'history.jsonl');
    const writer = JsonLinesWriter.history(path);
    writer.append(EVENTS[0] as HistoryEvent);
    const bad = { ...(EVENTS[2] as HistoryEvent), value: 'yes' };
    expect(isFedError(refusal(() => writer.append(bad)), 'badarg')).toBe(true);
    await writer.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(isFedError(refusal(() => writer.append(EVENTS[0] as HistoryEvent)), 'closed')).toBe(true);
  });
});

describe('history — validation names the line', () => {
  const valid = EVENTS.map((event) => JSON.stringify(event));
  const cases: [string, string, RegExp][] = [
    ['not json', '{"process": 0,', /not valid JSON/],
    ['bad type', JSON.stringify({ ...EVENTS[0], type: 'done' }), /"type"/],
    ['bad f', JSON.stringify({ ...EVENTS[0], f: 'lookup' }), /"f"/],
    ['negative process', JSON.stringify({ ...EVENTS[0], process: -1 }), /"process"/],
    ['missing value', JSON.stringify({ process: 0, type: 'invoke', f: 'whereis', name: 'n', time: 99 }), /"value" is missing/],
    ['register invoke without owner', JSON.stringify({ ...EVENTS[0], value: null }), /owner/],
    ['whereis invoke with a value', JSON.stringify({ ...EVENTS[1], value: A }), /value null/],
    ['register ok with a bad result', JSON.stringify({ ...EVENTS[2], value: { taken: 3 } }), /"taken"/],
    ['unregister ok with a bad result', JSON.stringify({ ...EVENTS[5], value: { taken: A } }), /"not_owner"/],
    ['whereis ok with a number', JSON.stringify({ ...EVENTS[3], value: 5 }), /owner or null/],
    ['bad time', JSON.stringify({ ...EVENTS[0], time: 'soon' }), /"time"/],
    ['a revision on a read', JSON.stringify({ ...EVENTS[3], revision: 3 }), /belong only to an ok register or unregister/],
    ['a revision on an invoke', JSON.stringify({ ...EVENTS[0], revision: 3 }), /belong only to an ok register or unregister/],
    ['a negative revision', JSON.stringify({ ...EVENTS[2], revision: -3 }), /"revision" must be a non-negative integer/],
    ['an empty group', JSON.stringify({ ...EVENTS[2], group: '' }), /"group" must be a non-empty string/],
  ];
  for (const [label, line, message] of cases) {
    it(`history — ${label} is refused at its line`, () => {
      const text = [...valid.slice(0, 3), line, ...valid.slice(3)].join('\n');
      const error = refusal(() => parseHistory(text));
      expect(isFedError(error, 'badarg')).toBe(true);
      expect((error as Error).message).toMatch(/^history\.jsonl line 4: /);
      expect((error as Error).message).toMatch(message);
      expect((error as { details?: { line?: number } }).details?.line).toBe(4);
    });
  }

  it('history — times that go backwards are refused', () => {
    const text = [valid[0], JSON.stringify({ ...EVENTS[1], time: 5 })].join('\n');
    expect((refusal(() => parseHistory(text)) as Error).message).toContain('line 2');
  });

  it('history — blank lines are refused in the middle and allowed at the end', () => {
    expect((refusal(() => parseHistory([valid[0], '', valid[1]].join('\n'))) as Error).message).toContain('line 2: blank line');
    expect(parseHistory(`${valid.slice(0, 2).join('\n')}\n\n`)).toHaveLength(2);
    expect(parseHistory('')).toEqual([]);
  });

  it('history — singleton lines are validated too', () => {
    const good = JSON.stringify({ type: 'start', key: 'k', node: 'a', token: 1, time: 0 });
    const bad = JSON.stringify({ type: 'start', key: 'k', node: 'a', token: 0, time: 0 });
    const error = refusal(() => parseSingletonEvents([good, bad].join('\n')));
    expect(isFedError(error, 'badarg')).toBe(true);
    expect((error as Error).message).toBe('singletons.jsonl line 2: "token" must be a positive integer');
  });
});

describe('history — pairing operations', () => {
  it('history — invokes pair with their completions; an open call at the end is pending', () => {
    const operations = pairOperations(EVENTS);
    expect(operations.map((operation) => [operation.f, operation.type, operation.invokeLine, operation.completeLine])).toEqual([
      ['register', 'ok', 1, 3],
      ['whereis', 'ok', 2, 4],
      ['unregister', 'ok', 5, 6],
      ['register', 'info', 7, 8],
      ['whereis_local', 'pending', 9, null],
    ]);
    expect(operations[2]?.output).toEqual({ not_owner: null });
  });

  it('history — broken process discipline is refused with the line', () => {
    const busy = [EVENTS[0] as HistoryEvent, { ...(EVENTS[1] as HistoryEvent), process: 0 }];
    expect((refusal(() => pairOperations(busy)) as Error).message).toMatch(/line 2: process 0 invokes while/);
    const orphan = [EVENTS[2] as HistoryEvent];
    expect((refusal(() => pairOperations(orphan)) as Error).message).toMatch(/line 1: process 0 completes an operation it never invoked/);
    const mismatch = [EVENTS[0] as HistoryEvent, { ...(EVENTS[2] as HistoryEvent), name: 'other' }];
    expect((refusal(() => pairOperations(mismatch)) as Error).message).toMatch(/line 2: completion register "other" does not match/);
  });
});
