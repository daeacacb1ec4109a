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
import { documentationFiles } from './helpers/doc-files.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import {
  type DocPage,
  readPage,
  type CurlAnswer,
  type AnswerBody,
  DocShell,
  checkAnswers,
  DEFAULT_API,
  METRICS_TOKEN,
} from './helpers/doc-pages.js';
const WALKTHROUGH = 'docs/guides/commerce-walkthrough.md';

const pages = documentationFiles().map(readPage);

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
