// namesInPages, the client side of paged listings, against stub answers of three node releases:
// one that pages and knows `all` (pages followed to the end), one that pages but predates `all`
// (its answer lacks `all: true`, so the client asks the single-answer way rather than take one
// group's names for all), and one from before paging (badarg: the single-answer way).
import { describe, expect, it } from 'vitest';
import { namesInPages, type AdminClient } from '../../cli/admin-client.js';
import type { AdminRequest, NameInfo } from '../../cli/admin-protocol.js';
import { fedError } from '../../runtime/index.js';

const row = (name: string, group = 'g1'): NameInfo => ({ name, pid: '<a@127.0.0.1#1.1>', node: 'a@127.0.0.1', group, revision: 1, meta: {} });

function stub(answer: (request: AdminRequest) => unknown): { client: AdminClient; asked: AdminRequest[] } {
  const asked: AdminRequest[] = [];
  const respond = async (request: AdminRequest) => {
    asked.push(request);
    return answer(request);
  };
  return { client: { request: respond, requestOnce: respond, close: async () => undefined } as unknown as AdminClient, asked };
}

describe('namesInPages — paged listings across releases', () => {
  it('follows the pages of a node that knows all, to the end, in order', async () => {
    const pages: Record<string, { names: NameInfo[]; next: string | null; all?: boolean }> = {
      '': { names: [row('a'), row('b')], next: 'b', all: true },
      b: { names: [row('c', 'g2')], next: 'c', all: true },
      c: { names: [row('d')], next: null, all: true },
    };
    const { client, asked } = stub((request) => pages[(request as { after?: string }).after ?? '']);
    const names = await namesInPages(client, '', 1_000, { all: true });
    expect(names.map((info) => info.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(asked.map((request) => request.op)).toEqual(['names_page', 'names_page', 'names_page']);
    expect(asked.every((request) => (request as { all?: boolean }).all === true)).toBe(true);
  });

  it('asks the single-answer way when a paging node ignored all (its page lacks all: true)', async () => {
    const { client, asked } = stub((request) =>
      request.op === 'names_page' ? { names: [row('own-group-only')], next: null } : [row('a'), row('b', 'g2')],
    );
    const names = await namesInPages(client, '', 1_000, { all: true });
    expect(names.map((info) => info.name)).toEqual(['a', 'b']);
    expect(asked.map((request) => request.op)).toEqual(['names_page', 'names']);
    expect(asked[1]).toMatchObject({ op: 'names', all: true });
  });

  it('asks the single-answer way when a node predates paging (badarg unknown admin request)', async () => {
    const { client, asked } = stub((request) => {
      if (request.op === 'names_page') throw fedError('badarg', 'unknown admin request "names_page"');
      return [row('x')];
    });
    expect((await namesInPages(client, 'x', 1_000)).map((info) => info.name)).toEqual(['x']);
    expect(asked.map((request) => request.op)).toEqual(['names_page', 'names']);
    expect(asked[1]).not.toHaveProperty('all');
  });

  it('other errors are the caller\'s, and a cursor that does not advance ends the listing', async () => {
    const failing = stub(() => {
      throw fedError('unavailable', 'no leader');
    });
    await expect(namesInPages(failing.client, '', 1_000)).rejects.toMatchObject({ code: 'unavailable' });
    const stuck = stub(() => ({ names: [row('same')], next: 'same' }));
    const names = await namesInPages(stuck.client, '', 1_000);
    expect(names.length).toBe(2);
    expect(stuck.asked).toHaveLength(2);
  });
});
