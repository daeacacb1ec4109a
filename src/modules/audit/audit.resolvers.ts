import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { toGlobalId, type NodeType, NODE_TYPES } from '../../graphql/global-id.js';
import { getUser } from '../users/user.service.js';
import { listAuditEvents } from './audit.service.js';

function isNodeType(type: string | null): type is NodeType {
  return type !== null && (NODE_TYPES as readonly string[]).includes(type);
}

export const auditResolvers: Resolvers = {
  Query: {
    auditEvents: (_root, args, ctx) => listAuditEvents(ctx, args),
  },
  AuditEvent: {
    id: (event) => toGlobalId('AuditEvent', event.id),
    occurredAt: (event) => event.occurred_at,
    actor: (event, _args, ctx) => (event.actor_id ? getUser(ctx, event.actor_id, { includeDeactivated: true }) : null),
    targetType: (event) => event.target_type,
    // Targets are stored as database keys; clients only ever see global ids.
    targetId: (event) => (event.target_id && isNodeType(event.target_type) ? toGlobalId(event.target_type, event.target_id) : null),
    requestId: (event) => event.request_id,
    userAgent: (event) => event.user_agent,
  },
  AuditEventConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
