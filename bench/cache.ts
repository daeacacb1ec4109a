/**
 * `npm run bench:cache`: catalog throughput of the production build with the
 * shared response cache against without it (bench/lib/response-cache.ts),
 * over the benchmark's own seeded database. Knobs: BENCH_CACHE_PRODUCTS
 * (10,000), BENCH_CACHE_CONNECTIONS (32), BENCH_CACHE_ROUND_SECONDS (10),
 * BENCH_CACHE_ROUNDS (3).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

import { createDb } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { startBenchDatabase } from './lib/database.js';
import { ensureProductionBuild } from './lib/production-server.js';
import { runCacheScenario } from './lib/response-cache.js';
import { seedCatalog } from './lib/seed.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const products = envInt('BENCH_CACHE_PRODUCTS', 10_000);
const connections = envInt('BENCH_CACHE_CONNECTIONS', 32);
const roundMs = envInt('BENCH_CACHE_ROUND_SECONDS', 10) * 1000;
const rounds = envInt('BENCH_CACHE_ROUNDS', 3);
const progress = (message: string) => process.stderr.write(`bench:cache: ${message}\n`);

await ensureProductionBuild();
const database = await startBenchDatabase();
try {
  const db = createDb({ url: database.url, poolMax: 4, statementTimeoutMs: 300_000 }, () => undefined);
  try {
    await migrateToLatest(db);
    progress(`seeding ${products} products`);
    const seed = await seedCatalog(db, { products, categories: 10, sellers: 20, customers: 50, maxReviewsPerProduct: 5 });
    progress(`seeded in ${seed.seconds.toFixed(1)} s: ${seed.visibleProducts} visible products, ${seed.reviews} reviews`);
  } finally {
    await db.destroy();
  }
  const result = await runCacheScenario({ databaseUrl: database.url, connections, roundMs, rounds, progress });
  const line = (name: string, r: typeof result.cached) =>
    `${name.padEnd(9)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(1).padStart(6)} ms  p99 ${r.p99Ms.toFixed(1).padStart(6)} ms  errors ${r.errors}`;
  process.stdout.write(
    [
      `catalog first: 50, anonymous, ${connections} connections, ${rounds} interleaved rounds of ${roundMs / 1000} s, production build, Node ${process.version}, ${os.cpus().length} CPUs`,
      line('cached', result.cached),
      line('uncached', result.uncached),
      `ratio cached/uncached: ${result.ratio.toFixed(1)}`,
      ...(result.cached.firstError || result.uncached.firstError ? [`first error: ${result.cached.firstError ?? result.uncached.firstError}`] : []),
      '',
    ].join('\n'),
  );
  const file = fileURLToPath(new URL('./results/cache.json', import.meta.url));
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), products, connections, roundMs, rounds, ...result }, null, 2)}\n`);
} finally {
  await database.stop();
}
