import type { Scope } from '../../scope/scope.js';
import type { ProductLoaders } from './product.loaders.js';
import { badUserInput } from '../../errors/errors.js';
import { parsePageRequest, toConnection, type ConnectionArgs, type Connection } from '../../pagination/connection.js';
import {
  countProducts,
  findProductPage,
  PRODUCT_SORTS,
  type KeyedProductRow,
  type ProductAudience,
  type ProductCriteria,
  type ProductSortField,
} from './product.repository.js';
import type { ProductRow, ProductStatus } from './product.table.js';
import { actsAsAdmin, type Viewer } from '../../auth/viewer.js';
import { appError } from '../../errors/errors.js';

/** A product filter with raw ids (the GraphQL edge decodes the global ids). */
export interface ProductFilterInput {
  search?: string | null;
  categoryId?: string | null;
  sellerId?: string | null;
  minPrice?: number | null;
  maxPrice?: number | null;
  inStock?: boolean | null;
  statuses?: readonly ProductStatus[] | null;
  includeDeleted?: boolean | null;
}

export interface ProductOrderInput {
  field: ProductSortField;
  direction: 'ASC' | 'DESC';
}

export interface ProductListArgs extends ConnectionArgs {
  filter?: ProductFilterInput | null;
  orderBy?: ProductOrderInput | null;
}

const DEFAULT_ORDER: ProductOrderInput = { field: 'CREATED_AT', direction: 'DESC' };
const MAX_SEARCH_LENGTH = 200;

/**
 * ACTIVE products are public; DRAFT and ARCHIVED ones are visible to their
 * seller and admins; soft-deleted ones only appear in admin lists that ask.
 */
export function isProductVisible(viewer: Viewer | null, product: ProductRow): boolean {
  if (product.deleted_at !== null) return false;
  if (product.status === 'ACTIVE') return true;
  return viewer !== null && (actsAsAdmin(viewer) || viewer.userId === product.seller_id);
}

function audienceOf(viewer: Viewer | null): ProductAudience {
  if (!viewer) return { kind: 'public' };
  if (actsAsAdmin(viewer)) return { kind: 'admin' };
  return { kind: 'seller', sellerId: viewer.userId };
}

/** Validates a client filter into repository criteria; every problem names its argument. */
export function toCriteria(filter: ProductFilterInput | null | undefined, viewer: Viewer | null = null): ProductCriteria {
  const criteria: ProductCriteria = { audience: audienceOf(viewer) };
  if (!filter) return criteria;
  if (filter.statuses != null) {
    if (filter.statuses.length === 0) throw badUserInput('filter.statuses', '`filter.statuses` must name at least one status.');
    criteria.statuses = [...new Set(filter.statuses)].sort();
  }
  if (filter.includeDeleted) {
    // The permission layer refuses this for non-admins; keep the service safe on its own too.
    if (!actsAsAdmin(viewer)) throw appError('FORBIDDEN', 'Only admins may list deleted products.');
    criteria.includeDeleted = true;
  }
  if (filter.search != null) {
    const search = filter.search.trim();
    if (search.length === 0 || search.length > MAX_SEARCH_LENGTH) {
      throw badUserInput('filter.search', `\`filter.search\` must be 1 to ${MAX_SEARCH_LENGTH} characters.`);
    }
    criteria.search = search;
  }
  if (filter.categoryId != null) criteria.categoryId = filter.categoryId;
  if (filter.sellerId != null) criteria.sellerId = filter.sellerId;
  if (filter.minPrice != null) {
    if (filter.minPrice < 0) throw badUserInput('filter.minPrice', '`filter.minPrice` must not be negative.');
    criteria.minPrice = filter.minPrice;
  }
  if (filter.maxPrice != null) {
    if (filter.maxPrice < 0) throw badUserInput('filter.maxPrice', '`filter.maxPrice` must not be negative.');
    criteria.maxPrice = filter.maxPrice;
  }
  if (criteria.minPrice !== undefined && criteria.maxPrice !== undefined && criteria.minPrice > criteria.maxPrice) {
    throw badUserInput('filter.maxPrice', '`filter.maxPrice` must not be less than `filter.minPrice`.');
  }
  if (filter.inStock != null) criteria.inStock = filter.inStock;
  return criteria;
}

export function productPageRequest(args: ProductListArgs) {
  const order = args.orderBy ?? DEFAULT_ORDER;
  return parsePageRequest(args, { name: order.field, kind: PRODUCT_SORTS[order.field].kind, direction: order.direction });
}

export async function getProduct(ctx: Scope<ProductLoaders>, id: string): Promise<ProductRow | null> {
  const product = await ctx.loaders.productById.load(id);
  return product && isProductVisible(ctx.viewer, product) ? product : null;
}

export async function listProducts(ctx: Scope<ProductLoaders>, args: ProductListArgs): Promise<Connection<KeyedProductRow>> {
  const criteria = toCriteria(args.filter, ctx.viewer);
  const request = productPageRequest(args);
  const rows = await findProductPage(ctx.db, criteria, request);
  for (const row of rows) ctx.loaders.productById.prime(row.id, row);
  return toConnection(rows, request, () => countProducts(ctx.db, criteria));
}

/** A category's products: batched with every other category asking for the same page. */
export async function listCategoryProducts(
  ctx: Scope<ProductLoaders>,
  categoryId: string,
  args: ProductListArgs,
): Promise<Connection<KeyedProductRow>> {
  const criteria = { ...toCriteria(args.filter, ctx.viewer), categoryId: undefined };
  delete criteria.categoryId;
  const request = productPageRequest(args);
  const rows = await ctx.loaders.productPageByCategory.load(categoryId, { criteria, request });
  for (const row of rows) ctx.loaders.productById.prime(row.id, row);
  return toConnection(rows, request, () => ctx.loaders.productCountByCategory.load(categoryId, criteria));
}
