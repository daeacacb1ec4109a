import { badUserInput } from '../errors/errors.js';
import { nodeFetchers, type AppLoaders } from '../modules/registry.js';
import type { GraphQLContext } from './context.js';
import type { NodeResolvers, Resolvers, ResolversParentTypes } from './generated/resolvers-types.js';
import { fromGlobalId } from './global-id.js';

const MAX_NODES = 100;

/** What fetchers return (a row of a type implementing Node), and the names of those types, as the SDL declares them. */
type NodeModel = ResolversParentTypes['Node'];
type NodeTypeName = Awaited<ReturnType<NodeResolvers['__resolveType']>>;

async function resolveNode(ctx: GraphQLContext<AppLoaders>, globalId: string, argument: string): Promise<NodeModel | null> {
  const { type, id } = fromGlobalId(globalId, argument);
  const fetch = nodeFetchers.get(type);
  if (!fetch) throw new Error(`no fetcher for node type ${type}`);
  // Each module's fetcher applies the same visibility rules as its direct query.
  const node = (await fetch(ctx, id)) as NodeModel | null;
  if (node) ctx.nodeTypes.set(node, type);
  return node;
}

export const nodeResolvers: Resolvers<GraphQLContext<AppLoaders>> = {
  Query: {
    node: (_root, { id }, ctx) => resolveNode(ctx, id, 'id'),
    nodes: (_root, { ids }, ctx) => {
      if (ids.length > MAX_NODES) throw badUserInput('ids', `\`ids\` may hold at most ${MAX_NODES} ids (got ${ids.length}).`);
      // Validate every id before loading any, so one bad id fails the field cleanly.
      ids.forEach((id, index) => fromGlobalId(id, `ids[${index}]`));
      return Promise.all(ids.map((id, index) => resolveNode(ctx, id, `ids[${index}]`)));
    },
  },
  Node: {
    __resolveType: (node, ctx) => {
      const type = ctx.nodeTypes.get(node);
      if (!type) throw new Error('Node resolved without a recorded type');
      return type as NodeTypeName;
    },
  },
};
