import { and } from '../../authz/shield-lib.js';

import { isAdmin, isPersonalSession } from '../../authz/rules.js';

/** Payment events are for admins in person: what providers told the marketplace about money. */
export const paymentPermissions = {
  Query: {
    paymentEvents: and(isAdmin, isPersonalSession),
  },
  PaymentEvent: {
    webhookId: isAdmin,
    type: isAdmin,
    outcome: isAdmin,
    detail: isAdmin,
    paymentId: isAdmin,
    orderReference: isAdmin,
    order: isAdmin,
    amount: isAdmin,
    currency: isAdmin,
    occurredAt: isAdmin,
    receivedAt: isAdmin,
  },
  PaymentEventConnection: { edges: isAdmin, nodes: isAdmin, pageInfo: isAdmin, totalCount: isAdmin },
  PaymentEventEdge: { cursor: isAdmin, node: isAdmin },
};
