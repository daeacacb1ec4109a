/**
 * The Relay compiler and GraphQL Code Generator (client preset) compile the
 * operations of docs/guides/clients.md with the configuration files printed there,
 * against the SDL in schema/, as a frontend project would run them.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'graphql';

import { projectRoot } from '../../src/util/project-root.js';
import { documentedBlock, documentedBlocks, documentedOperations } from '../helpers/clients.js';

const run = promisify(execFile);
const root = projectRoot();
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);

/**
 * A throw-away frontend project: inside node_modules/.cache so that the
 * tools' own module resolution (codegen presets) finds this repository's
 * packages, and git never sees it.
 */
let project: string;
/** The Relay project: outside node_modules, which the Relay compiler never reads sources from. */
let relayProject: string;

function newProject(parent: string, prefix: string): string {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, prefix));
  cpSync(path.join(root, 'schema'), path.join(dir, 'schema'), { recursive: true });
  mkdirSync(path.join(dir, 'src'));
  return dir;
}

beforeAll(() => {
  project = newProject(path.join(root, 'node_modules', '.cache'), 'client-codegen-');
  relayProject = newProject(tmpdir(), 'client-relay-');
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
  rmSync(relayProject, { recursive: true, force: true });
});

/** `CatalogList_query` -> `CatalogList`, `CatalogPageQuery` -> `CatalogPage`: Relay's module naming rule. */
function relayModuleName(source: string): string {
  const [definition] = parse(source).definitions;
  const name = definition && 'name' in definition ? definition.name?.value : undefined;
  if (!name) throw new Error(`a Relay block of docs/guides/clients.md has no named definition:\n${source}`);
  return name.split('_')[0]?.replace(/(Query|Mutation|Subscription)$/, '') ?? name;
}

describe('Relay compiler', () => {
  it('compiles the documented fragment and query with the documented relay.config.json on schema/', async () => {
    const relayBlocks = documentedBlocks().filter((block) => block.section === 'Relay' && block.info === 'graphql');
    expect(relayBlocks.length).toBeGreaterThan(0);
    for (const block of relayBlocks) {
      const source = `import { graphql } from 'react-relay';\n\nexport const document = graphql\`\n${block.source}\`;\n`;
      writeFileSync(path.join(relayProject, 'src', `${relayModuleName(block.source)}.ts`), source);
    }
    writeFileSync(path.join(relayProject, 'relay.config.json'), documentedBlock('json relay.config.json'));

    const { stderr, stdout } = await run(bin('relay-compiler'), [], { cwd: relayProject, timeout: 60_000 });
    expect(`${stdout}${stderr}`).not.toMatch(/ERROR/);

    const artifacts = readdirSync(path.join(relayProject, 'src', '__generated__')).sort();
    expect(artifacts).toEqual(['CatalogListPaginationQuery.graphql.ts', 'CatalogList_query.graphql.ts', 'CatalogPageQuery.graphql.ts']);
    // customScalarTypes applied: DateTime is a string, not `any`.
    expect(readFileSync(path.join(relayProject, 'src', '__generated__', 'CatalogList_query.graphql.ts'), 'utf8')).toMatch(/readonly createdAt: string;/);
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
