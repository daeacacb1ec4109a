/**
 * The in-browser IDE at `GET /graphql` (for requests that accept text/html):
 * Apollo Sandbox (loaded from Apollo's CDN, falling back in the browser to
 * GraphiQL when the CDN cannot be reached), GraphiQL (served by this server
 * from the project's own dependencies, so it works with no internet access),
 * or none.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { DEFAULT_EMBEDDED_SANDBOX_VERSION } from '@apollo/server/plugin/landingPage/default';
import type { FastifyInstance } from 'fastify';

import type { GraphqlIde } from '../config/config.js';
import { projectRoot } from '../util/project-root.js';

const require = createRequire(import.meta.url);

/**
 * A browser file of an npm package: from node_modules in development and
 * tests; in a production install, where graphiql, React and Swagger UI
 * (development dependencies) are absent, from the copy `npm run build` made
 * in dist/<distDir>/ (scripts/copy-ide-assets.mjs).
 */
export function packageFile(pkg: string, file: string, distDir = 'graphiql'): string {
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
  } catch {
    return path.join(projectRoot(), 'dist', distDir, path.basename(file));
  }
}

/**
 * Content-Security-Policy of the GraphiQL page: everything from this origin
 * (scripts, styles, the GraphQL requests), fonts and icons inlined as data:
 * URIs by GraphiQL's stylesheet; inline style attributes (React sets them);
 * no inline script, no other host, no framing. connect-src 'self' also
 * allows WebSockets to this host (ws: for http:, wss: for https:, CSP level 3),
 * which subscriptions use.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where GraphiQL's page loads its files from; nothing is loaded from another host. */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

/** Sandbox's script, the version Apollo Server's own landing page embeds. */
export const SANDBOX_SCRIPT = `https://embeddable-sandbox.cdn.apollographql.com/${DEFAULT_EMBEDDED_SANDBOX_VERSION}/embeddable-sandbox.umd.production.min.js`;

/** How long the Sandbox page waits for Sandbox's script before it shows GraphiQL instead. */
export const SANDBOX_TIMEOUT_MS = 4000;

/**
 * Content-Security-Policy of the Sandbox page: Sandbox's script from Apollo's
 * CDN and its iframe from Apollo's embed host; this origin's GraphiQL files
 * for the fallback (same sources as GRAPHIQL_CSP); inline style attributes
 * (Sandbox's iframe and React set them). The page itself has no inline
 * script. Operations run from this page (Sandbox relays them to the parent
 * window, which fetches the endpoint), hence connect-src 'self'; Sandbox's
 * own calls to Apollo go from the iframe, under that origin's policy, but
 * Apollo's hosts stay allowed here as they were for Apollo's landing page.
 */
export const SANDBOX_CSP = [
  "default-src 'none'",
  "script-src 'self' https://embeddable-sandbox.cdn.apollographql.com",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  'frame-src https://sandbox.embed.apollographql.com',
  "connect-src 'self' https://*.apollographql.com",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The HTML page's CSP for an IDE; undefined: the default of registerSecurityHeaders. */
export function ideCsp(ide: GraphqlIde): string | undefined {
  switch (ide) {
    case 'sandbox':
      return SANDBOX_CSP;
    case 'graphiql':
      return GRAPHIQL_CSP;
    case 'off':
      return undefined;
  }
}

/** GraphiQL's scripts, in the order they must run. */
const GRAPHIQL_SCRIPTS = ['react.production.min.js', 'react-dom.production.min.js', 'graphiql.min.js', 'init.js'];

const ASSETS: Record<string, { type: string; file: () => string } | { type: string; text: string }> = {
  'react.production.min.js': { type: 'text/javascript', file: () => packageFile('react', 'umd/react.production.min.js') },
  'react-dom.production.min.js': { type: 'text/javascript', file: () => packageFile('react-dom', 'umd/react-dom.production.min.js') },
  'graphiql.min.js': { type: 'text/javascript', file: () => packageFile('graphiql', 'graphiql.min.js') },
  'graphiql.min.css': { type: 'text/css', file: () => packageFile('graphiql', 'graphiql.min.css') },
  'page.css': { type: 'text/css', text: 'html, body, #graphiql { height: 100%; margin: 0; }\n' },
  'sandbox.css': {
    type: 'text/css',
    text: `html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; }
[hidden] { display: none !important; }
.ide-note { margin: 0; padding: 6px 12px; font: 14px/1.4 system-ui, sans-serif; background: #fff4ce; border-bottom: 1px solid #e5c65a; }
#sandbox, #graphiql { flex: 1; min-height: 0; }
#sandbox iframe { width: 100%; height: 100%; border: none; background-color: white; }
`,
  },
  // The Sandbox page: Sandbox if its script loads within SANDBOX_TIMEOUT_MS, else
  // (script error, timeout, browser offline) GraphiQL from this server, with a note.
  'sandbox.js': {
    type: 'text/javascript',
    text: `'use strict';
(function () {
  var settled = false;
  var timer;
  function settle() {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    document.getElementById('ide-loading').hidden = true;
    return true;
  }
  function showGraphiql() {
    if (!settle()) return;
    document.getElementById('sandbox').hidden = true;
    document.getElementById('ide-fallback').hidden = false;
    document.getElementById('graphiql').hidden = false;
    var style = document.createElement('link');
    style.rel = 'stylesheet';
    style.href = ${JSON.stringify(`${GRAPHIQL_ASSET_PREFIX}graphiql.min.css`)};
    document.head.appendChild(style);
    ${JSON.stringify(GRAPHIQL_SCRIPTS.map((name) => GRAPHIQL_ASSET_PREFIX + name))}.forEach(function (src) {
      var script = document.createElement('script');
      script.src = src;
      script.async = false; // run in insertion order: React, ReactDOM, GraphiQL, init
      document.body.appendChild(script);
    });
  }
  function showSandbox() {
    if (typeof window.EmbeddedSandbox !== 'function') return showGraphiql();
    if (!settle()) return;
    var query = new URLSearchParams(window.location.search).get('query');
    var initialState = { includeCookies: true };
    if (query) initialState.document = query;
    var endpoint = new URL('/graphql', window.location.href);
    new window.EmbeddedSandbox({
      target: '#sandbox',
      initialEndpoint: endpoint.href,
      // Subscriptions: graphql-transport-ws on the same URL (ws:// or wss://).
      initialSubscriptionEndpoint: endpoint.href.replace(/^http/, 'ws'),
      initialState: initialState,
      endpointIsEditable: false,
      hideCookieToggle: false,
    });
  }
  if (navigator.onLine === false) return showGraphiql();
  timer = setTimeout(showGraphiql, ${SANDBOX_TIMEOUT_MS});
  var script = document.createElement('script');
  script.src = ${JSON.stringify(SANDBOX_SCRIPT)};
  script.onload = showSandbox;
  script.onerror = showGraphiql;
  document.head.appendChild(script);
})();
`,
  },
  // No inline script, so a strict Content-Security-Policy (script-src 'self') allows the page.
  'init.js': {
    type: 'text/javascript',
    text: `'use strict';
(function () {
  var params = new URLSearchParams(window.location.search);
  var url = new URL('/graphql', window.location.href).href;
  var fetcher = GraphiQL.createFetcher({
    url: url,
    // Subscriptions: graphql-transport-ws on the same URL; the Headers tab's JSON (an Authorization
    // header) goes in connection_init's payload, where the server reads the credential.
    subscriptionUrl: url.replace(/^http/, 'ws'),
    // Same-origin cookies (the refresh-token cookie) travel, as with Sandbox's includeCookies.
    fetch: function (input, init) { return window.fetch(input, Object.assign({}, init, { credentials: 'same-origin' })); },
  });
  var props = { fetcher: fetcher, isHeadersEditorEnabled: true, shouldPersistHeaders: false };
  var query = params.get('query');
  if (query) { props.query = query; props.defaultQuery = query; }
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
`,
  },
};

const GRAPHIQL_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>marketplace-api · GraphiQL</title>
    <link rel="stylesheet" href="${GRAPHIQL_ASSET_PREFIX}graphiql.min.css">
    <link rel="stylesheet" href="${GRAPHIQL_ASSET_PREFIX}page.css">
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="${GRAPHIQL_ASSET_PREFIX}react.production.min.js"></script>
    <script src="${GRAPHIQL_ASSET_PREFIX}react-dom.production.min.js"></script>
    <script src="${GRAPHIQL_ASSET_PREFIX}graphiql.min.js"></script>
    <script src="${GRAPHIQL_ASSET_PREFIX}init.js"></script>
  </body>
</html>
`;

const SANDBOX_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>marketplace-api · Apollo Sandbox</title>
    <link rel="stylesheet" href="${GRAPHIQL_ASSET_PREFIX}sandbox.css">
  </head>
  <body>
    <p id="ide-loading" class="ide-note">Loading Apollo Sandbox from Apollo's CDN…</p>
    <p id="ide-fallback" class="ide-note" hidden>Apollo Sandbox could not be loaded from Apollo's CDN (offline?), so this is GraphiQL, served by this server. <code>GRAPHQL_IDE=graphiql</code> skips the attempt.</p>
    <div id="sandbox"></div>
    <div id="graphiql" hidden>Loading GraphiQL…</div>
    <script src="${GRAPHIQL_ASSET_PREFIX}sandbox.js"></script>
  </body>
</html>
`;

/** A landing-page plugin that serves a fixed page. */
function landingPage(html: string): ApolloServerPlugin {
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}

/** Apollo's landing-page plugin for the configured IDE. */
export function idePlugin(ide: GraphqlIde): ApolloServerPlugin {
  switch (ide) {
    case 'sandbox':
      return landingPage(SANDBOX_PAGE);
    case 'graphiql':
      return landingPage(GRAPHIQL_PAGE);
    case 'off':
      return ApolloServerPluginLandingPageDisabled();
  }
}

/** Serves GraphiQL's files (read once, kept in memory) when the IDE is GraphiQL or Sandbox (its fallback). */
export function registerIdeAssets(app: FastifyInstance, ide: GraphqlIde): void {
  if (ide === 'off') return;
  const cache = new Map<string, Promise<Buffer | string>>();
  app.get<{ Params: { file: string } }>(`${GRAPHIQL_ASSET_PREFIX}:file`, async (request, reply) => {
    const name = request.params.file;
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) return reply.callNotFound();
    let body = cache.get(name);
    if (!body) {
      body = 'text' in asset ? Promise.resolve(asset.text) : readFile(asset.file());
      cache.set(name, body);
    }
    return reply
      .header('content-type', `${asset.type}; charset=utf-8`)
      .header('cache-control', 'public, max-age=3600')
      .send(await body);
  });
}
