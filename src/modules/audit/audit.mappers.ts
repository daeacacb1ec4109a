import type { Connection, Edge } from '../../pagination/connection.js';
import type { AuditEventRow } from './audit.table.js';

/** Parent types of the audit connection resolvers (codegen mappers). */
export type AuditEventConnectionModel = Connection<AuditEventRow>;
export type AuditEventEdgeModel = Edge<AuditEventRow>;
