import type { Connection, Edge } from '../../pagination/connection.js';
import type { ProductRow } from './product.table.js';

/** Parent types of the product connection resolvers (codegen mappers). */
export type ProductConnectionModel = Connection<ProductRow>;
export type ProductEdgeModel = Edge<ProductRow>;
