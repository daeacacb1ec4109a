// Production smoke check: starts the compiled server the way an operator does
// (package.json's `start:prod` command, NODE_ENV=production) against a real
// PostgreSQL, then expects /health/ready to answer 200 and a catalog query to
// be answered. The command runs under `sh -c "exec ..."`, so the signal that
// ends the check reaches the server itself.
//
// Run it after `npm run build`, with the Node.js version under test first on
// PATH. The database is SMOKE_DATABASE_URL when set, otherwise a throw-away
// embedded PostgreSQL started from the build and removed afterwards.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const { generateSigningJwks } = await import('../dist/src/auth/signing-keys.js');

const READY_TIMEOUT_MS = 60_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startDatabase() {
  if (process.env.SMOKE_DATABASE_URL) return { url: process.env.SMOKE_DATABASE_URL, stop: async () => {} };
  const { startThrowawayPostgres } = await import('../dist/src/db/embedded.js');
  const { createLogger } = await import('../dist/src/observability/logger.js');
  return startThrowawayPostgres({
    database: 'marketplace_smoke',
    prefix: 'marketplace-smoke-pg-',
    log: createLogger({ logLevel: 'warn', logFormat: 'json' }),
  });
}

async function waitForReady(base, child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(`${base}/health/ready`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`/health/ready did not answer 200 within ${READY_TIMEOUT_MS} ms`);
}

const database = await startDatabase();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let output = '';
const startProd = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts['start:prod'];
// The script itself may already start with `exec` (so that npm's signals reach the server).
const command = /^exec\s/.test(startProd) ? startProd : `exec ${startProd}`;
const child = spawn('sh', ['-c', command], {
  env: {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SIGNING_KEYS: await generateSigningJwks('EdDSA'),
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
child.stdout.on('data', (chunk) => (output += chunk));
child.stderr.on('data', (chunk) => (output += chunk));

let failure;
try {
  await waitForReady(base, child);
  // The server has migrated the database; give the catalog something to list.
  const { createDb } = await import('../dist/src/db/connection.js');
  const { seedDemoData } = await import('../dist/src/db/seed.js');
  const { createLogger } = await import('../dist/src/observability/logger.js');
  const db = createDb({ url: database.url, poolMax: 1, statementTimeoutMs: 60_000 });
  try {
    await seedDemoData(db, createLogger({ logLevel: 'warn', logFormat: 'json' }));
  } finally {
    await db.destroy();
  }
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: '{ products(first: 5) { totalCount nodes { id title price { amount currency } } } }' }),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors || !(body.data?.products?.nodes?.length > 0)) {
    throw new Error(`catalog query answered ${response.status}: ${JSON.stringify(body)}`);
  }
  console.log(
    `smoke (node ${process.version}, production build): /health/ready 200, catalog query 200 with ` +
      `totalCount ${body.data.products.totalCount}`,
  );
} catch (error) {
  failure = error;
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  await database.stop();
}
if (failure) {
  console.error(`smoke check failed: ${failure.message}\n--- server output ---\n${output}`);
  process.exit(1);
}
