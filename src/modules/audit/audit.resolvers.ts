import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType, toGlobalId } from '../../graphql/global-id.js';
import type { Scope } from '../../scope/scope.js';
import { isNodeType } from '../node-types.js';
import { listAuditEvents } from './audit.service.js';


export const auditResolvers: Resolvers<Scope> = {
  Query: {
    auditEvents: (_root, args, ctx) =>
      listAuditEvents(ctx, {
        ...args,
        filter: args.filter && {
          ...args.filter,
          actorId: args.filter.actorId != null ? idOfType(args.filter.actorId, 'User', 'filter.actorId') : args.filter.actorId,
        },
      }),
  },
  AuditEvent: {
    id: (event) => toGlobalId('AuditEvent', event.id),
    occurredAt: (event) => event.occurred_at,
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
