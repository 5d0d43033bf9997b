/**
 * The metrics endpoint of a live node: three real `fedctl start --metrics 127.0.0.1:0` child
 * processes (the bound address read from their log line), scraped over HTTP. Proves that every
 * `fedctl_*` metric is exposed with its HELP and TYPE (counters end in `_total`), and that the
 * values mean what they say: registrations move the names gauge, the applied-commands and
 * admitted-proposals counters and the process count; the leader reports itself and the lag of
 * each member; each node sees its two peers with a heartbeat RTT; message counters grow with
 * traffic; event-loop delay as three gauges; heartbeat counters and gaps per peer; a stopped
 * member keeps its `peer_up` series at 0. Also proves /livez and /readyz (503 with a reason on a node that is not a member),
 * 404 elsewhere, and JSON logs carrying node, group, pid and component on every line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS } from '../../runtime/observe/index.js';
import { CliHarness, type StartedNode, eventually } from '../cli/harness.js';

const harness = new CliHarness();
let a: StartedNode;
let b: StartedNode;
let c: StartedNode;

function metricsAddress(node: StartedNode): string {
  const match = /metrics: listening on http:\/\/(\S+)\/metrics/.exec(node.stderr);
  if (match === null) throw new Error(`${node.name} logged no metrics address: ${node.stderr}`);
  return match[1] as string;
}

async function get(node: StartedNode, path: string): Promise<{ status: number; body: string; type: string }> {
  const response = await fetch(`http://${metricsAddress(node)}${path}`);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') ?? '' };
}

/** The samples of one metric in exposition text, keyed by their label set ('' for none). */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match !== null && match[1] === name) found.set(match[2] ?? '', Number(match[3]));
  }
  return found;
}

function value(text: string, name: string, labels = ''): number {
  const found = samples(text, name).get(labels);
  if (found === undefined) throw new Error(`no sample ${name}${labels}`);
  return found;
}

const on = (node: StartedNode, ...args: string[]) => harness.run(['--node', node.address, ...args]);

beforeAll(async () => {
  const metrics = ['--metrics', '127.0.0.1:0', '--log-format', 'json'];
  a = await harness.startNode('a', metrics);
  // c busy-waits after link activity (the flag's path to the distribution is checked below).
  [b, c] = await Promise.all([harness.startNode('b', [...metrics, '--seed', a.address]), harness.startNode('c', [...metrics, '--seed', a.address, '--busy-wait-us', '300'])]);
  await eventually('three voters', async () => {
    const result = await harness.run(['--node', a.address, '--json', 'members']);
    const members = result.code === 0 ? (JSON.parse(result.stdout) as Array<{ role: string }>) : [];
    return members.filter((member) => member.role === 'voter').length === 3;
  });
}, 60_000);

afterAll(async () => {
  await harness.close();
});

describe('metrics endpoint — presence', () => {
  it('exposes every fedctl_* metric with HELP and TYPE; counters end in _total', async () => {
    const scrape = await get(a, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.type).toContain('text/plain');
    for (const definition of METRIC_DEFINITIONS) {
      const name = `fedctl_${definition.name}`;
      expect(scrape.body).toContain(`# HELP ${name} `);
      expect(scrape.body).toContain(`# TYPE ${name} ${definition.type}`);
      expect(definition.type === 'counter').toBe(name.endsWith('_total'));
    }
    // Node's default process metrics share the prefix.
    expect(scrape.body).toMatch(/^fedctl_process_cpu_user_seconds_total /m);
    expect(scrape.body).toMatch(/^fedctl_nodejs_heap_size_used_bytes /m);
    // No metric outside the prefix.
    for (const line of scrape.body.split('\n')) if (line !== '' && !line.startsWith('#')) expect(line.startsWith('fedctl_')).toBe(true);
  });
});

describe('metrics endpoint — meaning on a live group', () => {
  it('registrations move names, applied commands, admitted proposals and processes', async () => {
    const before = (await get(b, '/metrics')).body;
    for (const name of ['m1', 'm2', 'm3']) expect((await on(b, 'register', name)).code).toBe(0);
    const after = (await get(b, '/metrics')).body;
    expect(value(after, 'fedctl_registry_names') - value(before, 'fedctl_registry_names')).toBe(3);
    expect(value(after, 'fedctl_registry_proposals_admitted_total') - value(before, 'fedctl_registry_proposals_admitted_total')).toBe(3);
    expect(value(after, 'fedctl_raft_applied_commands_total') - value(before, 'fedctl_raft_applied_commands_total')).toBeGreaterThanOrEqual(3);
    // Each service entry is a holder process on b.
    expect(value(after, 'fedctl_processes') - value(before, 'fedctl_processes')).toBe(3);
    // The admin server received the three requests (plus nothing forces exactness of others).
    expect(value(after, 'fedctl_messages_delivered_total') - value(before, 'fedctl_messages_delivered_total')).toBeGreaterThanOrEqual(3);
    expect(value(after, 'fedctl_messages_received_remote_total')).toBeGreaterThan(value(before, 'fedctl_messages_received_remote_total'));
    expect(value(after, 'fedctl_raft_commit_index')).toBeGreaterThanOrEqual(value(before, 'fedctl_raft_commit_index') + 3);
    expect(value(after, 'fedctl_registry_proposals_rejected_total', '{reason="overloaded"}')).toBe(0);
  });

  it('--busy-wait-us: the member started with it spins after link traffic; the others (default, off) never do', async () => {
    for (const name of ['bw1', 'bw2']) expect((await on(c, 'register', name)).code).toBe(0);
    const [onA, onB, onC] = await Promise.all([a, b, c].map(async (node) => value((await get(node, '/metrics')).body, 'fedctl_dist_busy_wait_turns_total')));
    expect(onC).toBeGreaterThan(0);
    expect(onA).toBe(0);
    expect(onB).toBe(0);
  });

  it('exactly one node reports itself leader, and the leader reports every member’s lag', async () => {
    const bodies = await Promise.all([a, b, c].map(async (node) => (await get(node, '/metrics')).body));
    const leaders = bodies.filter((body) => value(body, 'fedctl_raft_is_leader') === 1);
    expect(leaders).toHaveLength(1);
    for (const body of bodies) expect(value(body, 'fedctl_raft_has_leader')).toBe(1);
    const lag = samples(leaders[0] as string, 'fedctl_raft_replication_lag_entries');
    expect([...lag.keys()].sort()).toEqual(['{member="a@127.0.0.1"}', '{member="b@127.0.0.1"}', '{member="c@127.0.0.1"}']);
    for (const entries of lag.values()) expect(entries).toBeGreaterThanOrEqual(0);
    const terms = new Set(bodies.map((body) => value(body, 'fedctl_raft_term')));
    expect(terms.size).toBe(1);
  });

  it('each node sees its two peers up, with a heartbeat RTT and an outbound queue depth', async () => {
    const body = await eventually('RTT samples on a', async () => {
      const text = (await get(a, '/metrics')).body;
      return samples(text, 'fedctl_peer_heartbeat_rtt_seconds').size >= 2 ? text : undefined;
    });
    expect(value(body, 'fedctl_peers', '{kind="visible"}')).toBe(2);
    expect([...samples(body, 'fedctl_peer_up').keys()]).toEqual(expect.arrayContaining(['{peer="b@127.0.0.1"}', '{peer="c@127.0.0.1"}']));
    for (const seconds of samples(body, 'fedctl_peer_heartbeat_rtt_seconds').values()) {
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(5);
    }
    expect(value(body, 'fedctl_peer_outbound_bytes', '{peer="b@127.0.0.1"}')).toBeGreaterThanOrEqual(0);
    expect(value(body, 'fedctl_dist_connections_opened_total')).toBeGreaterThanOrEqual(2);
    expect(value(body, 'fedctl_event_loop_delay_p99_seconds')).toBeGreaterThanOrEqual(value(body, 'fedctl_event_loop_delay_p50_seconds'));
    expect(value(body, 'fedctl_event_loop_delay_max_seconds')).toBeGreaterThanOrEqual(value(body, 'fedctl_event_loop_delay_p99_seconds'));
    // Heartbeats arrive every 500 ms; the failure detector's timeout is 3 s.
    for (const peer of ['b@127.0.0.1', 'c@127.0.0.1']) {
      expect(value(body, 'fedctl_peer_heartbeats_received_total', `{peer="${peer}"}`)).toBeGreaterThan(0);
      expect(value(body, 'fedctl_peer_heartbeat_gap_seconds_max', `{peer="${peer}"}`)).toBeLessThan(3);
    }
    // Not a member of any federation: federation_member says so, the other figures read 0.
    expect(value(body, 'fedctl_federation_member')).toBe(0);
    expect(value(body, 'fedctl_federation_owned_slots')).toBe(0);
    expect(value(body, 'fedctl_heap_used_peak_bytes')).toBeGreaterThanOrEqual(value(body, 'fedctl_heap_used_bytes') * 0.5);
  });
});

describe('metrics endpoint — a member that stops', () => {
  it('stays listed with peer_up 0 (its series does not vanish) and leaves no heartbeat gap series', async () => {
    const d = await harness.startNode('d', ['--seed', a.address]);
    await eventually('d up on a', async () => samples((await get(a, '/metrics')).body, 'fedctl_peer_up').get('{peer="d@127.0.0.1"}') === 1);
    expect(await d.stop()).toBe(0);
    const body = await eventually('d down on a', async () => {
      const text = (await get(a, '/metrics')).body;
      return samples(text, 'fedctl_peer_up').get('{peer="d@127.0.0.1"}') === 0 ? text : undefined;
    });
    expect(samples(body, 'fedctl_peer_heartbeat_gap_seconds_max').has('{peer="d@127.0.0.1"}')).toBe(false);
    expect(value(body, 'fedctl_peer_up', '{peer="b@127.0.0.1"}')).toBe(1);
  });
});

describe('health endpoints', () => {
  it('livez and readyz answer 200 on a serving member; other paths 404; POST 405', async () => {
    expect(await get(a, '/livez')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(a, '/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await get(a, '/nothing')).status).toBe(404);
    const post = await fetch(`http://${metricsAddress(a)}/metrics`, { method: 'POST' });
    await post.text();
    expect(post.status).toBe(405);
  });

  it('readyz answers 503 with a reason on a node that is no member yet', async () => {
    const lone = await harness.startNode('lone', ['--metrics', '127.0.0.1:0', '--no-bootstrap']);
    const ready = await get(lone, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/^not ready: not a member of group g1/);
    expect((await get(lone, '/livez')).status).toBe(200);
    expect(await lone.stop()).toBe(0);
  });
});

describe('structured logs', () => {
  it('every JSON log line carries time, level, pid, node, group and component', () => {
    const lines = b.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    const components = new Set<string>();
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry).toMatchObject({ node: 'b@127.0.0.1', group: 'g1', pid: b.child.pid });
      expect(typeof entry.time).toBe('string');
      expect(['debug', 'info', 'warn', 'error']).toContain(entry.level);
      expect(typeof entry.component).toBe('string');
      expect(typeof entry.msg).toBe('string');
      components.add(entry.component as string);
    }
    expect([...components]).toEqual(expect.arrayContaining(['node', 'metrics', 'dist']));
  });
});
