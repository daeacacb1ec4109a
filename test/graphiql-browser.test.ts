/**
 * The IDE pages in a real browser (headless Chromium, Debian's `chromium`
 * package, driven by playwright-core). GraphiQL: the page loads with every
 * request answered by this server, runs the catalog query and shows products;
 * any request to another host is aborted and fails the test, so it proves the
 * IDE works with no internet access. Sandbox (the development default): when
 * Apollo's CDN fails or hangs, the page shows GraphiQL with a note and runs
 * the query; when the CDN answers, Sandbox is embedded and GraphiQL is not loaded.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';

import { createAccount } from './helpers/auth.js';
import { until } from './helpers/live.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { SANDBOX_SCRIPT } from '../src/graphql/ide.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CATALOG = 'query Catalog {\n  products(first: 5) {\n    totalCount\n    nodes { title price { amount currency } }\n  }\n}';

const chromiumInstalled = existsSync(CHROMIUM);
if (!chromiumInstalled) {
  const reason = `${CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium) or set CHROMIUM_PATH`;
  // CI installs Chromium (.ci/run); there a missing browser is a failure, not a skip.
  if (process.env['CI']) throw new Error(`GraphiQL browser test cannot run: ${reason}`);
  console.warn(`\n!!! SKIPPING the GraphiQL browser test: ${reason} !!!\n`);
}
const describeWithBrowser = chromiumInstalled ? describe : describe.skip;

/** Runs the catalog query with GraphiQL's button and checks the seeded products in the result. */
async function runCatalogInGraphiql(page: Page): Promise<void> {
  await page.locator('.graphiql-execute-button').click({ timeout: 20_000 });
  const result = page.locator('.result-window');
  await expect(result.getByText('Offline Walnut Desk Lamp').first().waitFor({ timeout: 20_000 })).resolves.toBeUndefined();
  const text = await result.innerText();
  expect(text).toContain('Offline Linen Cushion');
  expect(text).toContain('"totalCount": 2');
}

/** Page errors and console errors (Content-Security-Policy violations are console errors). */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return errors;
}

describeWithBrowser('IDE pages offline in headless Chromium', () => {
  let server: TestServer;
  let sandboxServer: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ env: { GRAPHQL_IDE: 'graphiql', GRAPHQL_INTROSPECTION: 'true' } });
    // `sandbox` is the development default; test servers run with NODE_ENV=test, so it is named here.
    sandboxServer = await startTestServer({ env: { GRAPHQL_IDE: 'sandbox', GRAPHQL_INTROSPECTION: 'true' }, shareDatabaseOf: server });
    const seed = seeder(server.db);
    const seller = await seed.user({ role: 'SELLER' });
    const category = await seed.category();
    await seed.product({ seller, category, title: 'Offline Walnut Desk Lamp' });
    await seed.product({ seller, category, title: 'Offline Linen Cushion' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-default-apps',
        '--disable-sync',
        '--no-first-run',
        '--metrics-recording-only',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sandboxServer?.close();
    await server?.close();
  });

  it('loads the page from this server only, runs the catalog query and shows products', async () => {
    const page = await browser.newPage();
    const origin = new URL(server.baseUrl).origin;
    const elsewhere: string[] = [];
    const served: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith('data:') || new URL(url).origin === origin) {
        served.push(url);
        await route.continue();
      } else {
        elsewhere.push(url);
        await route.abort('internetdisconnected');
      }
    });
    const pageErrors = collectErrors(page);

    const response = await page.goto(`${server.baseUrl}/graphql?query=${encodeURIComponent(CATALOG)}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self';/);
    await runCatalogInGraphiql(page);

    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(served.some((url) => url.endsWith('/graphiql/graphiql.min.js'))).toBe(true);
    await page.close();
  }, 60_000);

  /**
   * The default (Sandbox) page with Apollo's CDN answering Sandbox's script as
   * `cdn` says: `fail`, a network error (as offline); `hang`, never (the
   * page's own timeout decides); `stub`, a stand-in EmbeddedSandbox that
   * records its options (as online, without Apollo's real script). Every other
   * request to another host is aborted.
   */
  async function sandboxPage(cdn: 'fail' | 'hang' | 'stub'): Promise<{ page: Page; elsewhere: string[]; served: string[]; errors: string[] }> {
    const page = await browser.newPage();
    const origin = new URL(sandboxServer.baseUrl).origin;
    const elsewhere: string[] = [];
    const served: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith('data:') || new URL(url).origin === origin) {
        served.push(url);
        await route.continue();
        return;
      }
      elsewhere.push(url);
      if (url === SANDBOX_SCRIPT && cdn === 'hang') return; // left pending until the page closes
      if (url === SANDBOX_SCRIPT && cdn === 'stub') {
        await route.fulfill({
          contentType: 'text/javascript',
          body: "window.EmbeddedSandbox = function (options) { window.sandboxOptions = options; document.querySelector(options.target).textContent = 'stub Sandbox'; };",
        });
        return;
      }
      await route.abort('internetdisconnected');
    });
    const errors = collectErrors(page);
    // Not until `load`: a pending script (`hang`) holds the load event back.
    const response = await page.goto(`${sandboxServer.baseUrl}/graphql?query=${encodeURIComponent(CATALOG)}`, { waitUntil: 'domcontentloaded' });
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self' https://embeddable-sandbox.cdn.apollographql.com;");
    expect(csp).toContain('frame-src https://sandbox.embed.apollographql.com;');
    return { page, elsewhere, served, errors };
  }

  it.each(['fail', 'hang'] as const)(
    'falls back from Sandbox to GraphiQL with a note when the CDN requests %s, and runs the query',
    async (cdn) => {
      const { page, elsewhere, served, errors } = await sandboxPage(cdn);
      const note = page.locator('#ide-fallback');
      // `hang` waits for the page's 4 s timeout; the generous limit is for a loaded machine.
      await note.waitFor({ state: 'visible', timeout: 30_000 });
      expect(await note.innerText()).toMatch(/Apollo Sandbox could not be loaded.*GraphiQL.*GRAPHQL_IDE=graphiql skips the attempt/);
      await runCatalogInGraphiql(page);

      expect(elsewhere).toEqual([SANDBOX_SCRIPT]);
      expect(served.some((url) => url.endsWith('/graphiql/graphiql.min.js'))).toBe(true);
      expect(await page.locator('#sandbox').isHidden()).toBe(true);
      // GraphiQL fills the window below the one-line note.
      const viewport = page.viewportSize();
      const noteBox = await note.boundingBox();
      const graphiqlBox = await page.locator('.graphiql-container').boundingBox();
      expect(viewport && noteBox && graphiqlBox).toBeTruthy();
      if (viewport && noteBox && graphiqlBox) {
        expect(noteBox.height).toBeLessThan(60);
        expect(graphiqlBox.y).toBeGreaterThanOrEqual(noteBox.y + noteBox.height - 1);
        expect(graphiqlBox.y + graphiqlBox.height).toBeGreaterThan(viewport.height - 2);
      }
      // Chromium logs the failed script load itself as a console error; anything else counts.
      expect(errors.filter((message) => !message.includes('net::ERR_INTERNET_DISCONNECTED'))).toEqual([]);
      await page.close();
    },
    90_000,
  );

  it('embeds Sandbox for this endpoint, with cookies and the ?query= document, when its script loads', async () => {
    const { page, elsewhere, served, errors } = await sandboxPage('stub');
    await page.locator('#sandbox').getByText('stub Sandbox').waitFor({ timeout: 20_000 });
    const options: unknown = await page.evaluate('window.sandboxOptions');
    expect(options).toEqual({
      target: '#sandbox',
      initialEndpoint: `${sandboxServer.baseUrl}/graphql`,
      initialSubscriptionEndpoint: `${sandboxServer.baseUrl.replace(/^http/, 'ws')}/graphql`,
      initialState: { includeCookies: true, document: CATALOG },
      endpointIsEditable: false,
      hideCookieToggle: false,
    });
    expect(await page.locator('#ide-fallback').isHidden()).toBe(true);
    expect(await page.locator('#ide-loading').isHidden()).toBe(true);
    expect(elsewhere).toEqual([SANDBOX_SCRIPT]);
    expect(served.filter((url) => /graphiql\.min|react/.test(url))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  // Last: its product and order would change the catalogue the tests above count.
  it('runs a subscription over a WebSocket to this origin, with the Headers tab as its credential, within the page policy', async () => {
    const customer = await createAccount(server);
    const product = await seeder(server.db).product({ category: await seeder(server.db).category(), title: 'Live Oak Stool', stock: 3 });
    const page = await browser.newPage();
    const pageErrors = collectErrors(page);
    // The browser's own favicon request (answered 404 by the API) is not the page's error.
    await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
    const response = await page.goto(`${server.baseUrl}/graphql?query=${encodeURIComponent('subscription Mine {\n  myOrderUpdates { id status }\n}')}`);
    expect(response?.headers()['content-security-policy']).toMatch(/connect-src 'self';/);
    // myOrderUpdates needs a signed-in customer: the Headers tab's Authorization goes in connection_init.
    await page.getByText('Headers', { exact: true }).click({ timeout: 20_000 });
    await page.locator('.graphiql-editor-tool .graphiql-editor').last().click();
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${customer.accessToken}` }));
    await page.locator('.graphiql-execute-button').click();
    await until(() => server.app.live.streams === 1, 'the subscription from GraphiQL', 20_000);

    const checkout = await server.graphql<{ checkout: { orders: Array<{ id: string }> | null } }>(
      'mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { code } } }',
      { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } },
      { headers: { ...customer.headers, 'idempotency-key': randomUUID() } },
    );
    const orderId = checkout.body.data?.checkout.orders?.[0]?.id;
    expect(orderId).toBeDefined();
    const result = page.locator('.result-window');
    await result.getByText('PENDING_PAYMENT').waitFor({ timeout: 20_000 });
    expect(await result.innerText()).toContain(String(orderId));
    expect(pageErrors).toEqual([]);
    await page.close();
    await until(() => server.app.live.streams === 0, 'the subscription to end with the page');
  }, 60_000);
});
