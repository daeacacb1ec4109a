/**
 * The server behind a real PgBouncer in transaction mode
 * (DATABASE_POOLER=transaction), in front of the run's test database: a
 * smaller server pool than the application's, so transactions and
 * statements of one client connection land on different server sessions.
 * Nothing may depend on session state: the catalogue, concurrent checkouts
 * of one product, keyed replays, the unit of work's rerun after a deadlock,
 * live updates (LISTEN on DATABASE_DIRECT_URL), migrations (on the direct
 * connection), and PgBouncer's server sessions terminated under load (503,
 * never 500, then recovery).
 *
 * Needs the `pgbouncer` binary (Debian's package; .ci/run installs it).
 * Without it the file registers nothing and says so, except under CI, where
 * it fails.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { createDb } from '../src/db/connection.js';
import { projectRoot } from '../src/util/project-root.js';
import { createAccount, type Account } from './helpers/auth.js';
import { createTestDatabase, newTestDatabaseName, testDatabaseUrl } from './helpers/database.js';
import { adminClient, atLeast, CATALOG, expectSuccessOr503, METRICS_TOKEN, outcome, SLOW_MACHINE, sleep, VIEWER, type Outcome } from './helpers/database-faults.js';
import { until, wsClient } from './helpers/live.js';
import { pgbouncerBinary, startPgBouncer, type PgBouncer } from './helpers/pgbouncer.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { deadlockTwoUnits } from './helpers/unit-of-work.js';

const installed = pgbouncerBinary() !== undefined;
if (!installed) {
  const reason = 'pgbouncer not found: install Debian\'s pgbouncer package (apt-get install -y pgbouncer) or set PGBOUNCER_PATH';
  // CI installs PgBouncer (.ci/run); there a missing binary is a failure, not a skip.
  if (process.env['CI']) throw new Error(`PgBouncer tests cannot run: ${reason}`);
  console.warn(`PgBouncer tests not registered: ${reason}`);
}
const describeWithPgBouncer = installed ? describe : describe.skip;

const CHECKOUT = `mutation ($input: CheckoutInput!) {
  checkout(input: $input) { orders { id items { quantity } } userErrors { code } }
}`;

let bouncer: PgBouncer;
let server: TestServer;
let buyers: Account[];
let seller: Account;

function serverUrl(): string {
  const url = process.env['TEST_PG_URL'];
  if (!url) throw new Error('TEST_PG_URL is not set: run the tests through jest');
  return url;
}

describeWithPgBouncer('through PgBouncer in transaction mode', () => {
  beforeAll(async () => {
    bouncer = await startPgBouncer({ serverUrl: serverUrl(), serverPoolSize: 3 });
    server = await startTestServer({
      pooledThrough: (url) => bouncer.through(url),
      env: { METRICS_TOKEN, LOGIN_LIMIT_PER_IP: '100000', DATABASE_POOL_MAX: '10', ...SLOW_MACHINE },
      captureLogs: true,
    });
    buyers = [];
    for (let i = 0; i < 6; i += 1) buyers.push(await createAccount(server, { role: 'CUSTOMER' }));
    seller = await createAccount(server, { role: 'SELLER' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await bouncer?.stop();
  });

  it('refuses a pool that sends startup options, and serves one with DATABASE_POOLER=transaction', async () => {
    const url = bouncer.through(testDatabaseUrl(server.databaseName));
    const plain = createDb({ url, poolMax: 1, statementTimeoutMs: 10_000 });
    const pooled = createDb({ url, poolMax: 1, statementTimeoutMs: 10_000, pooler: 'transaction' });
    try {
      await expect(sql`SELECT 1`.execute(plain)).rejects.toThrow(/unsupported startup parameter: options/);
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(pooled);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await plain.destroy();
      await pooled.destroy();
    }
  });

  it('serves the catalogue to many clients at once over three server sessions', async () => {
    const seed = seeder(server.db);
    const category = await seed.category();
    for (let i = 0; i < 12; i += 1) await seed.product({ seller: seller.user, category });
    // The same statements again and again from ten client connections: a named prepared statement
    // would be missing (or already there) on the server session each one lands on.
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? server.graphql(VIEWER, undefined, { headers: buyers[i % buyers.length]?.headers ?? {} }) : server.graphql(CATALOG))),
    );
    for (const result of results) expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
    expect(results[1]?.body.data).toMatchObject({ products: { totalCount: 12 } });
  });

  it('sells exactly the stock to concurrent checkouts of one product, each key buying once', async () => {
    const product = await seeder(server.db).product({ stock: 5 });
    const checkout = (buyer: Account, key: string) =>
      server.request('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, ...buyer.headers },
        body: JSON.stringify({ query: CHECKOUT, variables: { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } } }),
      });
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const response = await checkout(buyers[i % buyers.length] as Account, randomUUID());
        return { status: response.status, body: (await response.json()) as { data?: { checkout: { orders: unknown[] | null; userErrors: { code: string }[] } } } };
      }),
    );
    expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 24 }, () => 200));
    const sold = outcomes.filter((o) => o.body.data?.checkout.orders?.length === 1).length;
    const refused = outcomes.filter((o) => o.body.data?.checkout.userErrors[0]?.code === 'OUT_OF_STOCK').length;
    expect({ sold, refused }).toEqual({ sold: 5, refused: 19 });
    const { stock } = await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow();
    const items = await server.db.selectFrom('order_items').select('quantity').where('product_id', '=', product.id).execute();
    expect({ stock, units: items.reduce((sum, item) => sum + item.quantity, 0) }).toEqual({ stock: 0, units: 5 });
  });

  it('replays a keyed checkout from its stored answer and buys once', async () => {
    const product = await seeder(server.db).product({ stock: 3 });
    const buyer = buyers[0] as Account;
    const key = randomUUID();
    const send = () =>
      server.request('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, ...buyer.headers },
        body: JSON.stringify({ query: CHECKOUT, variables: { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } } }),
      });
    const first = await send();
    const firstText = await first.text();
    const replays = await Promise.all(Array.from({ length: 5 }, async () => {
      const response = await send();
      return { status: response.status, replayed: response.headers.get('idempotent-replayed'), text: await response.text() };
    }));
    expect(first.status).toBe(200);
    expect(JSON.parse(firstText)).toMatchObject({ data: { checkout: { orders: [{ items: [{ quantity: 1 }] }], userErrors: [] } } });
    for (const replay of replays) expect(replay).toEqual({ status: 200, replayed: 'true', text: firstText });
    const { stock } = await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow();
    expect(stock).toBe(2);
  });

  it('runs the loser of a real deadlock again, each unit\'s work done once', async () => {
    const seed = seeder(server.db);
    const [first, second] = await Promise.all([seed.user(), seed.user()]);
    const attempts = await deadlockTwoUnits(server.app.scopeDeps, first, second);
    expect(attempts.ab + attempts.ba).toBe(3);
    const rows = await server.db.selectFrom('users').select(['id', 'token_version']).where('id', 'in', [first.id, second.id]).orderBy('id').execute();
    const expected = [first, second].sort((a, b) => (a.id < b.id ? -1 : 1)).map((user) => ({ id: user.id, token_version: user.token_version + 2 }));
    expect(rows).toEqual(expected);
  }, 30_000);

  it('delivers live updates: LISTEN runs on DATABASE_DIRECT_URL, the NOTIFY through PgBouncer', async () => {
    const product = await seeder(server.db).product({ seller: seller.user, price: 1000 });
    const anonymous = wsClient(server);
    try {
      const updates = anonymous.subscribe('subscription ($id: ID!) { productUpdated(id: $id) { id price { amount } } }', { id: gid('Product', product) });
      await until(() => server.app.live.streams === 1, 'the subscription to listen', 20_000);
      const { version } = await server.db.selectFrom('products').select('version').where('id', '=', product.id).executeTakeFirstOrThrow();
      const updated = await server.graphql<{ updateProduct: { userErrors: unknown[] } }>(
        'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }',
        { input: { productId: gid('Product', product), expectedVersion: version, price: { amount: 1500, currency: 'EUR' } } },
        { headers: seller.headers },
      );
      expect(updated.body.data?.updateProduct.userErrors).toEqual([]);
      await until(() => updates.results.some((result) => (result.data?.['productUpdated'] as { price: { amount: number } } | undefined)?.price.amount === 1500), 'the price change', 20_000);
    } finally {
      await anonymous.dispose();
    }
    // The listening session is a direct one: PostgreSQL sees it with the channel's application name.
    const admin = await adminClient(serverUrl());
    try {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'marketplace-api live updates' AND query ILIKE 'LISTEN%'`,
        [server.databaseName],
      );
      expect(rows[0]?.n).toBe(1);
    } finally {
      await admin.end();
    }
  }, 60_000);

  it('migrates an empty database with `db:migrate` on the direct connection while DATABASE_URL is PgBouncer', async () => {
    const empty = await createTestDatabase({ name: newTestDatabaseName(), empty: true, poolMax: 1 });
    try {
      const env = {
        ...process.env,
        NODE_OPTIONS: '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: bouncer.through(empty.url),
        DATABASE_POOLER: 'transaction',
        DATABASE_DIRECT_URL: empty.url,
      };
      const { code, output } = await runCli(['migrate'], env);
      expect({ code, applied: /^Applied: /m.test(output) }).toEqual({ code: 0, applied: true });
      const again = await runCli(['migrate'], env);
      expect({ code: again.code, output: again.output.trim() }).toEqual({ code: 0, output: 'Already at the latest migration.' });
      // The schema is there: a table of the last module and the job queue.
      const { rows } = await sql<{ tables: number }>`
        SELECT count(*)::int AS tables FROM information_schema.tables WHERE table_name IN ('wishlist_items', '_private_jobs')`.execute(empty.db);
      expect(rows[0]?.tables).toBe(2);
    } finally {
      await empty.drop();
    }
  }, 120_000);

  it('answers 503, never 500, while PgBouncer\'s server sessions are terminated under load, then serves again', async () => {
    const admin = await adminClient(serverUrl());
    const logsBefore = server.logs.length;
    let terminated = 0;
    try {
      for (let round = 0; round < 3; round += 1) {
        let running = true;
        const outcomes: Outcome[] = [];
        const clients = Array.from({ length: 12 }, async (_, i) => {
          while (running) {
            const result = i % 2 === 0 ? await server.graphql(CATALOG) : await server.graphql(VIEWER, undefined, { headers: buyers[i % buyers.length]?.headers ?? {} });
            outcomes.push(outcome(result));
          }
        });
        for (let kill = 0; kill < 6; kill += 1) {
          await sleep(30);
          // PgBouncer's server sessions (and the direct LISTEN session) on the test database: a restart or failover behind it.
          const { rows } = await admin.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) AS t`,
            [server.databaseName],
          );
          terminated += rows[0]?.n ?? 0;
        }
        running = false;
        await Promise.all(clients);
        expect(outcomes.length).toBeGreaterThan(0);
        expectSuccessOr503(outcomes);
      }
      // Recovery: every request succeeds again and the server says it is ready.
      const after = await Promise.all(Array.from({ length: 12 }, () => server.graphql(CATALOG)));
      for (const result of after) expect(outcome(result)).toEqual({ status: 200, code: undefined, retryAfter: null });
      expect((await server.request('/health/ready')).status).toBe(200);
    } finally {
      await admin.end();
    }
    expect(terminated).toBeGreaterThan(3);
    // A known failure, not a bug: no error lines for it.
    expect(server.logs.slice(logsBefore).filter(atLeast(50))).toEqual([]);
  }, 180_000);
});

/** `npm run db:<command>`'s program, as its own process (tsx), with `env`. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/db/cli.ts', ...args], { cwd: projectRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}
