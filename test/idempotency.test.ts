/**
 * Idempotency keys over HTTP, on real PostgreSQL: the mutation used here is
 * `createApiKey`, whose answer contains a fresh secret each time it really
 * runs, so a replay is easy to tell from a second execution. Checkout's own
 * key tests (required key, concurrency) are in test/checkout.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { requestFingerprint } from '../src/idempotency/fingerprint.js';
import { purgeExpiredKeys } from '../src/idempotency/idempotency.service.js';
import { createAccount, type Account } from './helpers/auth.js';
import { createTestAuthRuntime, jobScope, testDeps } from './helpers/scope.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let account: Account;

const CREATE = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { plaintextKey apiKey { name } userErrors { code } } }`;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

async function post(target: TestServer, body: object, headers: Record<string, string>): Promise<RawResponse> {
  const response = await target.request('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function createKey(name: string, key: string | null, headers: Record<string, string> = account.headers, target = server) {
  return post(target, { query: CREATE, variables: { input: { name, scopes: ['CATALOG_READ'] } } }, { ...headers, ...(key === null ? {} : { 'idempotency-key': key }) });
}

async function keysNamed(name: string): Promise<number> {
  const rows = await server.db.selectFrom('api_keys').select('id').where('user_id', '=', account.user.id).where('name', '=', name).execute();
  return rows.length;
}

async function storedRecords(key: string) {
  return server.db.selectFrom('idempotency_keys').select(['status', 'response_status']).where('key', '=', key).execute();
}

/** The credential a session's keys are scoped to: its family id, from the access token's `sid`. */
function sessionCredential(of: Account): string {
  const claims = JSON.parse(Buffer.from(of.accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sid: string };
  return `session:${claims.sid}`;
}

function codeOf(res: RawResponse): unknown {
  return (JSON.parse(res.text) as { errors?: Array<{ extensions?: { code?: unknown } }> }).errors?.[0]?.extensions?.code;
}

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  account = await createAccount(server, { role: 'CUSTOMER' });
});

afterAll(async () => {
  await server.close();
});

describe('Idempotency-Key on a mutation', () => {
  it('runs the first request once and replays its response byte for byte, with Idempotent-Replayed: true', async () => {
    const first = await createKey('replayed', 'key-replay-1');
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(JSON.parse(first.text)).toMatchObject({ data: { createApiKey: { apiKey: { name: 'replayed' }, userErrors: [] } } });

    const again = await createKey('replayed', 'key-replay-1');
    expect(again.status).toBe(first.status);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(await keysNamed('replayed')).toBe(1);
    expect(await storedRecords('key-replay-1')).toEqual([{ status: 'COMPLETED', response_status: 200 }]);
  });

  it('ignores variable key order when comparing requests', async () => {
    const a = await post(server, { query: CREATE, variables: { input: { name: 'ordered', scopes: ['CATALOG_READ'] } } }, { ...account.headers, 'idempotency-key': 'key-order' });
    const b = await post(server, { variables: { input: { scopes: ['CATALOG_READ'], name: 'ordered' } }, query: CREATE }, { ...account.headers, 'idempotency-key': 'key-order' });
    expect(b.text).toBe(a.text);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with a different request, and runs nothing', async () => {
    await createKey('reuse-a', 'key-reuse');
    const other = await createKey('reuse-b', 'key-reuse');
    expect({ status: other.status, code: codeOf(other) }).toEqual({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await keysNamed('reuse-b')).toBe(0);
  });

  it('scopes keys to the principal: the same key of another user is a new request', async () => {
    const other = await createAccount(server, { role: 'CUSTOMER' });
    await createKey('mine', 'key-shared-name');
    const theirs = await createKey('mine', 'key-shared-name', other.headers);
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(await storedRecords('key-shared-name')).toHaveLength(2);
  });

  it('refuses a key sent without credentials with 401 (so a refresh-and-retry path runs), and a malformed key with 400, storing nothing', async () => {
    const anonymous = await createKey('anon', 'key-anonymous', {});
    expect({ status: anonymous.status, code: codeOf(anonymous) }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const tooLong = await createKey('long', 'k'.repeat(256));
    const nonAscii = await createKey('ctl', 'cl\u00e9');
    for (const res of [tooLong, nonAscii]) expect({ status: res.status, code: codeOf(res) }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(await server.db.selectFrom('idempotency_keys').select('key').where('key', '=', 'key-anonymous').execute()).toEqual([]);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_PROGRESS while the first request holds the key, and runs nothing', async () => {
    const variables = { input: { name: 'running', scopes: ['CATALOG_READ'] } };
    await server.db
      .insertInto('idempotency_keys')
      .values({
        principal: account.user.id,
        credential: sessionCredential(account),
        key: 'key-running',
        fingerprint: requestFingerprint(CREATE, null, variables),
        status: 'IN_PROGRESS',
        claim_id: '00000000-0000-4000-8000-000000000001',
        locked_until: sql<Date>`now() + interval '1 minute'`,
        expires_at: sql<Date>`now() + interval '1 day'`,
      })
      .execute();
    const res = await createKey('running', 'key-running');
    expect({ status: res.status, code: codeOf(res), retryAfter: res.headers.get('retry-after') }).toEqual({
      status: 409,
      code: 'IDEMPOTENCY_KEY_IN_PROGRESS',
      retryAfter: '1',
    });
    expect(await keysNamed('running')).toBe(0);
  });

  it('frees a key whose first request was abandoned (its claim ran out) and runs the request', async () => {
    const variables = { input: { name: 'abandoned', scopes: ['CATALOG_READ'] } };
    await server.db
      .insertInto('idempotency_keys')
      .values({
        principal: account.user.id,
        credential: sessionCredential(account),
        key: 'key-abandoned',
        fingerprint: requestFingerprint(CREATE, null, variables),
        status: 'IN_PROGRESS',
        claim_id: '00000000-0000-4000-8000-000000000002',
        locked_until: sql<Date>`now() - interval '1 second'`,
        expires_at: sql<Date>`now() + interval '1 day'`,
      })
      .execute();
    const res = await createKey('abandoned', 'key-abandoned');
    expect(res.status).toBe(200);
    expect(await keysNamed('abandoned')).toBe(1);
    expect(await storedRecords('key-abandoned')).toEqual([{ status: 'COMPLETED', response_status: 200 }]);
  });

  it('stores nothing when the request ends in a server error, so a retry with the same key runs', async () => {
    await sql`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name LIKE 'boom%' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`.execute(server.db);
    await sql`CREATE TRIGGER refuse_boom BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse_boom()`.execute(server.db);
    try {
      const failed = await createKey('boom', 'key-boom');
      expect({ status: failed.status, code: codeOf(failed) }).toEqual({ status: 500, code: 'INTERNAL_SERVER_ERROR' });
      expect(await storedRecords('key-boom')).toEqual([]);
    } finally {
      await sql`DROP TRIGGER refuse_boom ON api_keys`.execute(server.db);
    }
    const retried = await createKey('boom', 'key-boom');
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await keysNamed('boom')).toBe(1);
  });

  it('runs a document with several mutation fields and a key as one unit: a failure in the last rolls back the first', async () => {
    await sql`CREATE TRIGGER refuse_boom BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse_boom()`.execute(server.db);
    const two = `mutation { a: createApiKey(input: { name: "unit-a", scopes: [CATALOG_READ] }) { plaintextKey }
      b: createApiKey(input: { name: "boom-unit-b", scopes: [CATALOG_READ] }) { plaintextKey } }`;
    try {
      const res = await post(server, { query: two }, { ...account.headers, 'idempotency-key': 'key-two-fields' });
      expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
      expect(await keysNamed('unit-a')).toBe(0);
      expect(await storedRecords('key-two-fields')).toEqual([]);
    } finally {
      await sql`DROP TRIGGER refuse_boom ON api_keys`.execute(server.db);
    }
    // Without a key each field is its own unit, as before: the first commits.
    const keyless = await post(server, { query: two.replace('unit-a', 'unit-a2').replace('boom-unit-b', 'unit-b2') }, account.headers);
    expect(keyless.status).toBe(200);
    expect(await keysNamed('unit-a2')).toBe(1);
  });

  it('ignores a key on a query: nothing is stored', async () => {
    const res = await post(server, { query: '{ viewer { id } }' }, { ...account.headers, 'idempotency-key': 'key-on-query' });
    expect(res.status).toBe(200);
    expect(await storedRecords('key-on-query')).toEqual([]);
  });

  it('replays on a second server instance over the same database', async () => {
    const second = await startTestServer({ shareDatabaseOf: server });
    try {
      const first = await createKey('two-instances', 'key-instances');
      const replay = await createKey('two-instances', 'key-instances', account.headers, second);
      expect(replay.text).toBe(first.text);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await keysNamed('two-instances')).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('purges records older than their 24-hour retention', async () => {
    await createKey('old', 'key-old');
    await server.db.updateTable('idempotency_keys').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('key', '=', 'key-old').execute();
    const auth = await createTestAuthRuntime();
    try {
      expect((await purgeExpiredKeys(jobScope(testDeps(server.db, auth)))).deleted).toBeGreaterThanOrEqual(1);
    } finally {
      await auth.close();
    }
    expect(await storedRecords('key-old')).toEqual([]);
    // The key is free again: a new request with it runs.
    const again = await createKey('old-again', 'key-old');
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await keysNamed('old-again')).toBe(1);
  });
});
