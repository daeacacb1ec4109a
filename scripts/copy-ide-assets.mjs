// Part of `npm run build`: copies GraphiQL's browser files (GraphiQL, React and
// React DOM as UMD bundles, GraphiQL's stylesheet) from node_modules into
// dist/graphiql/, and Swagger UI's (the REST reference page, src/rest/reference.ts)
// into dist/swagger-ui/, so a production install serves GRAPHQL_IDE=graphiql and
// REST_REFERENCE without those packages (they are development dependencies).
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundles = {
  graphiql: [
    ['react', 'umd/react.production.min.js'],
    ['react-dom', 'umd/react-dom.production.min.js'],
    ['graphiql', 'graphiql.min.js'],
    ['graphiql', 'graphiql.min.css'],
  ],
  'swagger-ui': [
    ['swagger-ui-dist', 'swagger-ui-bundle.js'],
    ['swagger-ui-dist', 'swagger-ui.css'],
  ],
};
for (const [dir, files] of Object.entries(bundles)) {
  const target = path.join(root, 'dist', dir);
  mkdirSync(target, { recursive: true });
  for (const [pkg, file] of files) {
    copyFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file), path.join(target, path.basename(file)));
  }
  console.log(`copied ${files.length} files to ${path.relative(root, target)}/`);
}
