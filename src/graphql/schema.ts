import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadFilesSync } from '@graphql-tools/load-files';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { CurrencyResolver, DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';

import { modules } from '../modules/registry.js';
import { projectRoot } from '../util/project-root.js';
import { applyingEffects } from './effects.js';
import type { Resolvers } from './generated/resolvers-types.js';
import { nodeResolvers } from './node.resolvers.js';

/** The SDL source of truth: `schema/0-base.graphql` and every module's files. */
export function loadTypeDefs(): DocumentNode[] {
  const dir = path.join(projectRoot(), 'schema');
  const files = ['0-base.graphql', ...modules.flatMap((module) => module.schema)];
  // codegen reads every file in schema/; the server must serve the same SDL.
  const unclaimed = readdirSync(dir).filter((file) => file.endsWith('.graphql') && !files.includes(file));
  if (unclaimed.length > 0) throw new Error(`schema/${unclaimed.join(', schema/')} belongs to no module in src/modules/registry.ts`);
  return files.map((file) => loadFilesSync<DocumentNode>(path.join(dir, file), { extensions: ['graphql'] })).flat();
}

const scalarResolvers: Resolvers = { DateTime: DateTimeResolver, Currency: CurrencyResolver, JSONObject: JSONObjectResolver };

/** The executable schema: SDL plus every module's resolver map (mutations apply the effects services return). */
export function buildSchema(): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs: loadTypeDefs(),
    resolvers: [scalarResolvers, nodeResolvers, ...modules.map((module) => applyingEffects(module.resolvers))],
    inheritResolversFromInterfaces: false,
    resolverValidationOptions: { requireResolversToMatchSchema: 'error' },
  });
}
