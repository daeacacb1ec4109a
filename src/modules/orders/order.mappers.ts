import type { Connection, Edge } from '../../pagination/connection.js';
import type { OrderRow } from './order.table.js';

/** Parent types of the order connection resolvers (codegen mappers). */
export type OrderConnectionModel = Connection<OrderRow>;
export type OrderEdgeModel = Edge<OrderRow>;
