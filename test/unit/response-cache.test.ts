import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from '@jest/globals';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql } from 'graphql';

import { MemoryResponseStore, RedisResponseStore, type CachedResponse, type ResponseStore } from '../../src/cache/store.js';
import { collectCacheTags, type ResponseCapture } from '../../src/cache/tag-collection.js';
import { tagsOfChanges } from '../../src/cache/tags.js';
import { closeRedisClient, createRedisClient, type Redis } from '../../src/redis/client.js';
import { redisAnswers, testRedisUrl } from '../helpers/redis.js';

function response(data: string): CachedResponse {
  return { data, etag: `W/"${data.length}"`, operationName: 'Test', cost: { requested: 3, actual: 2 } };
}

const redisReachable = await redisAnswers();
const clients: Redis[] = [];

const stores: Array<[string, () => Promise<ResponseStore>]> = [
  ['memory', async () => new MemoryResponseStore({ maxEntries: 100, maxBytes: 1_000_000, ttlMs: 60_000 })],
];
if (redisReachable) {
  stores.push([
    'redis',
    async () => {
      const client = createRedisClient(testRedisUrl);
      clients.push(client);
      // The client fails fast (no offline queue): wait until it is connected.
      await once(client, 'ready');
      return new RedisResponseStore(client, { prefix: `unit-${randomUUID()}`, ttlMs: 60_000, maxEntryBytes: 125_000 });
    },
  ]);
} else {
  process.stderr.write('unit/response-cache.test: Redis did not answer PING within 500 ms; the Redis store cases are not registered\n');
}

afterAll(async () => {
  await Promise.all(clients.map((client) => closeRedisClient(client)));
});

describe.each(stores)('%s response store', (_name, make) => {
  it('returns what was stored, with the token to store under', async () => {
    const store = await make();
    const miss = await store.get('k1');
    expect(miss.entry).toBeUndefined();
    expect(await store.set('k1', response('{"a":1}'), ['Product:1'], miss.token)).toBe(true);
    expect((await store.get('k1')).entry).toEqual(response('{"a":1}'));
  });

  it('drops exactly the entries that carry an invalidated tag', async () => {
    const store = await make();
    const { token } = await store.get('x');
    await store.set('one', response('1'), ['Product:1', 'Category:9'], token);
    await store.set('two', response('2'), ['Product:2', 'Category:9'], token);
    await store.set('list', response('3'), ['Product:*'], token);
    await store.invalidate(['Product:1', 'Product:*']);
    expect([(await store.get('one')).entry, (await store.get('two')).entry, (await store.get('list')).entry]).toEqual([undefined, response('2'), undefined]);
    await store.invalidate(['Category:9']);
    expect((await store.get('two')).entry).toBeUndefined();
  });

  it('refuses a response computed before an invalidation of one of its tags, and keeps one computed after', async () => {
    const store = await make();
    const before = await store.get('k');
    // A write commits while the response is being computed from the old rows.
    await store.invalidate(['Product:1']);
    expect(await store.set('k', response('stale'), ['Product:1', 'User:4'], before.token)).toBe(false);
    expect((await store.get('k')).entry).toBeUndefined();
    // Other tags' invalidations do not matter to it.
    expect(await store.set('k2', response('fine'), ['Product:2'], before.token)).toBe(true);
    const after = await store.get('k');
    expect(await store.set('k', response('fresh'), ['Product:1'], after.token)).toBe(true);
    expect((await store.get('k')).entry?.data).toBe('fresh');
  });

  it('clears every entry, and refuses a response computed before the clear', async () => {
    const store = await make();
    const before = await store.get('a');
    await store.set('a', response('1'), ['Product:1'], before.token);
    await store.set('b', response('2'), [], before.token);
    await store.clear();
    expect([(await store.get('a')).entry, (await store.get('b')).entry]).toEqual([undefined, undefined]);
    expect(await store.set('c', response('stale'), ['User:1'], before.token)).toBe(false);
    const after = await store.get('c');
    expect(await store.set('c', response('fresh'), ['User:1'], after.token)).toBe(true);
    expect((await store.get('c')).entry?.data).toBe('fresh');
  });
});

describe('memory response store bounds', () => {
  it('evicts the least recently used entry beyond max entries, and forgets its tags', async () => {
    const store = new MemoryResponseStore({ maxEntries: 2, maxBytes: 1_000_000, ttlMs: 60_000 });
    const { token } = await store.get('-');
    await store.set('a', response('a'), ['Product:1'], token);
    await store.set('b', response('b'), ['Product:2'], token);
    await store.get('a');
    await store.set('c', response('c'), ['Product:3'], token);
    expect([(await store.get('a')).entry?.data, (await store.get('b')).entry, (await store.get('c')).entry?.data]).toEqual(['a', undefined, 'c']);
    await store.invalidate(['Product:2']);
    expect((await store.get('a')).entry?.data).toBe('a');
  });

  it('does not store a response larger than an eighth of the byte budget', async () => {
    const store = new MemoryResponseStore({ maxEntries: 100, maxBytes: 80_000, ttlMs: 60_000 });
    const { token } = await store.get('-');
    expect(await store.set('big', response('x'.repeat(20_000)), [], token)).toBe(false);
    expect(await store.set('small', response('x'.repeat(1_000)), [], token)).toBe(true);
  });
});

describe('cache tags', () => {
  it('names the changed object and its set, and a review also its product', () => {
    expect(
      tagsOfChanges([
        { entity: 'product', id: 'p1' },
        { entity: 'review', id: 'r1', productId: 'p1' },
        { entity: 'order', id: 'o1' },
        { entity: 'category', id: 'c1' },
        { entity: 'user', id: 'u1' },
      ]).sort(),
    ).toEqual(['Category:*', 'Category:c1', 'Order:*', 'Order:o1', 'Product:*', 'Product:p1', 'Review:*', 'Review:r1', 'User:*', 'User:u1'].sort());
  });

  const schema = collectCacheTags(
    makeExecutableSchema({
      typeDefs: /* GraphQL */ `
        interface Node { id: ID! }
        type Product implements Node { id: ID! title: String! seller: User }
        type User implements Node { id: ID! name: String! }
        type ProductConnection { nodes: [Product!]! totalCount: Int! }
        type Query {
          product(id: ID!): Product
          products: ProductConnection!
          node(id: ID!): Node
          count: Int!
        }
      `,
      resolvers: {
        Query: {
          product: (_root: unknown, { id }: { id: string }) => (id === 'p1' ? { id: 'p1', title: 'Desk', sellerId: 'u1' } : null),
          products: () => ({ nodes: [{ id: 'p1', title: 'Desk', sellerId: 'u1' }, { id: 'p2', title: 'Lamp', sellerId: 'gone' }], totalCount: 2 }),
          node: (_root: unknown, { id }: { id: string }, ctx: { nodeTypes: WeakMap<object, string> }) => {
            const row = { id, name: 'Ann' };
            ctx.nodeTypes.set(row, 'User');
            return row;
          },
          count: () => 2,
        },
        Product: { seller: (product: { sellerId: string }) => Promise.resolve(product.sellerId === 'u1' ? { id: 'u1', name: 'Ann' } : null) },
        Node: { __resolveType: () => 'User' },
      },
    }),
  );

  async function tagsOf(source: string): Promise<string[]> {
    const capture: ResponseCapture = { tags: new Set(), query: true };
    const result = await graphql({ schema, source, contextValue: { responseCache: capture, nodeTypes: new WeakMap() } });
    expect(result.errors).toBeUndefined();
    return [...capture.tags].sort();
  }

  it('tags each object a response shows, by type and id, through nested fields', async () => {
    expect(await tagsOf('{ product(id: "p1") { title seller { name } } }')).toEqual(['Product:p1', 'User:u1']);
    expect(await tagsOf('{ node(id: "u7") { id } }')).toEqual(['User:u7']);
  });

  it("tags a list's set, and the set of a type where a field found nothing", async () => {
    expect(await tagsOf('{ products { totalCount } }')).toEqual(['Product:*']);
    expect(await tagsOf('{ products { nodes { title seller { name } } } }')).toEqual(['Product:*', 'Product:p1', 'Product:p2', 'User:*', 'User:u1']);
    expect(await tagsOf('{ product(id: "nope") { title } }')).toEqual(['Product:*']);
  });

  it('collects nothing for fields that show no object, and nothing without a capture', async () => {
    expect(await tagsOf('{ count }')).toEqual([]);
    const result = await graphql({ schema, source: '{ product(id: "p1") { title } }', contextValue: { nodeTypes: new WeakMap() } });
    expect(result.data).toEqual({ product: { title: 'Desk' } });
  });
});
