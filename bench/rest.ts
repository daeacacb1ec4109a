/**
 * `npm run bench:rest`: `GET /v1/products` against the same GraphQL
 * operation sent to `/graphql` (the document of rest/v1/list-products.graphql,
 * same variables), on one production server, anonymous, response cache off
 * (both sides execute every request), in interleaved rounds of the same
 * closed-loop load. The REST route adds its variable mapping and the
 * answer's translation; the target is a ratio of at least 0.9. Knobs:
 * BENCH_REST_PRODUCTS (5,000), BENCH_REST_CONNECTIONS (16),
 * BENCH_REST_ROUND_SECONDS (8), BENCH_REST_ROUNDS (3).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createDb } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { startBenchDatabase } from './lib/database.js';
import { closedLoop, type LoadRequest, type LoadResult } from './lib/load.js';
import { ensureProductionBuild, startProductionServer } from './lib/production-server.js';
import { mergeRounds } from './lib/response-cache.js';
import { seedCatalog } from './lib/seed.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const products = envInt('BENCH_REST_PRODUCTS', 5_000);
const connections = envInt('BENCH_REST_CONNECTIONS', 16);
const roundMs = envInt('BENCH_REST_ROUND_SECONDS', 8) * 1000;
const rounds = envInt('BENCH_REST_ROUNDS', 3);
const progress = (message: string) => process.stderr.write(`bench:rest: ${message}\n`);

// The route's own document, without its header: what the REST route sends to GraphQL.
const source = await readFile(new URL('../rest/v1/list-products.graphql', import.meta.url), 'utf8');
const document = source.split('\n').filter((line, index, lines) => !(line.startsWith('#') && lines.slice(0, index).every((l) => l.startsWith('#')))).join('\n');

const restRequest: LoadRequest = { method: 'GET', path: '/v1/products?first=20&inStock=true&sort=PRICE&direction=ASC', headers: {} };
const graphqlRequest: LoadRequest = {
  method: 'POST',
  path: '/graphql',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: Buffer.from(JSON.stringify({ query: document, operationName: 'ListProducts', variables: { first: 20, inStock: true, sort: 'PRICE', direction: 'ASC' } })),
};
const isRestAnswer = (status: number, body: string) => status === 200 && body.startsWith('{"totalCount":');
const isGraphQLAnswer = (status: number, body: string) => status === 200 && body.startsWith('{"data":{"products":') && !body.includes('"errors"');

await ensureProductionBuild();
const database = await startBenchDatabase();
try {
  const db = createDb({ url: database.url, poolMax: 4, statementTimeoutMs: 300_000 }, () => undefined);
  try {
    await migrateToLatest(db);
    progress(`seeding ${products} products`);
    await seedCatalog(db, { products, categories: 10, sellers: 20, customers: 50, maxReviewsPerProduct: 3 });
  } finally {
    await db.destroy();
  }
  const server = await startProductionServer(database.url, { JWT_SIGNING_KEYS: await generateSigningJwks(), RATE_LIMIT_BUDGET: '1000000000', RESPONSE_CACHE: 'off' });
  let rest: LoadResult;
  let graphql: LoadResult;
  try {
    const load = (request: LoadRequest, accept: (status: number, body: string) => boolean, durationMs: number) =>
      closedLoop({ baseUrl: server.baseUrl, request, connections, durationMs, accept });
    await load(restRequest, isRestAnswer, 2_000);
    await load(graphqlRequest, isGraphQLAnswer, 2_000);
    const restRounds: LoadResult[] = [];
    const graphqlRounds: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['rest', 'graphql'] as const) : (['graphql', 'rest'] as const);
      for (const side of order) {
        progress(`round ${round + 1}/${rounds}: ${side}`);
        if (side === 'rest') restRounds.push(await load(restRequest, isRestAnswer, roundMs));
        else graphqlRounds.push(await load(graphqlRequest, isGraphQLAnswer, roundMs));
      }
    }
    rest = mergeRounds(restRounds);
    graphql = mergeRounds(graphqlRounds);
  } finally {
    await server.stop();
  }
  const ratio = rest.requestsPerSecond / graphql.requestsPerSecond;
  const line = (name: string, r: LoadResult) =>
    `${name.padEnd(22)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(1).padStart(6)} ms  p99 ${r.p99Ms.toFixed(1).padStart(6)} ms  errors ${r.errors}`;
  process.stdout.write(
    [
      `products first: 20, anonymous, response cache off, ${connections} connections, ${rounds} interleaved rounds of ${roundMs / 1000} s, production build, Node ${process.version}, ${os.cpus().length} CPUs`,
      line('GET /v1/products', rest),
      line('POST /graphql (same)', graphql),
      `ratio REST/GraphQL: ${ratio.toFixed(2)} (target >= 0.90)`,
      ...(rest.firstError || graphql.firstError ? [`first error: ${rest.firstError ?? graphql.firstError}`] : []),
      '',
    ].join('\n'),
  );
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(fileURLToPath(new URL('./results/rest.json', import.meta.url)), `${JSON.stringify({ date: new Date().toISOString(), products, connections, roundMs, rounds, rest, graphql, ratio }, null, 2)}\n`);
  if (ratio < 0.9) process.exitCode = 1;
} finally {
  await database.stop();
}
