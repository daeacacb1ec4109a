/**
 * Every `curl` example in README.md, run against a test server holding the
 * demo data: what a newcomer copies must work. The commands are read the way
 * a POSIX shell would read them (test/helpers/readme-shell.ts), turned into
 * fetch calls, and their answers checked.
 *
 * The examples outside the commerce walk-through run in README order on one
 * database:
 * - a JSON answer without `errors` and with every `userErrors` empty, unless
 *   the example is documented with its answer (`curl -i` followed by an
 *   `HTTP/1.1 <status>` block), which must then match;
 * - shell variables the README asks the reader to fill in (`TOKEN='<...>'`)
 *   take the value an earlier example answered (the last `accessToken`,
 *   `plaintextKey`, ...); `<a product id>` likewise.
 *
 * The commerce walk-through is one script, run line by line on a fresh demo
 * database of its own: every line must be understood (`NAME=word`,
 * `NAME=$(...)`, pipelines of curl, `printf '%s\n' "$VAR"` and `node -p` into jq
 * paths), every variable comes from an earlier line, every request succeeds,
 * and the answer shown after each block must match the block's last answer.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { seedDemoData } from '../src/db/seed.js';
import { createLogger } from '../src/observability/logger.js';
import { projectRoot } from '../src/util/project-root.js';
import {
  applyJqPath,
  parseAssignment,
  parseShownHttpAnswer,
  pipelineStages,
  shapeMismatches,
  shellCommands,
  shellWords,
  toRequest,
  type ShownHttpAnswer,
} from './helpers/readme-shell.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const METRICS_TOKEN = 'readme-metrics-token-0123456789';
const README = readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');
const WALKTHROUGH_HEADING = '## Commerce walk-through';

interface FencedBlock {
  lang: string;
  text: string;
  line: number;
  /** The `## ` heading the block sits under. */
  section: string;
}

function fencedBlocks(): FencedBlock[] {
  const fence = /^```(\w*)\n([\s\S]*?)^```\n/gm;
  return [...README.matchAll(fence)].map((block) => {
    const before = README.slice(0, block.index);
    const headings = [...before.matchAll(/^## .*$/gm)];
    return {
      lang: block[1] as string,
      text: block[2] as string,
      line: before.split('\n').length,
      section: headings.at(-1)?.[0] ?? '',
    };
  });
}

const blocks = fencedBlocks();

/** The README's shell steps outside the walk-through, in order: placeholder assignments and curl commands. */
function readmeSteps(): Array<{ line: number; text: string; expectedStatus: number | undefined }> {
  const steps: Array<{ line: number; text: string; expectedStatus: number | undefined }> = [];
  blocks.forEach((block, index) => {
    if (block.lang !== 'sh' || block.section === WALKTHROUGH_HEADING) return;
    const following = blocks[index + 1];
    const shown = following && following.lang === '' ? parseShownHttpAnswer(following.text) : undefined;
    for (const command of shellCommands(block.text)) {
      const text = command.trim();
      if (text.startsWith('curl ') || /^[A-Z_]+='<[^']*>'$/.test(text)) {
        steps.push({ line: block.line, text, expectedStatus: text.startsWith('curl ') && text.includes(' -i ') && shown ? shown.status : undefined });
      }
    }
  });
  return steps;
}

type ShownAnswer = { kind: 'json'; shape: unknown } | { kind: 'http'; shown: ShownHttpAnswer };

/** The walk-through's shell blocks, each with the answer shown after it. */
function walkthroughBlocks(): Array<{ line: number; commands: string[]; answer: ShownAnswer | undefined }> {
  const found: Array<{ line: number; commands: string[]; answer: ShownAnswer | undefined }> = [];
  blocks.forEach((block, index) => {
    if (block.lang !== 'sh' || block.section !== WALKTHROUGH_HEADING) return;
    const following = blocks[index + 1];
    let answer: ShownAnswer | undefined;
    if (following?.lang === 'json') answer = { kind: 'json', shape: JSON.parse(following.text) as unknown };
    else if (following?.lang === '') {
      const shown = parseShownHttpAnswer(following.text);
      if (shown) answer = { kind: 'http', shown };
    }
    const commands = shellCommands(block.text)
      .map((command) => command.trim())
      .filter((command) => command !== '' && !command.startsWith('#'));
    found.push({ line: block.line, commands, answer });
  });
  return found;
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

interface CurlAnswer {
  label: string;
  includeHeaders: boolean;
  status: number;
  headers: Headers;
  text: string;
}

interface AnswerBody {
  errors?: Array<{ extensions?: { code?: string } }>;
  extensions?: { requestId?: string };
}

/** The walk-through's shell: its variables, and the keyed requests it sent (to check replays). */
class WalkthroughShell {
  readonly variables = new Map<string, string>();
  replays = 0;
  private readonly keyed = new Map<string, { requestBody: string; text: string }>();

  constructor(private readonly baseUrl: string) {}

  /** Runs one command line; the curl calls it made are appended to `answers`. */
  async run(command: string, label: string, answers: CurlAnswer[]): Promise<void> {
    const assignment = parseAssignment(command);
    if (assignment?.word !== undefined) {
      const words = shellWords(assignment.word, this.lookup(label));
      if (words.length !== 1) throw new Error(`${label}: an assignment takes exactly one word`);
      this.variables.set(assignment.name, words[0] as string);
      return;
    }
    const output = await this.pipeline(assignment?.substitution ?? command, assignment !== undefined, label, answers);
    if (assignment) this.variables.set(assignment.name, output);
  }

  private lookup(label: string): (name: string) => string {
    return (name) => {
      const value = this.variables.get(name);
      if (value === undefined) throw new Error(`${label}: $${name} is not set by an earlier line of the walk-through`);
      return value;
    };
  }

  private async pipeline(command: string, captured: boolean, label: string, answers: CurlAnswer[]): Promise<string> {
    const [first, ...filters] = pipelineStages(command);
    const words = shellWords(first as string, this.lookup(label));
    let output: string;
    if (words[0] === 'curl') {
      const request = toRequest(words, this.baseUrl);
      if (request.includeHeaders && (captured || filters.length > 0)) throw new Error(`${label}: the output of curl -i is for reading, not for jq`);
      const response = await fetch(request.url, request.init);
      output = await response.text();
      answers.push({ label, includeHeaders: request.includeHeaders, status: response.status, headers: response.headers, text: output });
      this.checkIdempotency(request.init.headers, typeof request.init.body === 'string' ? request.init.body : '', response, output, label);
    } else if (words[0] === 'printf' && words[1] === '%s\\n' && words.length === 3) {
      output = words[2] as string;
    } else if (words[0] === 'node' && words[1] === '-p' && words.length === 3) {
      // Run for real: the README relies on the reader having Node.js, and so can the test.
      output = execFileSync(process.execPath, ['-p', words[2] as string], { encoding: 'utf8' }).replace(/\n+$/, '');
    } else {
      throw new Error(`${label}: command not understood by this test: ${first}`);
    }
    for (const stage of filters) output = this.jq(shellWords(stage, this.lookup(label)), output, label);
    return output;
  }

  /** `jq [-r] <path>`; a path that finds nothing fails here rather than giving later steps the word `null`. */
  private jq(words: string[], input: string, label: string): string {
    const raw = words[1] === '-r';
    const filter = words[raw ? 2 : 1];
    if (words[0] !== 'jq' || filter === undefined || words.length !== (raw ? 3 : 2)) throw new Error(`${label}: pipeline stage not understood: ${words.join(' ')}`);
    let json: unknown;
    try {
      json = JSON.parse(input) as unknown;
    } catch {
      throw new Error(`${label}: jq got no JSON: ${input.slice(0, 400)}`);
    }
    const result = applyJqPath(filter, json);
    if (!raw) return JSON.stringify(result, null, 2);
    if (result === null) throw new Error(`${label}: jq -r '${filter}' found nothing in ${input.slice(0, 600)}`);
    return typeof result === 'string' ? result : JSON.stringify(result, null, 2);
  }

  /** A keyed request sent again must get the first answer back, byte for byte, marked as a replay. */
  private checkIdempotency(headers: Record<string, string>, requestBody: string, response: Response, text: string, label: string): void {
    const key = headers['idempotency-key'];
    if (key === undefined) return;
    const scope = `${headers['authorization'] ?? ''}\n${key}`;
    const first = this.keyed.get(scope);
    const replayed = response.headers.get('idempotent-replayed');
    if (first === undefined) {
      expect({ label, replayed }).toEqual({ label, replayed: null });
      this.keyed.set(scope, { requestBody, text });
    } else if (first.requestBody === requestBody) {
      expect({ label, replayed, text }).toEqual({ label, replayed: 'true', text: first.text });
      this.replays += 1;
    }
  }
}

/** Where the answers of one walk-through block differ from what the README says about them. */
function checkBlockAnswers(answers: CurlAnswer[], shown: ShownAnswer | undefined, variable: (name: string) => string | undefined): void {
  answers.forEach((answer, index) => {
    const context = `${answer.label}\n=> ${answer.status} ${answer.text.slice(0, 600)}`;
    const body = JSON.parse(answer.text) as AnswerBody;
    expect({ context, requestId: typeof body.extensions?.requestId }).toEqual({ context, requestId: 'string' });
    const documented = index === answers.length - 1 && shown?.kind === 'http' ? shown.shown : undefined;
    if (documented) {
      const headers = documented.headers.map(([name]) => [name, name === 'x-request-id' ? answer.headers.has(name) : answer.headers.get(name)]);
      expect({ context, status: answer.status, headers }).toEqual({
        context,
        status: documented.status,
        headers: documented.headers.map(([name, value]) => [name, name === 'x-request-id' ? true : value]),
      });
      expect({ context, hasErrors: (body.errors?.length ?? 0) > 0 }).toEqual({ context, hasErrors: documented.status >= 400 });
      const mismatches = documented.body === '' ? [] : shapeMismatches(body, JSON.parse(documented.body) as unknown, variable);
      expect({ context, mismatches }).toEqual({ context, mismatches: [] });
    } else {
      if (answer.includeHeaders) throw new Error(`${answer.label}: a curl -i example needs its HTTP answer shown after the block`);
      expect({ context, status: answer.status, errors: body.errors, userErrors: userErrorsOf(body) }).toEqual({
        context,
        status: 200,
        errors: undefined,
        userErrors: [],
      });
    }
  });
  if (shown?.kind === 'json') {
    const last = answers.at(-1);
    if (!last) throw new Error('an answer is shown after a block that sends no request');
    const mismatches = shapeMismatches(JSON.parse(last.text) as unknown, shown.shape, variable);
    expect({ context: last.label, mismatches }).toEqual({ context: last.label, mismatches: [] });
  }
}

describe('README commerce walk-through', () => {
  let server: TestServer;
  const script = walkthroughBlocks();

  beforeAll(async () => {
    server = await startTestServer();
    await seedDemoData(server.db, createLogger({ logLevel: 'silent', logFormat: 'json' }));
  }, 60_000);

  afterAll(async () => {
    await server.close();
  });

  it('walks from log-in and listing a product through checkout, replay, payment, shipping and delivery to a review, showing every answer', () => {
    expect(script.length).toBeGreaterThanOrEqual(8);
    const text = script.flatMap((block) => block.commands).join('\n');
    const needles = ['logIn(', 'createProduct(', 'publishProduct(', 'inStock: true', 'checkout(', 'idempotency-key: $CHECKOUT_KEY', 'curl -s -i'];
    needles.push('viewer { orders', 'markOrderPaid(', 'shipOrder(', 'deliverOrder(', 'expectedVersion', 'createReview(');
    for (const needle of needles) {
      expect({ needle, found: text.includes(needle) }).toEqual({ needle, found: true });
    }
    for (const block of script) {
      const sendsRequest = block.commands.some((command) => /(^|\$\(|\| *)curl /.test(command));
      expect({ line: block.line, answerShown: block.answer !== undefined }).toEqual({ line: block.line, answerShown: sendsRequest });
    }
    expect(README).not.toContain('../shared');
  });

  it('runs as one script on a fresh demo database: one product listed, one order, one unit sold, the retry replayed, one review', async () => {
    const totals = async () => {
      const count = async (table: 'orders' | 'products' | 'reviews') =>
        Number((await server.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
      const stock = await server.db.selectFrom('products').select((eb) => eb.fn.sum<string>('stock').as('n')).executeTakeFirstOrThrow();
      return { orders: await count('orders'), products: await count('products'), reviews: await count('reviews'), stock: Number(stock.n) };
    };
    const before = await totals();
    const shell = new WalkthroughShell(server.baseUrl);
    const variable = (name: string) => shell.variables.get(name);
    for (const block of script) {
      const answers: CurlAnswer[] = [];
      for (const command of block.commands) {
        await shell.run(command, `README line ${block.line}: ${command.slice(0, 100)}`, answers);
      }
      checkBlockAnswers(answers, block.answer, variable);
    }

    expect(shell.replays).toBe(1);
    // The new product came with 5 units; the checkout took one, and its replay none.
    expect(await totals()).toEqual({ orders: before.orders + 1, products: before.products + 1, reviews: before.reviews + 1, stock: before.stock + 5 - 1 });
    const listed = JSON.parse(shell.variables.get('PRODUCTS') ?? 'null') as { data: { products: { nodes: Array<{ stock: number }> } } };
    const now = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query ($id: ID!) { product(id: $id) { stock } }', variables: { id: shell.variables.get('PRODUCT_ID') } }),
    });
    const stockNow = ((await now.json()) as { data: { product: { stock: number } } }).data.product.stock;
    expect(stockNow).toBe((listed.data.products.nodes[0]?.stock ?? Number.NaN) - 1);
  }, 60_000);
});
