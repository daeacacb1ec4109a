import type { Connection, Edge } from '../../pagination/connection.js';
import type { PaymentEventRow } from './payment-event.table.js';

/** Parent types of the payment-event connection resolvers (codegen mappers). */
export type PaymentEventConnectionModel = Connection<PaymentEventRow>;
export type PaymentEventEdgeModel = Edge<PaymentEventRow>;
