import * as m0011 from '../../../migrations/2026_12_07_0011_payments.js';
import { defineModule } from '../module.js';
import { paymentPermissions } from './payment-event.permissions.js';
import { paymentResolvers } from './payment-event.resolvers.js';

/**
 * Payments: the inbound payment-provider webhook (POST /webhooks/payments,
 * src/http/payment-webhook.ts, docs/guides/payments-webhook.md) and the
 * admins' list of what it received. No loaders of its own (a payment event
 * is read only in the admins' list; its order through the orders module's
 * loader), no node type, no change kind (no anonymous answer shows one),
 * no audit action (the order moves it causes are audited by the orders
 * module, with `actor: "system"`).
 */
export const paymentsModule = defineModule({
  name: 'payments',
  schema: ['payments.graphql'],
  resolvers: paymentResolvers,
  permissions: paymentPermissions,
  createLoaders: () => ({}),
  nodeTypes: {},
  tables: ['payment_events'],
  migrations: { '2026_12_07_0011_payments': m0011 },
  changeTags: {},
});
