/**
 * The in-browser IDE at `GET /graphql` (for requests that accept text/html):
 * Apollo Sandbox (loaded from Apollo's CDN), GraphiQL (served by this server
 * from the project's own dependencies, so it works with no internet access),
 * or none.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { FastifyInstance } from 'fastify';

import type { GraphqlIde } from '../config/config.js';
import { projectRoot } from '../util/project-root.js';

const require = createRequire(import.meta.url);

/**
 * A browser file of an npm package: from node_modules in development and
 * tests; in a production install, where graphiql and React (development
 * dependencies) are absent, from the copy `npm run build` made in dist/graphiql/.
 */
function packageFile(pkg: string, file: string): string {
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
  } catch {
    return path.join(projectRoot(), 'dist', 'graphiql', path.basename(file));
  }
}

/**
 * Content-Security-Policy of the GraphiQL page: everything from this origin
 * (scripts, styles, the GraphQL requests), fonts and icons inlined as data:
 * URIs by GraphiQL's stylesheet; inline style attributes (React sets them);
 * no inline script, no other host, no framing.
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

const ASSETS: Record<string, { type: string; file: () => string } | { type: string; text: string }> = {
  'react.production.min.js': { type: 'text/javascript', file: () => packageFile('react', 'umd/react.production.min.js') },
  'react-dom.production.min.js': { type: 'text/javascript', file: () => packageFile('react-dom', 'umd/react-dom.production.min.js') },
  'graphiql.min.js': { type: 'text/javascript', file: () => packageFile('graphiql', 'graphiql.min.js') },
  'graphiql.min.css': { type: 'text/css', file: () => packageFile('graphiql', 'graphiql.min.css') },
  'page.css': { type: 'text/css', text: 'html, body, #graphiql { height: 100%; margin: 0; }\n' },
  // No inline script, so a strict Content-Security-Policy (script-src 'self') allows the page.
  'init.js': {
    type: 'text/javascript',
    text: `'use strict';
(function () {
  var params = new URLSearchParams(window.location.search);
  var fetcher = GraphiQL.createFetcher({
    url: new URL('/graphql', window.location.href).href,
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

/** Apollo's landing-page plugin for the configured IDE. */
export function idePlugin(ide: GraphqlIde): ApolloServerPlugin {
  switch (ide) {
    case 'sandbox':
      return ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: true });
    case 'graphiql':
      return {
        async serverWillStart() {
          return {
            async renderLandingPage() {
              return { html: GRAPHIQL_PAGE };
            },
          };
        },
      };
    case 'off':
      return ApolloServerPluginLandingPageDisabled();
  }
}

/** Serves GraphiQL's files (read once, kept in memory) when GraphiQL is the IDE. */
export function registerIdeAssets(app: FastifyInstance, ide: GraphqlIde): void {
  if (ide !== 'graphiql') return;
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
