import type { ApiKeyTable } from './accounts/api-key.table.js';
import type { UserIdentityTable } from './accounts/identity.table.js';
import type { SessionTable } from './accounts/session.table.js';
import type { AuditEventTable } from './audit/audit.table.js';
import type { CategoryTable } from './categories/category.table.js';
import type { OrderItemTable, OrderTable } from './orders/order.table.js';
import type { ProductTable } from './products/product.table.js';
import type { ReviewTable } from './reviews/review.table.js';
import type { UserTable } from './users/user.table.js';
import type { IdempotencyKeyTable } from '../idempotency/idempotency.table.js';

/**
 * The tables half of the module registry (src/modules/registry.ts): the
 * current schema as Kysely sees it, one line per table, each table type
 * declared by its module. Kept apart from the registry so that the type
 * imports only table files, which import nothing of the application.
 */
export interface Database {
  users: UserTable;
  categories: CategoryTable;
  products: ProductTable;
  orders: OrderTable;
  order_items: OrderItemTable;
  reviews: ReviewTable;
  sessions: SessionTable;
  api_keys: ApiKeyTable;
  user_identities: UserIdentityTable;
  audit_events: AuditEventTable;
  /** Cross-cutting (src/idempotency), not a module's. */
  idempotency_keys: IdempotencyKeyTable;
}
