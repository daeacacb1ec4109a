import { and } from '../../authz/shield-lib.js';

import { isAdmin, isPersonalSession } from '../../authz/rules.js';

export const auditPermissions = {
  Query: {
    auditEvents: and(isAdmin, isPersonalSession),
  },
  AuditEvent: {
    id: isAdmin,
    occurredAt: isAdmin,
    action: isAdmin,
    targetType: isAdmin,
    targetId: isAdmin,
    requestId: isAdmin,
    ip: isAdmin,
    userAgent: isAdmin,
    metadata: isAdmin,
  },
  AuditEventConnection: { edges: isAdmin, nodes: isAdmin, pageInfo: isAdmin, totalCount: isAdmin },
  AuditEventEdge: { cursor: isAdmin, node: isAdmin },
};
