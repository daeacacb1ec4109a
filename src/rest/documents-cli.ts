/**
 * `npm run rest:documents` prints the REST routes' documents in the format of
 * TRUSTED_DOCUMENTS_FILE (hash -> document), to merge into that file: with
 * trusted documents on, a REST route whose document is not listed is
 * refused like any other unlisted document.
 */
import { buildSchema } from '../graphql/schema.js';
import { loadRestRoutes, REST_VERSION } from './documents.js';

const routes = loadRestRoutes(buildSchema(), REST_VERSION);
console.log(JSON.stringify(Object.fromEntries(routes.map((route) => [route.hash, route.text])), null, 2));
