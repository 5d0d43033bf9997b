/**
 * `fedctl top`: a live, refreshing terminal view of one node, like Erlang's etop/observer —
 * the node's processes by mailbox length (or message rate), its peers with queue depth and
 * heartbeat RTT, its group's Raft state and admission control, event-loop delay and memory.
 *
 * Contract:
 * - Asks the node's admin server for `introspect` every `--interval` ms and redraws the screen.
 * - Keys (when stdin is a terminal): `q` or Ctrl-C quit, `m` sorts by mailbox, `r` by message
 *   rate. SIGINT/SIGTERM quit too. The terminal is restored on every exit path.
 * - `--once` prints one screen and exits (for scripts: with `--json`, one snapshot as JSON;
 *   `--json` without `--once` prints one JSON snapshot per line per interval).
 * - A node that stops answering ends `top` with its typed error (exit code as other commands).
 */
import { type Command, Option } from 'commander';
import { fedError } from '../runtime/index.js';
import type { NodeSnapshot, ProcessSort } from '../runtime/observe/index.js';
import { connectAdmin, type AdminClient } from './admin-client.js';
import { resolveCookie, resolveNodeTarget } from './config.js';
import type { GlobalOptions } from './main.js';
import { formatTable, type Output } from './output.js';

type Run = (action: (output: Output) => Promise<number | void>) => Promise<void>;

const INTERVAL_MS_MIN = 100;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CTRL_C = '\x03';

interface TopOptions {
  interval: string;
  sort: ProcessSort;
  count: string;
  once: boolean;
}

export function registerTopCommand(program: Command, run: Run): void {
  program
    .command('top')
    .description('live view of a node: processes by mailbox or message rate, peers, Raft state (q quits)')
    .addOption(new Option('--interval <ms>', 'refresh period').default('1000'))
    .addOption(new Option('--sort <key>', 'order processes by').choices(['mailbox', 'rate']).default('mailbox'))
    .addOption(new Option('--count <n>', 'processes shown').default('20'))
    .addOption(new Option('--once', 'print one screen and exit').default(false))
    .action(async function (this: Command) {
      const command = this;
      await run(async (output) => topAction(command.optsWithGlobals<GlobalOptions & TopOptions>(), output));
    });
}

async function topAction(options: GlobalOptions & TopOptions, output: Output): Promise<number> {
  const target = resolveNodeTarget(options);
  const intervalMs = Number(options.interval);
  if (!(Number.isInteger(intervalMs) && intervalMs >= INTERVAL_MS_MIN)) throw fedError('config', `--interval wants an integer ≥ ${INTERVAL_MS_MIN}, got ${options.interval}`);
  const count = Number(options.count);
  if (!(Number.isInteger(count) && count >= 0)) throw fedError('config', `--count wants a non-negative integer, got ${options.count}`);
  const timeoutMs = Number(options.timeout);
  const cookie = resolveCookie({ cookie: options.cookie, cookieFile: options.cookieFile });
  const client = await connectAdmin(target.address, cookie, timeoutMs, { link: target.link });
  try {
    if (options.once) {
      const snapshot = await introspect(client, count, options.sort);
      output.write(output.json ? JSON.stringify(snapshot) : renderScreen(snapshot, { interactive: false }));
      return 0;
    }
    await loop(client, output, { intervalMs, count, sort: options.sort });
    return 0;
  } finally {
    await client.close();
  }
}

function introspect(client: AdminClient, top: number, sortBy: ProcessSort): Promise<NodeSnapshot> {
  return client.request({ op: 'introspect', top, sortBy }) as Promise<NodeSnapshot>;
}

/** Refresh until a quit key or signal; rejects with the node's error if it stops answering. */
async function loop(client: AdminClient, output: Output, settings: { intervalMs: number; count: number; sort: ProcessSort }): Promise<void> {
  const terminal = process.stdin.isTTY === true && !output.json;
  let sort = settings.sort;
  let stop: () => void = () => undefined;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let quit = false;
  const onKey = (chunk: Buffer): void => {
    const key = chunk.toString('utf8');
    if (key === 'q' || key === CTRL_C) quit = true;
    else if (key === 'm') sort = 'mailbox';
    else if (key === 'r') sort = 'rate';
    else return;
    if (quit) stop();
    wake();
  };
  const onSignal = (): void => {
    quit = true;
    stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (terminal) {
    process.stdin.setRawMode(true);
    process.stdout.write(HIDE_CURSOR);
  }
  process.stdin.on('data', onKey);
  process.stdin.resume();
  try {
    while (!quit) {
      const snapshot = await introspect(client, settings.count, sort);
      if (quit) break;
      if (output.json) output.write(JSON.stringify(snapshot));
      else process.stdout.write(CLEAR_SCREEN + renderScreen(snapshot, { interactive: true }) + '\n');
      await Promise.race([stopped, new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, settings.intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      })]);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdin.off('data', onKey);
    process.stdin.pause();
    if (terminal) {
      process.stdin.setRawMode(false);
      process.stdout.write(SHOW_CURSOR);
    }
  }
}

/** One screen of `top`, as text (exported for tests and `--once`). */
export function renderScreen(snapshot: NodeSnapshot, options: { interactive: boolean }): string {
  const lines: string[] = [];
  const { processes, messages, eventLoop, memory, group } = snapshot;
  lines.push(`fedctl top — ${snapshot.node} (creation ${snapshot.creation})   uptime ${formatDuration(snapshot.uptimeSeconds)}   ${new Date(snapshot.timeMs).toISOString().slice(11, 19)}`);
  lines.push(
    `processes ${processes.count}   queued ${processes.queuedMessages}   longest ${processes.longestQueue}   delivered/s ${messages.deliveredPerSecond.toFixed(1)}   ` +
      `sent local ${messages.sentLocal} remote ${messages.sentRemote}   received remote ${messages.receivedRemote}   ` +
      `dropped ${messages.droppedNewest + messages.droppedOldest}   refused ${messages.rejected}   killed(full) ${messages.killedMailboxFull}`,
  );
  lines.push(
    `event loop p50 ${eventLoop.delayP50Ms.toFixed(1)} ms  p99 ${eventLoop.delayP99Ms.toFixed(1)} ms  max ${eventLoop.delayMaxMs.toFixed(1)} ms  busy ${(eventLoop.utilization * 100).toFixed(0)}%   ` +
      `heap ${formatBytes(memory.heapUsedBytes)} (peak ${formatBytes(memory.heapUsedBytesPeak)})   rss ${formatBytes(memory.rssBytes)}`,
  );
  if (group !== null) {
    const admission = group.admission;
    lines.push(
      `group ${group.group}   role ${group.role}   leader ${group.leader ?? '-'}   term ${group.term}   commit ${group.commit}   applied ${group.applied}   ` +
        `names ${group.names}   proposals/s ${group.proposalsPerSecond.toFixed(1)}` +
        (admission === null ? '' : `   in flight ${admission.proposalsInFlight}/${admission.proposalsInFlightMax}   refused ${admission.rejectedOverloadedTotal}`),
    );
  }
  const federation = snapshot.federation;
  if (federation !== null) {
    lines.push(
      `federation: root ${federation.rootGroup ?? '?'}   groups ${federation.groups ?? '?'}   slots owned ${federation.ownedSlots}   global names ${federation.names}   ` +
        `gateways ${federation.gateways}${federation.isGateway ? ' (this member is one)' : ''}   cached ${federation.cachedNames}` +
        (federation.cacheHitRatio === null ? '' : `   cache hits ${(federation.cacheHitRatio * 100).toFixed(0)}%`),
    );
  }
  lines.push('');
  lines.push(`PROCESSES (by ${processes.sortedBy === 'rate' ? 'message rate' : 'mailbox length'})`);
  lines.push(
    formatTable(
      ['pid', 'name', 'mailbox', 'received', 'msgs/s'],
      processes.top.map((row) => [row.pid, row.name ?? '', row.messageQueueLength, row.messagesReceived, row.ratePerSecond === null ? '-' : row.ratePerSecond.toFixed(1)]),
    ),
  );
  lines.push('');
  lines.push('PEERS');
  lines.push(
    formatTable(
      ['peer', 'kind', 'state', 'queued', 'rtt ms', 'hb gap ms', 'sent', 'received', 'dropped'],
      snapshot.peers.map((peer) => [
        peer.node,
        peer.hidden ? 'hidden' : 'visible',
        peer.state,
        formatBytes(peer.outboundBytes),
        peer.heartbeatRttMs === null ? '-' : peer.heartbeatRttMs.toFixed(2),
        peer.heartbeatGapMsMax === null ? '-' : peer.heartbeatGapMsMax.toFixed(0),
        peer.dataSent,
        peer.dataReceived,
        peer.dataDropped,
      ]),
    ),
  );
  if (group !== null) {
    lines.push('');
    lines.push('RAFT MEMBERS');
    lines.push(formatTable(['member', 'role', 'state', 'leader', 'lag'], group.members.map((member) => [member.node, member.role, member.state, member.leader ? 'yes' : '', member.lag ?? '-'])));
  }
  if (options.interactive) {
    lines.push('');
    lines.push('q quit · m sort by mailbox · r sort by message rate');
  }
  return lines.join('\n');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function formatDuration(seconds: number): string {
  const whole = Math.floor(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return hours > 0 ? `${hours}h${String(minutes).padStart(2, '0')}m` : minutes > 0 ? `${minutes}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`;
}
