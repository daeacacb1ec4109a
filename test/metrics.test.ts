import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { countQueryLimitRefusal, countRateLimitRefusal } from '../src/observability/metrics.js';
import { logIn } from './helpers/auth.js';
import { seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const TOKEN = 'metrics-scrape-token-0123456789';

/** The value of one sample line (`name{labels} value`), or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics behind a bearer token', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { METRICS_TOKEN: TOKEN } });
    const seed = seeder(server.db);
    const seller = await seed.user({ role: 'SELLER' });
    const category = await seed.category();
    for (let i = 0; i < 3; i += 1) await seed.product({ seller, category });
  });

  afterAll(async () => {
    await server.close();
  });

  const scrape = () => server.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });

  it('reports the job queue\'s depth by state, read from the database at scrape time', async () => {
    await sql`SELECT graphile_worker.add_job('accounts.purgeSessions', '{}'::json)`.execute(server.db);
    await sql`SELECT graphile_worker.add_job('accounts.purgeSessions', '{}'::json, run_at => now() + interval '1 hour')`.execute(server.db);
    const text = await (await scrape()).text();
    expect(sample(text, 'jobs_queue_depth{state="ready"}')).toBe(1);
    expect(sample(text, 'jobs_queue_depth{state="scheduled"}')).toBe(1);
    expect(sample(text, 'jobs_queue_depth{state="locked"}')).toBe(0);
  });

  it('refuses a scrape without the token, or with a wrong one, with 401 and UNAUTHENTICATED', async () => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-the-metrics-token-at-all' }, { authorization: TOKEN }];
    for (const headers of attempts) {
      const res = await server.request('/metrics', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
      expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('exports request, operation, error, SQL, pool, login, limit and process series after a few requests', async () => {
    const catalog = await server.graphql('query AnyNameAClientChose { products(first: 3) { totalCount nodes { title seller { displayName } } } }');
    expect(catalog.body.errors).toBeUndefined();
    await server.graphql('{ products(first: 500) { totalCount } }');
    await server.graphql('{ categories { name } products(first: 1) { totalCount } }');
    const failed = await logIn(server, 'nobody@example.com', 'wrong password for nobody');
    expect(failed.body.data?.logIn.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
    // Refused before execution by the alias limit (30 by default).
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ');
    const tooComplex = await server.graphql(`{ ${aliases} }`);
    expect(tooComplex.body.errors?.[0]?.extensions?.['code']).toBe('QUERY_TOO_COMPLEX');
    // What other limit code calls.
    countRateLimitRefusal('some_budget');
    countQueryLimitRefusal('some_limit');

    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    expect(sample(text, 'http_server_request_duration_seconds_count{method="POST",route="/graphql",status_code="200"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'http_server_request_duration_seconds_count{method="POST",route="/graphql",status_code="400"}')).toBe(2);
    expect(sample(text, 'graphql_operation_duration_seconds_count{operation="query products",outcome="ok"}')).toBe(1);
    expect(sample(text, 'graphql_operation_duration_seconds_count{operation="query products",outcome="error"}')).toBe(1);
    expect(sample(text, 'graphql_operation_duration_seconds_count{operation="query multiple",outcome="ok"}')).toBe(1);
    expect(sample(text, 'graphql_operation_duration_seconds_count{operation="mutation logIn",outcome="ok"}')).toBe(1);
    expect(sample(text, 'api_errors_total{code="BAD_USER_INPUT"}')).toBe(1);
    expect(sample(text, 'graphql_request_sql_statements_count')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'graphql_request_sql_statements_sum')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'db_pool_idle_connections')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'db_pool_waiting_requests')).toBe(0);
    expect(sample(text, 'auth_login_failures_total{reason="invalid_credentials"}')).toBe(1);
    expect(sample(text, 'rate_limit_refusals_total{limit="some_budget"}')).toBe(1);
    expect(sample(text, 'query_limit_refusals_total{limit="some_limit"}')).toBe(1);
    expect(sample(text, 'api_errors_total{code="QUERY_TOO_COMPLEX"}')).toBe(1);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    // Client-chosen operation names never become label values.
    expect(text).not.toContain('AnyNameAClientChose');
  });

  it('counts a login refused by the brute-force limit as a rate-limit refusal', async () => {
    const limited = await startTestServer({ env: { METRICS_TOKEN: TOKEN, LOGIN_LIMIT_PER_IP: '1' } });
    try {
      await logIn(limited, 'someone@example.com', 'first attempt password');
      const refused = await logIn(limited, 'someone@example.com', 'second attempt password');
      expect(refused.status).toBe(429);
      const text = await (await limited.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(sample(text, 'rate_limit_refusals_total{limit="login"}')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'api_errors_total{code="RATE_LIMITED"}')).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });
});

describe('GET /metrics on a port of its own', () => {
  it('serves metrics on METRICS_PORT and not on the API port', async () => {
    const server = await startTestServer({ env: { METRICS_PORT: '0' } });
    try {
      const address = server.app.metricsServer?.address() as AddressInfo | null | undefined;
      expect(address?.port).toEqual(expect.any(Number));
      const res = await fetch(`http://127.0.0.1:${address?.port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# TYPE db_pool_connections gauge');
      expect((await server.request('/metrics')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('is not served at all when neither METRICS_TOKEN nor METRICS_PORT is set', async () => {
    const server = await startTestServer();
    try {
      expect((await server.request('/metrics')).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
