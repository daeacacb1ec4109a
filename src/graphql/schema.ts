import path from 'node:path';
import { loadFilesSync } from '@graphql-tools/load-files';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { CurrencyResolver, DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';

import * as accounts from '../modules/accounts/index.js';
import * as audit from '../modules/audit/index.js';
import * as categories from '../modules/categories/index.js';
import * as products from '../modules/products/index.js';
import * as reviews from '../modules/reviews/index.js';
import * as users from '../modules/users/index.js';
import { projectRoot } from '../util/project-root.js';
import type { Resolvers } from './generated/resolvers-types.js';
import { nodeResolvers } from './node.resolvers.js';

/** The SDL source of truth: every `schema/*.graphql` file. */
export function loadTypeDefs(): DocumentNode[] {
  return loadFilesSync<DocumentNode>(path.join(projectRoot(), 'schema', '*.graphql'), { extensions: ['graphql'] });
}

const scalarResolvers: Resolvers = { DateTime: DateTimeResolver, Currency: CurrencyResolver, JSONObject: JSONObjectResolver };

/** The executable schema: SDL plus every module's resolver map. */
export function buildSchema(): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs: loadTypeDefs(),
    resolvers: [
      scalarResolvers,
      nodeResolvers,
      users.resolvers,
      categories.resolvers,
      products.resolvers,
      reviews.resolvers,
      accounts.resolvers,
      audit.resolvers,
    ],
    inheritResolversFromInterfaces: false,
    resolverValidationOptions: { requireResolversToMatchSchema: 'error' },
  });
}
