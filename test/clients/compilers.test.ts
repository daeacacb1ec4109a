/**
 * The Relay compiler and GraphQL Code Generator (client preset) compile the
 * operations of docs/guides/clients.md with the configuration files printed there,
 * Relay against the single-file schema docs/schema.graphql, Code Generator
 * against the SDL in schema/, as a frontend project would run them.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { projectRoot } from '../../src/util/project-root.js';
import { compileDocumentedRelay, documentedBlock, documentedOperations, type RelayCompilation } from '../helpers/clients.js';

const run = promisify(execFile);
const root = projectRoot();
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

/**
 * A throw-away frontend project: inside node_modules/.cache so that the
 * tools' own module resolution (codegen presets) finds this repository's
 * packages, and git never sees it.
 */
let project: string;
beforeAll(() => {
  const parent = path.join(root, 'node_modules', '.cache');
  mkdirSync(parent, { recursive: true });
  project = mkdtempSync(path.join(parent, 'client-codegen-'));
  cpSync(path.join(root, 'schema'), path.join(project, 'schema'), { recursive: true });
  mkdirSync(path.join(project, 'src'));
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

describe('Relay compiler', () => {
  let relay: RelayCompilation | undefined;

  afterAll(() => {
    if (relay) rmSync(relay.dir, { recursive: true, force: true });
  });

  it('compiles the documented fragments and operations with the documented relay.config.json, every one with its text', async () => {
    relay = await compileDocumentedRelay();
    expect(relay.output).not.toMatch(/ERROR/);

    const artifacts = readdirSync(relay.generated).sort();
    expect(artifacts).toEqual([
      'CatalogListPaginationQuery.graphql.ts',
      'CatalogList_query.graphql.ts',
      'CatalogPageQuery.graphql.ts',
      'OrderStatusSubscription.graphql.ts',
      'ProductCardRefetchQuery.graphql.ts',
      'ProductCard_product.graphql.ts',
      'ProfileFormMutation.graphql.ts',
    ]);
    // Every operation carries the document it sends: none is taken for client-only fields.
    for (const name of artifacts.filter((file) => /(Query|Mutation|Subscription)\.graphql\.ts$/.test(file))) {
      expect(readFileSync(path.join(relay.generated, name), 'utf8')).toMatch(/"text": "(query|mutation|subscription) /);
    }
    // customScalarTypes applied: DateTime is a string, not `any`.
    expect(readFileSync(path.join(relay.generated, 'ProductCard_product.graphql.ts'), 'utf8')).toMatch(/readonly createdAt: string;/);
  });
});

describe('GraphQL Code Generator', () => {
  const CODEGEN_YML = documentedBlock('yaml codegen.yml');

  beforeAll(() => {
    const operations = [...new Set(documentedOperations().values())].join('\n');
    writeFileSync(path.join(project, 'src', 'operations.graphql'), operations);
  });

  async function codegen(config: string): Promise<{ ok: boolean; output: string }> {
    writeFileSync(path.join(project, 'codegen.yml'), config);
    try {
      // As in a frontend project: jest's NODE_ENV=test would make the CLI print nothing.
      const env = { ...process.env, NODE_ENV: 'development', NODE_OPTIONS: '' };
      const { stdout, stderr } = await run(bin('graphql-codegen'), ['--config', 'codegen.yml'], { cwd: project, env, timeout: 60_000 });
      return { ok: true, output: `${stdout}${stderr}` };
    } catch (error) {
      const failed = error as Error & { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.message}${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
  }

  it('types every documented operation with the client preset and strictScalars, every custom scalar mapped', async () => {
    const result = await codegen(CODEGEN_YML);
    expect(result).toMatchObject({ ok: true });
    const types = readFileSync(path.join(project, 'src', 'gql', 'graphql.ts'), 'utf8');
    const operationTypes = types.split('\n').filter((line) => line.startsWith('export type'));
    // DateTime and Currency come out as strings, as mapped; nothing is typed `unknown`.
    expect(operationTypes.find((line) => line.startsWith('export type CatalogQuery ='))).toMatch(/createdAt: string, price: \{ amount: number, currency: string \}/);
    expect(operationTypes.filter((line) => /:\s*unknown\b/.test(line))).toEqual([]);
    for (const name of ['CatalogQuery', 'ProductByIdQuery', 'LogInMutation', 'ViewerQuery', 'RefreshSessionMutation']) {
      expect(types).toContain(`export type ${name} =`);
    }
  });

  it('fails under strictScalars when a custom scalar has no mapping (so a new scalar cannot slip in as unknown)', async () => {
    const withoutDateTime = CODEGEN_YML.replace(/^\s+DateTime: string\n/m, '');
    expect(withoutDateTime).not.toBe(CODEGEN_YML);
    const result = await codegen(withoutDateTime);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/Unknown scalar type DateTime/);
  });
});
