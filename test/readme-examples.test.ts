/**
 * Every `curl` example in README.md, run in the order the README gives them
 * against a test server holding the demo data: what a newcomer copies must
 * work. The commands are parsed the way a POSIX shell would read them (single
 * and double quotes, `$VAR` in double quotes, backslash-newline), turned into
 * fetch calls, and their answers checked:
 * - a JSON answer without `errors` and with every `userErrors` empty, unless
 *   the example is documented with its answer (`curl -i` followed by an
 *   `HTTP/1.1 <status>` block), which must then match;
 * - shell variables the README asks the reader to fill in (`TOKEN='<...>'`)
 *   take the value an earlier example answered (the last `accessToken`,
 *   `plaintextKey`, ...); `<a product id>` likewise.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { seedDemoData } from '../src/db/seed.js';
import { createLogger } from '../src/observability/logger.js';
import { projectRoot } from '../src/util/project-root.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const METRICS_TOKEN = 'readme-metrics-token-0123456789';
const README = readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');

/** Splits one shell command into words: quotes, `$VAR`/`${VAR}` in double quotes and bare words. */
function shellWords(command: string, variable: (name: string) => string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < command.length; i += 1) {
    const c = command[i] as string;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${command}`);
      current += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      i += 1;
      while (i < command.length && command[i] !== '"') {
        const d = command[i] as string;
        if (d === '\\' && i + 1 < command.length && '"\\$`'.includes(command[i + 1] as string)) {
          current += command[i + 1];
          i += 2;
        } else if (d === '$') {
          const match = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(command.slice(i));
          if (!match) throw new Error(`unsupported $ expansion in: ${command}`);
          current += variable((match[1] ?? match[2]) as string);
          i += match[0].length;
        } else {
          current += d;
          i += 1;
        }
      }
      if (i >= command.length) throw new Error(`unterminated " in: ${command}`);
      inWord = true;
    } else if (c === '\\' && command[i + 1] === '\n') {
      i += 1;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else if (c === '$') {
      throw new Error(`unquoted $ in: ${command}`);
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** Splits a shell script into commands at newlines outside quotes; backslash-newline continues a command. */
function shellCommands(script: string): string[] {
  const commands: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < script.length; i += 1) {
    const c = script[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') {
        current += c + (script[i + 1] ?? '');
        i += 1;
        continue;
      }
      current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (c === '\\' && script[i + 1] === '\n') {
      current += ' ';
      i += 1;
    } else if (c === '\n') {
      commands.push(current);
      current = '';
    } else current += c;
  }
  if (current.trim()) commands.push(current);
  return commands;
}

/** The README's shell steps in order: variable assignments and curl commands. */
function readmeSteps(): Array<{ line: number; text: string; expectedStatus: number | undefined }> {
  const steps: Array<{ line: number; text: string; expectedStatus: number | undefined }> = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```\n/gm;
  const blocks = [...README.matchAll(fence)];
  blocks.forEach((block, index) => {
    if (block[1] !== 'sh') return;
    const line = README.slice(0, block.index).split('\n').length;
    const following = blocks[index + 1];
    const shown = following && following[1] === '' ? /^HTTP\/1\.1 (\d{3})/.exec(following[2] as string) : null;
    for (const command of shellCommands(block[2] as string)) {
      const text = command.trim();
      if (text.startsWith('curl ') || /^[A-Z_]+='<[^']*>'$/.test(text)) {
        steps.push({ line, text, expectedStatus: text.startsWith('curl ') && text.includes(' -i ') && shown ? Number(shown[1]) : undefined });
      }
    }
  });
  return steps;
}

/** Values an answer provides for later examples. */
function capture(body: unknown, into: Map<string, string>): void {
  const visit = (value: unknown, key: string | undefined) => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, key);
      return;
    }
    if (value === null || typeof value !== 'object') {
      if (typeof value !== 'string') return;
      if (key === 'accessToken') into.set('TOKEN', value);
      if (key === 'plaintextKey') into.set('API_KEY', value);
      return;
    }
    const record = value as Record<string, unknown>;
    if (key === 'node' && typeof record['id'] === 'string' && typeof record['title'] === 'string' && !into.has('<a product id>')) {
      into.set('<a product id>', record['id']);
    }
    for (const [k, v] of Object.entries(record)) visit(v, k);
  };
  visit(body, undefined);
}

/** Every `userErrors` list in the answer. */
function userErrorsOf(body: unknown): unknown[] {
  const found: unknown[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'userErrors' && Array.isArray(v)) found.push(...(v as unknown[]));
        else visit(v);
      }
    }
  };
  visit(body);
  return found;
}

interface CurlRequest {
  url: URL;
  init: RequestInit & { headers: Record<string, string> };
}

function toRequest(words: string[], baseUrl: string): CurlRequest {
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${words.join(' ')}`);
  const headers: Record<string, string> = {};
  const data: string[] = [];
  const urlEncoded: string[] = [];
  let get = false;
  let url: string | undefined;
  for (let i = 1; i < words.length; i += 1) {
    const word = words[i] as string;
    const next = () => {
      i += 1;
      const value = words[i];
      if (value === undefined) throw new Error(`${word} needs a value`);
      return value;
    };
    if (word === '-s' || word === '-i') continue;
    if (word === '-G') get = true;
    else if (word === '-H') {
      const header = next();
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (word === '-d') data.push(next());
    else if (word === '--data-urlencode') {
      const value = next();
      const eq = value.indexOf('=');
      urlEncoded.push(`${value.slice(0, eq)}=${encodeURIComponent(value.slice(eq + 1))}`);
    } else if (word.startsWith('http://localhost:4000')) url = word.replace('http://localhost:4000', baseUrl);
    else throw new Error(`curl option not understood by this test: ${word}`);
  }
  if (!url) throw new Error(`no http://localhost:4000 URL in: ${words.join(' ')}`);
  const target = new URL(url);
  if (get || (data.length === 0 && urlEncoded.length === 0)) {
    for (const pair of urlEncoded) target.search += `${target.search ? '&' : ''}${pair}`;
    return { url: target, init: { method: 'GET', headers } };
  }
  return { url: target, init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: data.join('&') } };
}

const steps = readmeSteps();

describe('README examples', () => {
  let server: TestServer;
  const variables = new Map<string, string>([['METRICS_TOKEN', METRICS_TOKEN]]);

  beforeAll(async () => {
    server = await startTestServer({ env: { METRICS_TOKEN } });
    await seedDemoData(server.db, createLogger({ logLevel: 'silent', logFormat: 'json' }));
  }, 60_000);

  afterAll(async () => {
    await server.close();
  });

  it('finds the examples: catalogue, errors, sign-in, the mutation walk-through and metrics', () => {
    const curls = steps.filter((s) => s.text.startsWith('curl '));
    expect(curls.length).toBeGreaterThanOrEqual(11);
    for (const needle of ['signUp(', 'createApiKey(', 'logIn(', 'logOut(', '/metrics', 'node(id:', '-G ']) {
      expect(curls.some((s) => s.text.includes(needle))).toBe(true);
    }
  });

  const curlCount = steps.filter((s) => s.text.startsWith('curl ')).length;
  let index = 0;
  it(`runs all ${curlCount} curl examples in order`, async () => {
    for (const step of steps) {
      const assignment = /^([A-Z_]+)='(<[^']*>)'$/.exec(step.text);
      if (assignment) {
        // The reader pastes a value from an earlier answer here; the test has captured it.
        const name = assignment[1] as string;
        if (!variables.has(name)) throw new Error(`README line ${step.line}: ${name} is not set by any earlier example`);
        continue;
      }
      index += 1;
      const label = `README line ${step.line}, example ${index}: ${step.text.slice(0, 120)}`;
      const words = shellWords(step.text, (name) => {
        const value = variables.get(name);
        if (value === undefined) throw new Error(`${label}: $${name} is not set`);
        return value;
      }).map((word) => word.replace(/<a product id>/g, () => variables.get('<a product id>') ?? '<a product id>'));
      const { url, init } = toRequest(words, server.baseUrl);
      const response = await fetch(url, init);
      const text = await response.text();
      const context = `${label}\n=> ${response.status} ${text.slice(0, 400)}`;

      if (url.pathname === '/metrics') {
        expect({ context, status: response.status }).toEqual({ context, status: 200 });
        expect(text).toContain('# TYPE graphql_operation_duration_seconds histogram');
        continue;
      }
      const body = JSON.parse(text) as { errors?: Array<{ extensions?: { code?: string } }>; extensions?: { requestId?: string } };
      expect({ context, requestId: typeof body.extensions?.requestId }).toEqual({ context, requestId: 'string' });
      if (step.expectedStatus !== undefined) {
        expect({ context, status: response.status }).toEqual({ context, status: step.expectedStatus });
        expect(body.errors?.length ?? 0).toBeGreaterThan(0);
      } else {
        expect({ context, status: response.status, errors: body.errors, userErrors: userErrorsOf(body) }).toEqual({
          context,
          status: 200,
          errors: undefined,
          userErrors: [],
        });
      }
      capture(body, variables);
    }
    expect(index).toBe(curlCount);
  }, 60_000);
});
