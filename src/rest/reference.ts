/**
 * The REST reference page at `GET /v1/docs`: Swagger UI reading
 * `/v1/openapi.json`, every file served by this server (from the
 * swagger-ui-dist package, or in a production install from the copy
 * `npm run build` makes in dist/swagger-ui/), so it works offline, like the
 * bundled GraphiQL. REST_REFERENCE turns it off.
 */
import { readFile } from 'node:fs/promises';

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { packageFile } from '../graphql/ide.js';

/**
 * The page's Content-Security-Policy: its own scripts and styles (Swagger UI
 * sets inline style attributes), images inlined as data: URIs, requests to
 * this origin only (the document, and "Try it out"); nothing else, no framing.
 */
export const REFERENCE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files of Swagger UI the page loads, as scripts/copy-ide-assets.mjs copies them. */
export const SWAGGER_UI_FILES = ['swagger-ui-bundle.js', 'swagger-ui.css'] as const;

function page(prefix: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>marketplace-api REST ${prefix.slice(1)}</title>
<link rel="stylesheet" href="${prefix}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${prefix}/docs/assets/swagger-ui-bundle.js"></script>
<script src="${prefix}/docs/assets/init.js"></script>
</body>
</html>
`;
}

function init(prefix: string): string {
  return `'use strict';
window.ui = SwaggerUIBundle({ url: ${JSON.stringify(`${prefix}/openapi.json`)}, dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: false });
`;
}

export function registerReference(app: FastifyInstance, prefix: string): void {
  const withCsp = async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    // The edge's security-headers hook set the GraphQL IDE's policy on HTML; this page has its own.
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) void reply.header('content-security-policy', REFERENCE_CSP);
    return payload;
  };
  const html = page(prefix);
  app.get(`${prefix}/docs`, { onSend: withCsp }, async (_request, reply) => reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(html));

  const files = new Map<string, Promise<Buffer | string>>();
  const types: Record<string, string> = { js: 'text/javascript', css: 'text/css' };
  app.get<{ Params: { file: string } }>(`${prefix}/docs/assets/:file`, async (request, reply) => {
    const name = request.params.file;
    let body = files.get(name);
    if (!body) {
      if (name === 'init.js') body = Promise.resolve(init(prefix));
      else if ((SWAGGER_UI_FILES as readonly string[]).includes(name)) body = readFile(packageFile('swagger-ui-dist', name, 'swagger-ui'));
      else return reply.callNotFound();
      files.set(name, body);
    }
    return reply
      .header('content-type', `${types[name.split('.').pop() ?? ''] ?? 'application/octet-stream'}; charset=utf-8`)
      .header('cache-control', 'public, max-age=3600')
      .send(await body);
  });
}
