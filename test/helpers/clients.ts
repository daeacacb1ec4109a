/**
 * For the client contract tests (test/clients/): the operations documented in
 * docs/guides/clients.md, a server with a catalogue to page through, and an access
 * token that has expired.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose';
import { buildSchema, isObjectType, parse, type OperationDefinitionNode } from 'graphql';

import { generateSigningJwks } from '../../src/auth/signing-keys.js';
import { SNAPSHOT_PATH } from '../../src/graphql/schema-snapshot.js';
import { projectRoot } from '../../src/util/project-root.js';
import { createAccount, type Account } from './auth.js';
import { gid, seeder } from './seed.js';
import { startTestServer, type TestServer } from './server.js';

export const CLIENTS_DOC = path.join(projectRoot(), 'docs', 'guides', 'clients.md');

export interface DocumentedBlock {
  /** The `## ` section the block is in, e.g. "Relay". */
  section: string;
  /** The info string after the fence, e.g. "graphql" or "json relay.config.json". */
  info: string;
  source: string;
}

/** Every fenced code block of docs/guides/clients.md with the section it belongs to. */
export function documentedBlocks(): DocumentedBlock[] {
  const blocks: DocumentedBlock[] = [];
  let section = '';
  let open: { info: string; lines: string[] } | undefined;
  for (const line of readFileSync(CLIENTS_DOC, 'utf8').split('\n')) {
    if (open) {
      if (line.startsWith('```')) {
        blocks.push({ section, info: open.info, source: open.lines.join('\n') + '\n' });
        open = undefined;
      } else open.lines.push(line);
    } else if (line.startsWith('```')) open = { info: line.slice(3).trim(), lines: [] };
    else if (line.startsWith('## ')) section = line.slice(3).trim();
  }
  return blocks;
}

/**
 * The GraphQL operations of the page outside its Relay section (those use
 * Relay's directives), by operation name: the documents the Apollo Client and
 * urql tests send, and Code Generator compiles.
 */
export function documentedOperations(): Map<string, string> {
  const operations = new Map<string, string>();
  for (const block of documentedBlocks()) {
    if (block.info !== 'graphql' || block.section === 'Relay') continue;
    for (const definition of parse(block.source).definitions) {
      const name = (definition as OperationDefinitionNode).name?.value;
      if (name) operations.set(name, block.source);
    }
  }
  return operations;
}

/** One documented operation's source; fails the test when the page lost it. */
export function documented(name: string): string {
  const source = documentedOperations().get(name);
  if (source === undefined) throw new Error(`docs/guides/clients.md has no operation named ${name}`);
  return source;
}

/** One documented block by its info string (e.g. "yaml codegen.yml"); fails the test when the page lost it. */
export function documentedBlock(info: string): string {
  const block = documentedBlocks().find((candidate) => candidate.info === info);
  if (!block) throw new Error(`docs/guides/clients.md has no \`\`\`${info} block`);
  return block.source;
}

/** `CatalogList_query` -> `CatalogList`, `CatalogPageQuery` -> `CatalogPage`: Relay's module naming rule. */
function relayModuleName(source: string): string {
  const [definition] = parse(source).definitions;
  const name = definition && 'name' in definition ? definition.name?.value : undefined;
  if (!name) throw new Error(`a Relay block of docs/guides/clients.md has no named definition:\n${source}`);
  return name.split('_')[0]?.replace(/(Query|Mutation|Subscription)$/, '') ?? name;
}

export interface RelayCompilation {
  /** The throw-away frontend project (in the system's temporary directory). */
  dir: string;
  /** relay-compiler's output. */
  output: string;
  /** Where the artifacts (`<Name>.graphql.ts`) are. */
  generated: string;
}

/**
 * Compiles the GraphQL blocks of docs/guides/clients.md's Relay section with its
 * relay.config.json, in a throw-away frontend project outside node_modules
 * (the Relay compiler never reads sources from there) holding a copy of the
 * committed single-file schema as `schema.graphql`.
 */
export async function compileDocumentedRelay(): Promise<RelayCompilation> {
  const dir = mkdtempSync(path.join(tmpdir(), 'client-relay-'));
  mkdirSync(path.join(dir, 'src'));
  copyFileSync(SNAPSHOT_PATH, path.join(dir, 'schema.graphql'));
  const blocks = documentedBlocks().filter((block) => block.section === 'Relay' && block.info === 'graphql');
  if (blocks.length === 0) throw new Error('docs/guides/clients.md has no graphql block in its Relay section');
  for (const block of blocks) {
    const source = `import { graphql } from 'react-relay';\n\nexport const document = graphql\`\n${block.source}\`;\n`;
    writeFileSync(path.join(dir, 'src', `${relayModuleName(block.source)}.ts`), source);
  }
  writeFileSync(path.join(dir, 'relay.config.json'), documentedBlock('json relay.config.json'));
  const bin = path.join(projectRoot(), 'node_modules', '.bin', 'relay-compiler');
  const { stdout, stderr } = await promisify(execFile)(bin, [], { cwd: dir, timeout: 60_000 });
  return { dir, output: `${stdout}${stderr}`, generated: path.join(dir, 'src', '__generated__') };
}

/**
 * Every object type of the public schema without an `id` field (root types
 * aside): the objects Apollo Client keeps inside their parent, which
 * docs/guides/clients.md's EMBEDDED_TYPES must list.
 */
export function embeddedObjectTypes(): string[] {
  const schema = buildSchema(readFileSync(SNAPSHOT_PATH, 'utf8'));
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].map((type) => type?.name));
  return Object.values(schema.getTypeMap())
    .filter((type) => isObjectType(type) && !type.name.startsWith('__') && !roots.has(type.name) && !('id' in type.getFields()))
    .map((type) => type.name)
    .sort();
}

/**
 * A TypeScript block of docs/guides/clients.md as the module a frontend project
 * would have, with `exports` appended (an `export { ... }` line): written
 * as JavaScript inside node_modules/.cache, so that its imports resolve to
 * this repository's packages. `remove()` deletes it.
 */
export async function importDocumentedModule<T>(source: string, exports: string): Promise<{ module: T; remove: () => void }> {
  const parent = path.join(projectRoot(), 'node_modules', '.cache');
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, 'client-doc-'));
  const { outputText } = ts.transpileModule(`${source}\nexport { ${exports} };\n`, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  });
  const file = path.join(dir, 'module.mjs');
  writeFileSync(file, outputText);
  return { module: (await import(file)) as T, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ContractServer {
  server: TestServer;
  /** http://127.0.0.1:<port>/graphql */
  uri: string;
  account: Account;
  /** Global ids of the visible products, newest first (the catalogue's default order). */
  productIds: string[];
  /** The account's own access token, re-signed by the server's key with an expiry in the past. */
  expiredAccessToken: string;
}

/** Products seeded for the pagination walk: more than two pages of the page size the tests use. */
export const CATALOG_SIZE = 7;

/** A contract server with `catalogSize` products (default CATALOG_SIZE). */
export async function startContractServer(catalogSize = CATALOG_SIZE): Promise<ContractServer> {
  const jwks = await generateSigningJwks();
  const server = await startTestServer({ env: { JWT_SIGNING_KEYS: jwks } });
  const seed = seeder(server.db);
  const productIds: string[] = [];
  for (let i = 0; i < catalogSize; i += 1) {
    // Distinct creation times, so the default order (newest first) is unambiguous.
    const row = await seed.product({ title: `Contract product ${i}`, createdAt: new Date(Date.UTC(2026, 0, 1 + i)) });
    productIds.unshift(gid('Product', row));
  }
  const account = await createAccount(server);
  return {
    server,
    uri: `${server.baseUrl}/graphql`,
    account,
    productIds,
    expiredAccessToken: await expire(account.accessToken, jwks),
  };
}

/** The same token (subject, session, version, key id), signed again with `exp` an hour ago. */
async function expire(token: string, jwks: string): Promise<string> {
  const key = (JSON.parse(jwks) as { keys: Array<JWK & { kid: string }> }).keys[0];
  if (!key) throw new Error('no signing key');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...decodeJwt(token), iat: now - 7200, nbf: now - 7200, exp: now - 3600 })
    .setProtectedHeader(decodeProtectedHeader(token) as { alg: string; kid: string; typ: string })
    .sign(await importJWK(key, 'EdDSA'));
}
