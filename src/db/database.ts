import type { ApiKeyTable } from '../modules/accounts/api-key.table.js';
import type { UserIdentityTable } from '../modules/accounts/identity.table.js';
import type { SessionTable } from '../modules/accounts/session.table.js';
import type { AuditEventTable } from '../modules/audit/audit.table.js';
import type { CategoryTable } from '../modules/categories/category.table.js';
import type { OrderItemTable, OrderTable } from '../modules/orders/order.table.js';
import type { ProductTable } from '../modules/products/product.table.js';
import type { ReviewTable } from '../modules/reviews/review.table.js';
import type { UserTable } from '../modules/users/user.table.js';

/** The current schema as Kysely sees it; each table is declared by its module. */
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
}
