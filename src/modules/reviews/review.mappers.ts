import type { Connection, Edge } from '../../pagination/connection.js';
import type { ReviewRow } from './review.table.js';

/** Parent types of the review connection resolvers (codegen mappers). */
export type ReviewConnectionModel = Connection<ReviewRow>;
export type ReviewEdgeModel = Edge<ReviewRow>;
