import type { GraphQLContext } from './context.js';
import type { Resolvers } from './generated/resolvers-types.js';
import { fromGlobalId, type NodeType } from './global-id.js';
import { badUserInput } from '../errors/errors.js';
import { getCategory } from '../modules/categories/category.service.js';
import { getProduct } from '../modules/products/product.service.js';
import { getReview } from '../modules/reviews/review.service.js';
import { getUser } from '../modules/users/user.service.js';
import type { CategoryRow } from '../modules/categories/category.table.js';
import type { ProductRow } from '../modules/products/product.table.js';
import type { ReviewRow } from '../modules/reviews/review.table.js';
import type { UserRow } from '../modules/users/user.table.js';
import type { ApiKeyRow } from '../modules/accounts/api-key.table.js';
import type { SessionRow } from '../modules/accounts/session.table.js';
import type { AuditEventRow } from '../modules/audit/audit.table.js';
import { getOwnApiKey, getOwnSession } from '../modules/accounts/account.queries.js';
import { getAuditEvent } from '../modules/audit/audit.service.js';

type NodeModel = UserRow | CategoryRow | ProductRow | ReviewRow | SessionRow | ApiKeyRow | AuditEventRow;

const MAX_NODES = 100;

/** How each node type is fetched, with the same visibility rules as its direct query. */
const fetchers: Record<NodeType, (ctx: GraphQLContext, id: string) => Promise<NodeModel | null>> = {
  User: (ctx, id) => getUser(ctx, id),
  Category: getCategory,
  Product: getProduct,
  Review: getReview,
  Session: getOwnSession,
  ApiKey: getOwnApiKey,
  AuditEvent: getAuditEvent,
};

async function resolveNode(ctx: GraphQLContext, globalId: string, argument: string): Promise<NodeModel | null> {
  const { type, id } = fromGlobalId(globalId, argument);
  const node = await fetchers[type](ctx, id);
  if (node) ctx.nodeTypes.set(node, type);
  return node;
}

export const nodeResolvers: Resolvers = {
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
      return type;
    },
  },
};
