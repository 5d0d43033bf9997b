// The group's ring (in-process members on real TCP on 127.0.0.1): it is built from the COMMITTED
// configuration — a configuration change the leader appended but could not commit leaves every
// ring as it was, and once committed every member's ring has the new member — and each member's
// weight, given when it opens and carried in the replicated member directory, is the same on
// every member's ring and gives it its share of the keys. A bad weight is a config error.
import { afterEach, describe, expect, it } from 'vitest';
import { Distribution, Node, isFedError } from '../../runtime/index.js';
import { Group } from '../../registry/group.js';
import { GroupCluster, eventually, heal } from './group-helpers.js';

let cluster = new GroupCluster();

afterEach(async () => {
  await cluster.close();
  cluster = new GroupCluster();
});

const names = (members: readonly { name: string }[]): string[] => members.map((member) => member.name);

describe('group ring — built from the committed configuration', () => {
  it('an appended but uncommitted member is not on any ring; committed, it is on every ring', async () => {
    const [a, b, c] = await cluster.three({ voterDownGraceMs: 60_000, nameDownGraceMs: 60_000 });
    const before = names(a!.group.ring().members);
    expect(before).toEqual(['a@127.0.0.1', 'b@127.0.0.1', 'c@127.0.0.1']);
    const d = await cluster.start('d');
    await d.distribution.connect(a!.distribution.address);
    // The leader a loses its followers but still leads for a while: d's join is appended, not committed.
    a!.distribution.setBlocked([b!.name, c!.name]);
    b!.distribution.setBlocked([a!.name]);
    c!.distribution.setBlocked([a!.name]);
    d.group.requestJoin(a!.name);
    await eventually('the leader appended d', () => a!.group.status().learners.includes(d.name));
    expect(a!.group.status().commit).toBeLessThan(a!.group.status().lastIndex);
    for (const member of [a!, b!, c!]) expect(names(member.group.ring().members)).toEqual(before);
    expect(a!.group.committedConf().learners).not.toContain(d.name);
    heal(cluster);
    await d.group.join(a!.distribution.address);
    for (const member of [a!, b!, c!, d]) {
      await eventually(`${member.name}'s ring has d`, () => names(member.group.ring().members).includes(d.name));
    }
    const rings = [a!, b!, c!, d].map((member) => JSON.stringify(member.group.ring().members));
    expect(new Set(rings).size).toBe(1);
  });
});

describe('group ring — per-member weights', () => {
  it('a weight given at open reaches every ring and gives that share of the keys', async () => {
    const [a, b, c] = await cluster.three({}, { b: { weight: 3 } });
    const expected = [
      { name: 'a@127.0.0.1', weight: 1 },
      { name: 'b@127.0.0.1', weight: 3 },
      { name: 'c@127.0.0.1', weight: 1 },
    ];
    for (const member of [a!, b!, c!]) {
      await eventually(`${member.name} has the weights`, () => JSON.stringify(member.group.ring().members) === JSON.stringify(expected));
    }
    const keys = Array.from({ length: 20_000 }, (_, index) => `key-${index}`);
    const load = a!.group.ring().loadOf(keys);
    const share = (load.get('b@127.0.0.1') ?? 0) / keys.length;
    // Expected 3/5 = 0.6; the binomial standard deviation over 20,000 keys is about 0.0035.
    expect(share).toBeGreaterThan(0.57);
    expect(share).toBeLessThan(0.63);
  });

  it('refuses a weight that is not an integer in [1, 1000] with config', async () => {
    const node = new Node({ name: 'w@127.0.0.1' });
    await node.start();
    const distribution = await Distribution.start({ node, cookie: 'group-ring-test-cookie-0123456789' });
    try {
      for (const weight of [0, 1.5, 1_001, -2]) {
        const error = await Group.open({ node, distribution, group: 'g1', memory: true, address: distribution.address, weight }).catch((caught: unknown) => caught);
        expect(isFedError(error, 'config'), String(weight)).toBe(true);
      }
    } finally {
      await distribution.close();
      await node.stop();
    }
  });
});
