/**
 * For the client contract tests (test/clients/): the operations documented in
 * docs/guides/clients.md, a server with a catalogue to page through, and an access
 * token that has expired.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose';
import { parse, type OperationDefinitionNode } from 'graphql';

import { generateSigningJwks } from '../../src/auth/signing-keys.js';
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

export async function startContractServer(): Promise<ContractServer> {
  const jwks = await generateSigningJwks();
  const server = await startTestServer({ env: { JWT_SIGNING_KEYS: jwks } });
  const seed = seeder(server.db);
  const productIds: string[] = [];
  for (let i = 0; i < CATALOG_SIZE; i += 1) {
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
