/**
 * Claim leases over HTTP, on real PostgreSQL (src/idempotency/claim-keeper.ts):
 * the claim of a server process that died mid-request frees itself within
 * the lease (IDEMPOTENCY_LOCK_MS) and the client's retry then runs once; a
 * keyed request that runs longer than the lease keeps its claim, renewed by
 * its process, so a concurrent retry is still answered 409; and a renewal
 * extends only claims still held by the attempt that renews them.
 *
 * A request is kept running by a lock the test holds on the product it
 * buys: the checkout waits for it inside its unit of work.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { IDEMPOTENCY_LOCK_MS, renewClaimLeases } from '../src/idempotency/idempotency.service.js';
import { CLAIM_RENEW_EVERY_MS } from '../src/idempotency/claim-keeper.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import { launchApi, type ApiChild } from './helpers/api-child.js';
import { createAccount, type Account } from './helpers/auth.js';
import { testDatabaseUrl } from './helpers/database.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/worker-child.js';

// Each test waits out a lease (15 s) or more; the deadlines below are generous on purpose.
jest.setTimeout(180_000);

/** Statements may wait for the test's lock far longer than the default 10 s. */
const STATEMENT_TIMEOUT_MS = '120000';
const CHECKOUT = `mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }`;

let server: TestServer;
let account: Account;
let signingKeys: string;
const cleanups: Array<() => Promise<void>> = [];

interface Answer {
  status: number;
  replayed: boolean;
  text: string;
  code: unknown;
}

async function checkout(baseUrl: string, product: ProductRow, key: string): Promise<Answer> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'idempotency-key': key, ...account.headers },
    body: JSON.stringify({ query: CHECKOUT, variables: { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } } }),
  });
  const text = await response.text();
  const code = (JSON.parse(text) as { errors?: Array<{ extensions?: { code?: unknown } }> }).errors?.[0]?.extensions?.code;
  return { status: response.status, replayed: response.headers.get('idempotent-replayed') === 'true', text, code };
}

/** Holds a row lock on the product in a transaction of the test's own until `release`: checkouts of it wait. */
async function lockProduct(product: ProductRow): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: testDatabaseUrl(server.databaseName) });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT id FROM products WHERE id = $1 FOR UPDATE', [product.id]);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end();
  };
  cleanups.push(release);
  return { release };
}

/** The claim on `key` once a checkout holding it waits for the test's lock on a product. */
async function claimWaitingForLock(key: string) {
  return until('a checkout that claimed its key and waits for the product lock', async () => {
    const claim = await server.db
      .selectFrom('idempotency_keys')
      .select(['claim_id', 'status', 'created_at', 'locked_until'])
      .where('key', '=', key)
      .executeTakeFirst();
    const waiting = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(server.db);
    return claim?.status === 'IN_PROGRESS' && (waiting.rows[0]?.n ?? 0) > 0 ? claim : undefined;
  });
}

async function ordersOf(product: ProductRow): Promise<number> {
  const rows = await server.db.selectFrom('order_items').select('order_id').where('product_id', '=', product.id).execute();
  return rows.length;
}

async function stockOf(product: ProductRow): Promise<number> {
  return (await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow()).stock;
}

/** The API as its own process (`node --import tsx src/main.ts`) on the test server's database, with the same signing keys. */
async function startServerProcess(): Promise<ApiChild> {
  const started = await launchApi({
    env: {
      DATABASE_URL: testDatabaseUrl(server.databaseName),
      DATABASE_STATEMENT_TIMEOUT_MS: STATEMENT_TIMEOUT_MS,
      JWT_SIGNING_KEYS: signingKeys,
      WORKER: 'off',
      LOG_LEVEL: 'warn',
    },
    timeoutMs: 90_000,
  });
  cleanups.push(started.stop);
  return started;
}

beforeAll(async () => {
  signingKeys = await generateSigningJwks('EdDSA');
  server = await startTestServer({ env: { JWT_SIGNING_KEYS: signingKeys, DATABASE_STATEMENT_TIMEOUT_MS: STATEMENT_TIMEOUT_MS } });
  account = await createAccount(server, { role: 'CUSTOMER' });
}, 60_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await server?.close();
});

describe('idempotency claim leases', () => {
  it('frees the claim of a server process killed mid-request within the lease, and the retry runs once', async () => {
    const product = await seeder(server.db).product({ stock: 10 });
    const key = randomUUID();
    const dying = await startServerProcess();
    const lock = await lockProduct(product);

    // The first attempt claims the key on the other process and waits for the lock, then that process dies.
    const cut = checkout(dying.baseUrl, product, key).then(
      (answer) => `answered ${answer.status}`,
      () => 'cut off',
    );
    const claimed = await claimWaitingForLock(key);
    dying.child.kill('SIGKILL');
    await dying.exited;
    const killedAt = Date.now();
    expect(await cut).toBe('cut off');

    // Its claim binds at most one lease from now (it was made or renewed before the death), and nothing renews it.
    const bound = await sql<{ within: boolean }>`
      SELECT locked_until <= now() + make_interval(secs => ${IDEMPOTENCY_LOCK_MS / 1000}) AS within
        FROM idempotency_keys WHERE key = ${key}`.execute(server.db);
    expect(bound.rows).toEqual([{ within: true }]);
    // The dead process's statement gives up once it gets the lock (its client is gone): nothing of it commits.
    await lock.release();

    // The client retries with the key, after each 409's Retry-After, until it gets a final answer.
    const statuses: unknown[] = [];
    let answer: Answer;
    for (;;) {
      answer = await checkout(server.baseUrl, product, key);
      if (answer.status !== 409) break;
      statuses.push(answer.code);
      if (Date.now() - killedAt > IDEMPOTENCY_LOCK_MS + 60_000) throw new Error(`the dead process's claim still binds ${Date.now() - killedAt} ms after the kill`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const settledMs = Date.now() - killedAt;
    expect(statuses.every((code) => code === 'IDEMPOTENCY_KEY_IN_PROGRESS')).toBe(true);
    expect({ status: answer.status, replayed: answer.replayed }).toEqual({ status: 200, replayed: false });
    expect((JSON.parse(answer.text) as { data: { checkout: { orders: unknown[] } } }).data.checkout.orders).toHaveLength(1);
    // Within the lease (and the retry's pace, with a generous margin for a loaded machine): not two minutes.
    expect(settledMs).toBeLessThan(IDEMPOTENCY_LOCK_MS + 60_000);

    const record = await server.db.selectFrom('idempotency_keys').select(['status', 'claim_id']).where('key', '=', key).executeTakeFirstOrThrow();
    expect(record.status).toBe('COMPLETED');
    expect(record.claim_id).not.toBe(claimed.claim_id);
    expect(await ordersOf(product)).toBe(1);
    expect(await stockOf(product)).toBe(9);
    const replay = await checkout(server.baseUrl, product, key);
    expect({ replayed: replay.replayed, text: replay.text }).toEqual({ replayed: true, text: answer.text });
  });

  it('keeps the claim of a request that runs longer than the lease: a concurrent retry gets 409, and one order is made', async () => {
    const product = await seeder(server.db).product({ stock: 10 });
    const key = randomUUID();
    const lock = await lockProduct(product);
    const first = checkout(server.baseUrl, product, key);
    const claimed = await claimWaitingForLock(key);

    // Past the lease the claim was made with, and then some renewals more.
    await until(
      'the request to outlive its first lease',
      async () => {
        const past = await sql<{ past: boolean }>`
          SELECT now() > ${claimed.created_at}::timestamptz + make_interval(secs => ${(IDEMPOTENCY_LOCK_MS + CLAIM_RENEW_EVERY_MS) / 1000}) AS past`.execute(server.db);
        return past.rows[0]?.past === true ? true : undefined;
      },
      undefined,
      120_000,
    );
    const held = await sql<{ claim_id: string; status: string; renewed: boolean; binds: boolean }>`
      SELECT claim_id, status, locked_until > ${claimed.locked_until}::timestamptz AS renewed, locked_until > now() AS binds
        FROM idempotency_keys WHERE key = ${key}`.execute(server.db);
    expect(held.rows).toEqual([{ claim_id: claimed.claim_id, status: 'IN_PROGRESS', renewed: true, binds: true }]);

    const retry = await checkout(server.baseUrl, product, key);
    expect({ status: retry.status, code: retry.code }).toEqual({ status: 409, code: 'IDEMPOTENCY_KEY_IN_PROGRESS' });

    await lock.release();
    const done = await first;
    expect({ status: done.status, replayed: done.replayed }).toEqual({ status: 200, replayed: false });
    expect((JSON.parse(done.text) as { data: { checkout: { orders: unknown[] } } }).data.checkout.orders).toHaveLength(1);
    const replay = await checkout(server.baseUrl, product, key);
    expect({ replayed: replay.replayed, text: replay.text }).toEqual({ replayed: true, text: done.text });
    expect(await ordersOf(product)).toBe(1);
    expect(await stockOf(product)).toBe(9);
  });

  it('renews only claims still held by the attempt: not one completed, released or taken over', async () => {
    const principal = account.user.id;
    const row = (key: string, claimId: string, status: 'IN_PROGRESS' | 'COMPLETED') => ({
      principal,
      credential: 'api_key:renewal-test',
      key,
      fingerprint: 'f',
      status,
      claim_id: claimId,
      locked_until: sql<Date>`now() + interval '1 second'`,
      expires_at: sql<Date>`now() + interval '1 day'`,
      ...(status === 'COMPLETED' ? { response_status: 200, response_content_type: 'application/json', response_body: 'sealed' } : {}),
    });
    const [mine, done, taken] = [randomUUID(), randomUUID(), randomUUID()];
    await server.db
      .insertInto('idempotency_keys')
      .values([row('renew-mine', mine, 'IN_PROGRESS'), row('renew-done', done, 'COMPLETED'), row('renew-taken', randomUUID(), 'IN_PROGRESS')])
      .execute();
    const claim = (key: string, claimId: string) => ({ principal, credential: 'api_key:renewal-test', key, claimId, fingerprint: 'f' });
    const renewed = await renewClaimLeases(server.db, [claim('renew-mine', mine), claim('renew-done', done), claim('renew-taken', taken), claim('renew-gone', randomUUID())]);
    expect(renewed).toBe(1);
    const rows = await sql<{ key: string; long: boolean }>`
      SELECT key, locked_until > now() + interval '10 seconds' AS long FROM idempotency_keys WHERE credential = 'api_key:renewal-test' ORDER BY key`.execute(server.db);
    expect(rows.rows).toEqual([
      { key: 'renew-done', long: false },
      { key: 'renew-mine', long: true },
      { key: 'renew-taken', long: false },
    ]);
  });
});
