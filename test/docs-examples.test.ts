/**
 * Every example of README.md and docs/**\/*.md, run: what a reader copies
 * must work. The conventions a page follows (stated here, and in
 * docs/README.md for writers):
 *
 * - A ```sh block is run. Each page is one script, run in page order on a
 *   fresh database of its own holding the demo data: shell variables carry
 *   from one block to the next, `$API` is the test server's base URL and
 *   `$METRICS_TOKEN` its metrics token. `export API=http://localhost:4000`
 *   (the documented default) keeps the test server's. A line is understood
 *   or the test fails naming it (test/helpers/doc-shell.ts): `NAME=word`,
 *   `NAME=$(...)`, pipelines of curl into `jq [-r] <path>`, `printf '%s\n'`,
 *   `node -p`. `NAME='<...>'` stands for a value the reader pastes from an
 *   earlier answer; the test takes the last one answered (`accessToken` for
 *   TOKEN, `plaintextKey` for API_KEY), and `<a product id>` inside a
 *   command the first product id answered.
 * - A ```sh no-run block is shown, not run: commands that start servers,
 *   build images or need tools the test does not have (npm, docker,
 *   openssl). It may not call the API (`$API`), so an API example cannot
 *   dodge the test.
 * - The block right after a ```sh block (nothing but blank lines between)
 *   may show its last answer: ```json is the shape of the JSON answer
 *   (keys listed must match, `"<...>"` stands for any string or number,
 *   `"$NAME"` for a variable's value); a plain ``` block starting with
 *   `HTTP/1.1 <status>` is the status, the headers listed up to `...`, and
 *   optionally the body's shape. Every other answer must be 200, without
 *   `errors` and with every `userErrors` empty. A keyed request sent again
 *   must come back byte for byte with `Idempotent-Replayed: true`.
 * - A ```graphql block is parsed and validated against docs/schema.graphql,
 *   with the fragments of every other block (a block using Relay's
 *   directives is validated without the rules that Relay's fragment
 *   arguments replace); a query that needs no variables, no client-side
 *   directives and no fragment of another block is also run, anonymously,
 *   and must answer without errors.
 *   docs/guides/clients.md's operations run through the real clients too
 *   (test/clients/).
 * - Plain ``` blocks that are not answers, and blocks in other languages
 *   (ts, yaml, json, mermaid), are read by the tests that need them
 *   (test/clients/ compiles clients.md's) or not at all.
 * - No example block hard-codes `localhost:4000` except to set `$API`.
 *
 * The commerce walk-through also has its totals checked: one product listed,
 * one order, one unit sold, the retry replayed, one review.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  buildSchema,
  GraphQLError,
  KnownDirectivesRule,
  Kind,
  NoUndefinedVariablesRule,
  NoUnusedFragmentsRule,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';

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
} from './helpers/doc-shell.js';
import { documentationFiles } from './helpers/doc-files.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const METRICS_TOKEN = 'docs-metrics-token-0123456789';
const DEFAULT_API = 'http://localhost:4000';
const WALKTHROUGH = 'docs/guides/commerce-walkthrough.md';

interface FencedBlock {
  /** The first word of the info string: `sh`, `json`, `graphql`, or '' for a plain block. */
  lang: string;
  /** The rest of the info string, e.g. `no-run` or `relay.config.json`. */
  flags: string[];
  text: string;
  /** Line of the opening fence (1-based). */
  line: number;
  /** Only blank lines between the previous block's closing fence and this one. */
  followsDirectly: boolean;
}

function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  let open: { info: string; line: number; lines: string[]; followsDirectly: boolean } | undefined;
  let onlyBlankSinceLast = false;
  markdown.split('\n').forEach((line, index) => {
    if (open) {
      if (line.startsWith('```')) {
        const [lang = '', ...flags] = open.info.split(/\s+/).filter((word) => word !== '');
        blocks.push({ lang, flags, text: open.lines.join('\n') + '\n', line: open.line, followsDirectly: open.followsDirectly });
        open = undefined;
        onlyBlankSinceLast = true;
      } else open.lines.push(line);
    } else if (line.startsWith('```')) {
      open = { info: line.slice(3).trim(), line: index + 1, lines: [], followsDirectly: onlyBlankSinceLast };
    } else if (line.trim() !== '') onlyBlankSinceLast = false;
  });
  if (open) throw new Error(`unclosed code fence at line ${open.line}`);
  return blocks;
}

type ShownAnswer = { kind: 'json'; shape: unknown } | { kind: 'http'; shown: ShownHttpAnswer };

interface ScriptStep {
  line: number;
  commands: string[];
  answer: ShownAnswer | undefined;
}

interface DocPage {
  file: string;
  text: string;
  blocks: FencedBlock[];
  script: ScriptStep[];
}

function readPage(file: string): DocPage {
  const text = readFileSync(path.join(projectRoot(), file), 'utf8');
  const blocks = fencedBlocks(text);
  const script: ScriptStep[] = [];
  blocks.forEach((block, index) => {
    if (block.lang !== 'sh' || block.flags.includes('no-run')) return;
    const following = blocks[index + 1];
    let answer: ShownAnswer | undefined;
    if (following?.followsDirectly && following.flags.length === 0) {
      if (following.lang === 'json') answer = { kind: 'json', shape: JSON.parse(following.text) as unknown };
      else if (following.lang === '') {
        const shown = parseShownHttpAnswer(following.text.trimEnd());
        if (shown) answer = { kind: 'http', shown };
      }
    }
    const commands = shellCommands(block.text)
      .map((command) => command.trim())
      .filter((command) => command !== '' && !command.startsWith('#'));
    script.push({ line: block.line, commands, answer });
  });
  return { file, text, blocks, script };
}

const pages = documentationFiles().map(readPage);

interface CurlAnswer {
  label: string;
  path: string;
  includeHeaders: boolean;
  status: number;
  headers: Headers;
  text: string;
}

interface AnswerBody {
  errors?: Array<{ message?: string; extensions?: { code?: string } }>;
  extensions?: { requestId?: string };
}

/** Values an answer provides for `NAME='<...>'` lines and `<a product id>`. */
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
    if (typeof record['id'] === 'string' && typeof record['title'] === 'string' && !into.has('<a product id>')) {
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

/** A page's shell: its variables, and the keyed requests it sent (to check replays). */
class DocShell {
  readonly variables: Map<string, string>;
  readonly captured = new Map<string, string>();
  replays = 0;
  private readonly keyed = new Map<string, { requestBody: string; text: string }>();

  constructor(private readonly baseUrl: string) {
    this.variables = new Map([
      ['API', baseUrl],
      ['METRICS_TOKEN', METRICS_TOKEN],
    ]);
  }

  /** Runs one command line; the curl calls it made are appended to `answers`. */
  async run(command: string, label: string, answers: CurlAnswer[]): Promise<void> {
    const exported = command.startsWith('export ') ? command.slice('export '.length).trim() : command;
    const assignment = parseAssignment(exported);
    if (assignment?.word !== undefined) {
      const pasted = /^'(<[^']*>)'$/.exec(assignment.word);
      if (pasted) {
        // The reader pastes a value from an earlier answer here; the test has captured it.
        const value = this.captured.get(assignment.name);
        if (value === undefined) throw new Error(`${label}: no earlier answer provides ${assignment.name}`);
        this.variables.set(assignment.name, value);
        return;
      }
      const words = shellWords(assignment.word, this.lookup(label));
      if (words.length !== 1) throw new Error(`${label}: an assignment takes exactly one word`);
      if (assignment.name === 'API') {
        // The documented default stands for the test server.
        if (words[0] !== DEFAULT_API) throw new Error(`${label}: API is set to ${words[0]}, not the documented default ${DEFAULT_API}`);
        return;
      }
      this.variables.set(assignment.name, words[0] as string);
      return;
    }
    if (exported !== command) throw new Error(`${label}: export is only understood with NAME=word`);
    const output = await this.pipeline(assignment?.substitution ?? command, assignment !== undefined, label, answers);
    if (assignment) this.variables.set(assignment.name, output);
  }

  private lookup(label: string): (name: string) => string {
    return (name) => {
      const value = this.variables.get(name);
      if (value === undefined) throw new Error(`${label}: $${name} is not set by an earlier line of the page`);
      return value;
    };
  }

  private async pipeline(command: string, captured: boolean, label: string, answers: CurlAnswer[]): Promise<string> {
    const [first, ...filters] = pipelineStages(command);
    const productId = this.captured.get('<a product id>');
    const words = shellWords(first as string, this.lookup(label)).map((word) =>
      productId === undefined ? word : word.replace(/<a product id>/g, () => productId),
    );
    let output: string;
    if (words[0] === 'curl') {
      const request = toRequest(words, this.baseUrl);
      if (request.includeHeaders && (captured || filters.length > 0)) throw new Error(`${label}: the output of curl -i is for reading, not for jq`);
      const response = await fetch(request.url, request.init);
      output = await response.text();
      answers.push({ label, path: request.url.pathname, includeHeaders: request.includeHeaders, status: response.status, headers: response.headers, text: output });
      if (request.url.pathname === '/graphql') {
        try {
          capture(JSON.parse(output) as unknown, this.captured);
        } catch {
          // Not JSON: checkAnswers reports it.
        }
      }
      this.checkIdempotency(request.init.headers, typeof request.init.body === 'string' ? request.init.body : '', response, output, label);
    } else if (words[0] === 'printf' && words[1] === '%s\\n' && words.length === 3) {
      output = words[2] as string;
    } else if (words[0] === 'node' && words[1] === '-p' && words.length === 3) {
      // Run for real: the docs rely on the reader having Node.js, and so can the test.
      output = execFileSync(process.execPath, ['-p', words[2] as string], { encoding: 'utf8' }).replace(/\n+$/, '');
    } else {
      throw new Error(`${label}: command not understood by this test (mark the block \`sh no-run\` if it must not run): ${first}`);
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

/** Where the answers of one block differ from what the page says about them. */
function checkAnswers(answers: CurlAnswer[], shown: ShownAnswer | undefined, variable: (name: string) => string | undefined): void {
  answers.forEach((answer, index) => {
    const context = `${answer.label}\n=> ${answer.status} ${answer.text.slice(0, 600)}`;
    if (answer.path === '/metrics') {
      expect({ context, status: answer.status, prometheus: answer.text.includes('# TYPE ') }).toEqual({ context, status: 200, prometheus: true });
      return;
    }
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

/** Runs a page's script on `server`; the shell is returned for what the caller checks after. */
async function runPage(page: DocPage, server: TestServer): Promise<DocShell> {
  const shell = new DocShell(server.baseUrl);
  const variable = (name: string) => shell.variables.get(name);
  for (const step of page.script) {
    const answers: CurlAnswer[] = [];
    for (const command of step.commands) {
      await shell.run(command, `${page.file} line ${step.line}: ${command.slice(0, 100)}`, answers);
    }
    checkAnswers(answers, step.answer, variable);
  }
  return shell;
}

async function demoServer(): Promise<TestServer> {
  const server = await startTestServer({ env: { METRICS_TOKEN } });
  await seedDemoData(server.db, createLogger({ logLevel: 'silent', logFormat: 'json' }));
  return server;
}

/** Relay's client-side directives: a block using them is compiled by relay-compiler, not sent as is. */
const RELAY_DIRECTIVES = /@(argumentDefinitions|arguments|refetchable|connection|relay)\b/;

function graphqlBlocks(): Array<{ label: string; text: string }> {
  return pages.flatMap((page) =>
    page.blocks.filter((block) => block.lang === 'graphql').map((block) => ({ label: `${page.file} line ${block.line}`, text: block.text })),
  );
}

describe('the documentation examples', () => {
  it('follow the conventions: runnable or marked no-run, $API as the only base URL', () => {
    const problems: string[] = [];
    for (const page of pages) {
      for (const block of page.blocks) {
        const where = `${page.file} line ${block.line}`;
        if (block.lang === 'sh' && block.flags.includes('no-run') && block.text.includes('$API')) problems.push(`${where}: a no-run block calls $API`);
        if (block.lang === 'sh' && block.flags.some((flag) => flag !== 'no-run')) problems.push(`${where}: unknown flag ${block.flags.join(' ')}`);
        if (['bash', 'shell', 'console', 'zsh'].includes(block.lang)) problems.push(`${where}: shell examples are \`\`\`sh (or \`\`\`sh no-run)`);
        for (const line of block.text.split('\n')) {
          if (line.includes('localhost:4000') && line.trim() !== `export API=${DEFAULT_API}`) problems.push(`${where}: hard-coded localhost:4000: ${line.trim()}`);
        }
      }
      if (page.text.includes('../shared')) problems.push(`${page.file}: links outside the repository (../shared)`);
    }
    expect(problems).toEqual([]);
  });

  it('include the tour, the walk-throughs and an example in every guide that calls the API', () => {
    const runnable = (file: string) => pages.find((page) => page.file === file)?.script.length ?? 0;
    const text = (file: string) => pages.find((page) => page.file === file)?.script.flatMap((step) => step.commands).join('\n') ?? '';
    expect(runnable('README.md')).toBeGreaterThanOrEqual(3);
    for (const needle of ['products(', 'logIn(', 'checkout(', 'idempotency-key: $', 'curl -s -i']) {
      expect({ needle, found: text('README.md').includes(needle) }).toEqual({ needle, found: true });
    }
    for (const file of ['docs/guides/authentication.md', 'docs/guides/mutations-and-idempotency.md', 'docs/guides/pagination.md', 'docs/guides/errors.md', 'docs/guides/caching.md', WALKTHROUGH]) {
      expect({ file, runnable: runnable(file) > 0 }).toEqual({ file, runnable: true });
    }
    const walkthrough = text(WALKTHROUGH);
    const needles = ['logIn(', 'createProduct(', 'publishProduct(', 'inStock: true', 'checkout(', 'idempotency-key: $CHECKOUT_KEY', 'curl -s -i'];
    needles.push('viewer { orders', 'markOrderPaid(', 'shipOrder(', 'deliverOrder(', 'expectedVersion', 'createReview(');
    for (const needle of needles) {
      expect({ needle, found: walkthrough.includes(needle) }).toEqual({ needle, found: true });
    }
    for (const step of pages.find((page) => page.file === WALKTHROUGH)?.script ?? []) {
      const sendsRequest = step.commands.some((command) => /(^|\$\(|\| *)curl /.test(command));
      expect({ line: step.line, answerShown: step.answer !== undefined }).toEqual({ line: step.line, answerShown: sendsRequest });
    }
  });

  describe('GraphQL blocks', () => {
    let schema: GraphQLSchema;
    let server: TestServer;
    const blocks = graphqlBlocks();

    beforeAll(async () => {
      schema = buildSchema(readFileSync(path.join(projectRoot(), 'docs', 'schema.graphql'), 'utf8'));
      server = await startTestServer();
    }, 60_000);

    afterAll(async () => {
      await server.close();
    });

    it(`parse and validate against docs/schema.graphql (${blocks.length} blocks)`, () => {
      expect(blocks.length).toBeGreaterThan(0);
      // Fragments may be defined in one block of a page and spread in another.
      const fragments = blocks.flatMap((block) => parse(block.text).definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION));
      const problems: string[] = [];
      for (const block of blocks) {
        const document = parse(block.text);
        const own = new Set(document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [definition.name.value] : [])));
        const withFragments: DocumentNode = {
          ...document,
          definitions: [...document.definitions, ...fragments.filter((fragment) => !own.has(fragment.name.value))],
        };
        const relay = RELAY_DIRECTIVES.test(block.text) || fragments.some((fragment) => RELAY_DIRECTIVES.test(fragment.loc?.source.body ?? ''));
        const skipped = new Set<unknown>([NoUnusedFragmentsRule, ...(relay ? [KnownDirectivesRule, NoUndefinedVariablesRule] : [])]);
        const errors: readonly GraphQLError[] = validate(
          schema,
          withFragments,
          specifiedRules.filter((rule) => !skipped.has(rule)),
        );
        for (const error of errors) problems.push(`${block.label}: ${error.message}`);
      }
      expect(problems).toEqual([]);
    });

    it('run when they need no variables and no client-side directives', async () => {
      let ran = 0;
      for (const block of blocks) {
        const document = parse(block.text);
        const [operation, ...others] = document.definitions;
        // A spread of a fragment from another block is a Relay page's query: relay-compiler puts the two together.
        const spreadsElsewhere = /\.\.\.\s*(?!on\b)[_A-Za-z]/.test(block.text);
        if (RELAY_DIRECTIVES.test(block.text) || spreadsElsewhere || others.length > 0 || operation?.kind !== Kind.OPERATION_DEFINITION) continue;
        if (operation.operation !== OperationTypeNode.QUERY || operation.variableDefinitions?.some((definition) => definition.type.kind === Kind.NON_NULL_TYPE)) continue;
        const response = await fetch(`${server.baseUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: block.text }),
        });
        const body = (await response.json()) as AnswerBody;
        expect({ block: block.label, status: response.status, errors: body.errors }).toEqual({ block: block.label, status: 200, errors: undefined });
        ran += 1;
      }
      expect(ran).toBeGreaterThan(0);
    }, 60_000);
  });

  for (const page of pages.filter((candidate) => candidate.script.length > 0 && candidate.file !== WALKTHROUGH)) {
    describe(page.file, () => {
      let server: TestServer;

      beforeAll(async () => {
        server = await demoServer();
      }, 60_000);

      afterAll(async () => {
        await server.close();
      });

      const count = page.script.reduce((sum, step) => sum + step.commands.length, 0);
      it(`runs its ${page.script.length} shell blocks (${count} lines) in order, each answer as shown`, async () => {
        await runPage(page, server);
      }, 60_000);
    });
  }

  describe(WALKTHROUGH, () => {
    let server: TestServer;
    const page = pages.find((candidate) => candidate.file === WALKTHROUGH) as DocPage;

    beforeAll(async () => {
      server = await demoServer();
    }, 60_000);

    afterAll(async () => {
      await server.close();
    });

    it('runs as one script on a fresh demo database: one product listed, one order, one unit sold, the retry replayed, one review', async () => {
      const totals = async () => {
        const count = async (table: 'orders' | 'products' | 'reviews') =>
          Number((await server.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
        const stock = await server.db.selectFrom('products').select((eb) => eb.fn.sum<string>('stock').as('n')).executeTakeFirstOrThrow();
        return { orders: await count('orders'), products: await count('products'), reviews: await count('reviews'), stock: Number(stock.n) };
      };
      const before = await totals();
      const shell = await runPage(page, server);

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
});
