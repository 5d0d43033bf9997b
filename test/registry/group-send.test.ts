// `group.send(name, msg)` over real links (in-process members on TCP on 127.0.0.1): the name is
// resolved through the registry and the message reaches the holder on its own node or another;
// a linearizable send sees a registration made just before on another member; an unknown name,
// a name whose process died, and a malformed name are typed errors (not_found, badarg) and the
// member keeps serving.
import { afterEach, describe, expect, it } from 'vitest';
import { type Node, type Pid, isFedError } from '../../runtime/index.js';
import { GroupCluster, eventually } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

/** A process that records every message it receives until 'stop'. */
function recorder(node: Node): { pid: Pid; received: unknown[] } {
  const received: unknown[] = [];
  const pid = node.spawn(async (ctx) => {
    for (;;) {
      const msg = await ctx.receive();
      if (msg === 'stop') return;
      received.push(msg);
    }
  });
  return { pid, received };
}

describe('group send — resolves through the registry', () => {
  it('delivers to the holder from its own member and from the others', async () => {
    const [a, b, c] = await cluster.three();
    const target = recorder(b!.node);
    await b!.group.register('inbox', target.pid);
    await eventually('replicated', () => a!.group.whereisLocal('inbox') !== undefined && c!.group.whereisLocal('inbox') !== undefined);
    expect((await b!.group.send('inbox', { n: 1 })).equals(target.pid)).toBe(true);
    expect((await a!.group.send('inbox', { n: 2 })).equals(target.pid)).toBe(true);
    expect((await c!.group.send('inbox', { n: 3 }, { consistency: 'leader' })).equals(target.pid)).toBe(true);
    await eventually('three messages', () => target.received.length === 3);
    expect(target.received).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }, { n: 3 }]));
  });

  it('a linearizable send sees a registration that just committed elsewhere', async () => {
    const [a, , c] = await cluster.three();
    for (let index = 0; index < 10; index++) {
      const target = recorder(a!.node);
      await a!.group.register(`fresh-${index}`, target.pid);
      await c!.group.send(`fresh-${index}`, 'hello', { consistency: 'linearizable' });
      await eventually(`fresh-${index} got it`, () => target.received.length === 1);
    }
  });

  it('an unknown name, a dead holder and a malformed name are typed errors', async () => {
    const [a, b] = await cluster.three();
    const unknown = await a!.group.send('nobody', 'x').catch((error: unknown) => error);
    expect(isFedError(unknown, 'not_found')).toBe(true);
    expect((unknown as { details: { name: string } }).details.name).toBe('nobody');
    const target = recorder(b!.node);
    await b!.group.register('short-lived', target.pid);
    b!.node.send(target.pid, 'stop');
    await eventually('released everywhere', () => a!.group.whereisLocal('short-lived') === undefined);
    expect(isFedError(await a!.group.send('short-lived', 'x').catch((error: unknown) => error), 'not_found')).toBe(true);
    expect(isFedError(await a!.group.send('', 'x').catch((error: unknown) => error), 'badarg')).toBe(true);
    expect(isFedError(await a!.group.send(42 as unknown as string, 'x').catch((error: unknown) => error), 'badarg')).toBe(true);
    // Still serving.
    const after = recorder(a!.node);
    await a!.group.register('after', after.pid);
    await b!.group.send('after', 'ok', { consistency: 'linearizable' });
    await eventually('delivered after the errors', () => after.received.length === 1);
  });
});
