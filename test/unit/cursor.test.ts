import { describe, expect, it } from '@jest/globals';

import { decodeCursor, encodeCursor } from '../../src/pagination/cursor.js';
import { parsePageRequest } from '../../src/pagination/connection.js';
import { fromGlobalId, idOfType, toGlobalId } from '../../src/graphql/global-id.js';

const ID = '7b0e3c1a-5d2f-4a8e-9c3b-1f2e3d4c5b6a';
const sort = { name: 'PRICE', kind: 'integer' as const, direction: 'ASC' as const };

describe('cursors', () => {
  it('round-trips a position', () => {
    const cursor = encodeCursor('CREATED_AT', { key: '2026-11-24 01:02:03.123456+00', id: ID });
    expect(decodeCursor(cursor, 'CREATED_AT', 'timestamp', 'after')).toEqual({ key: '2026-11-24 01:02:03.123456+00', id: ID });
  });

  it.each([
    ['another sort', encodeCursor('TITLE', { key: '10', id: ID })],
    ['a key of the wrong kind', encodeCursor('PRICE', { key: '10; DROP TABLE products', id: ID })],
    ['a non-uuid id', encodeCursor('PRICE', { key: '10', id: '1 OR 1=1' })],
    ['non-base64 text', 'abc$%'],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64url')],
    ['the empty string', ''],
    ['an enormous string', 'A'.repeat(20_000)],
  ])('rejects %s with BAD_USER_INPUT', (_name, cursor) => {
    expect(() => decodeCursor(cursor, 'PRICE', 'integer', 'after')).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', argument: 'after' }) }),
    );
  });
});

describe('page requests', () => {
  it('defaults to 20 forward', () => {
    expect(parsePageRequest({}, sort)).toEqual({ sort, backward: false, limit: 20, cursor: undefined });
  });

  it('pages backward with last/before', () => {
    const before = encodeCursor('PRICE', { key: '5', id: ID });
    expect(parsePageRequest({ last: 3, before }, sort)).toEqual({ sort, backward: true, limit: 3, cursor: { key: '5', id: ID } });
  });

  it.each([
    [{ first: 101 }, 'first'],
    [{ first: -1 }, 'first'],
    [{ last: 1000 }, 'last'],
    [{ first: 1, last: 1 }, 'last'],
    [{ first: 1, before: encodeCursor('PRICE', { key: '5', id: ID }) }, 'before'],
  ])('rejects %j naming %s', (args, argument) => {
    expect(() => parsePageRequest(args, sort)).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', argument }) }),
    );
  });
});

describe('global ids', () => {
  it('round-trips and is opaque', () => {
    const id = toGlobalId('Product', ID);
    expect(id).not.toContain(ID);
    expect(fromGlobalId(id)).toEqual({ type: 'Product', id: ID });
    expect(idOfType(id, 'Product')).toBe(ID);
  });

  it.each(['', 'x', Buffer.from(`Product:${ID}x`).toString('base64url'), Buffer.from(`Nope:${ID}`).toString('base64url'), 'a'.repeat(500)])(
    'rejects malformed id %p',
    (id) => {
      expect(() => fromGlobalId(id)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }));
    },
  );

  it('rejects an id of the wrong type where a type is required', () => {
    expect(() => idOfType(toGlobalId('User', ID), 'Product', 'productId')).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ argument: 'productId' }) }),
    );
  });
});
