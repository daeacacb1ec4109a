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
  type ProductPageOptions,
  type ProductSortField,
} from './product.repository.js';
import type { ProductRow, ProductStatus } from './product.table.js';
import { actsAsAdmin, type Viewer } from '../../auth/viewer.js';
import { appError } from '../../errors/errors.js';
import type { Join } from '../../db/joined.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { primeJoined } from '../../loaders/joined.js';
import type { MaybePromise } from '../../loaders/record-loader.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { InputCheck } from '../../validation/input.js';
import { recordAudit } from '../audit/audit.service.js';
import type { CategoryLoaders } from '../categories/category.loaders.js';
import { getCategory, primeCategories } from '../categories/category.service.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { primeUsers } from '../users/user.service.js';
import { insertProduct, updateProductIf, type ProductChangeCondition } from './product.repository.js';
import { recordChanges } from '../../scope/changes.js';
import { recordEvent } from '../../scope/events.js';
import { outOfStock } from './stock.service.js';
import { readsSoldCount } from './sold-count.service.js';
import type { ProductUpdate } from './product.table.js';

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

/**
 * A product by id, or null when missing or not visible to the viewer; at
 * once, without a promise, when a page primed the loader with it. With
 * `joins` (relations the client selected on it: seller, category), one not
 * loaded yet is read with them in one statement, and they go to their
 * modules' loaders (`primeJoined`) for the fields that follow them.
 */
export function getProduct(ctx: Scope<ProductLoaders>, id: string, joins: readonly Join[] = []): MaybePromise<ProductRow | null> {
  const primed = ctx.loaders.productById.peek(id);
  if (primed !== undefined) return primed && isProductVisible(ctx.viewer, primed) ? primed : null;
  return loadProduct(ctx, id, joins);
}

async function loadProduct(ctx: Scope<ProductLoaders>, id: string, joins: readonly Join[]): Promise<ProductRow | null> {
  if (joins.length > 0 && !ctx.loaders.productById.holds(id)) {
    const joined = await ctx.loaders.productByIdJoined.load(id, joins);
    // A missing product is primed as missing too, so the load below runs no statement.
    ctx.loaders.productById.prime(id, joined?.record ?? null);
    if (joined) primeJoined(ctx.loaders, joined.joined);
  }
  const product = await ctx.loaders.productById.load(id);
  return product && isProductVisible(ctx.viewer, product) ? product : null;
}

/**
 * A page of visible products. `withTotal` (`totalCount` selected) counts in
 * the page's statement (an empty page counts separately, when asked);
 * `withSeller`/`withCategory` read the seller and category there too and
 * hand them to the users and categories loaders, for the fields that follow.
 */
export async function listProducts(
  ctx: Scope<ProductLoaders & UserLoaders & CategoryLoaders>,
  args: ProductListArgs,
  options: ProductPageOptions = {},
): Promise<Connection<KeyedProductRow>> {
  const criteria = toCriteria(args.filter, ctx.viewer);
  const request = productPageRequest(args);
  // The column only once reads are switched to it (./sold-count.service.ts); before, Product.soldCount counts the orders.
  const page = await findProductPage(ctx.db, criteria, request, { ...options, withSoldCount: (options.withSoldCount ?? false) && readsSoldCount(ctx) });
  const rows: KeyedProductRow[] = [];
  for (const { product, seller, category } of page) {
    rows.push(product);
    ctx.loaders.productById.prime(product.id, product);
    if (seller) primeUsers(ctx, [seller]);
    if (category) primeCategories(ctx, [category]);
  }
  const total = page[0]?.totalCount === undefined ? undefined : Number(page[0].totalCount);
  return toConnection(rows, request, () => (total === undefined ? countProducts(ctx.db, criteria) : Promise.resolve(total)));
}

/**
 * A category's products: batched with every other category asking for the
 * same page, with the products' selected one-to-one relations (`joins`) and,
 * when `totalCount` is selected (`withTotal`), each category's count in the
 * same statement.
 */
export async function listCategoryProducts(
  ctx: Scope<ProductLoaders>,
  categoryId: string,
  args: ProductListArgs,
  joins: readonly Join[] = [],
  withTotal = false,
): Promise<Connection<KeyedProductRow>> {
  const criteria = { ...toCriteria(args.filter, ctx.viewer), categoryId: undefined };
  delete criteria.categoryId;
  const request = productPageRequest(args);
  const page = await ctx.loaders.productPageByCategory.load(categoryId, { criteria, request, joins, withTotal });
  const rows: KeyedProductRow[] = [];
  for (const { record, joined } of page) {
    rows.push(record);
    ctx.loaders.productById.prime(record.id, record);
    primeJoined(ctx.loaders, joined);
  }
  // Counted in the page's statement when selected; an empty page (no row to carry it) counts on its own.
  const total = page[0]?.total;
  return toConnection(rows, request, () => (total !== undefined ? Promise.resolve(total) : ctx.loaders.productCountByCategory.load(categoryId, criteria)));
}

// ---------------------------------------------------------------------------
// Writes. Sellers change their own products, admins (in person) any; someone
// else's product answers NOT_FOUND, exactly like a missing one.
// ---------------------------------------------------------------------------

export const PRODUCT_LIMITS = { titleMax: 200, descriptionMax: 10_000, priceMax: 99_999_999, stockMax: 1_000_000 } as const;

export interface MoneyInput {
  amount: number;
  currency: string;
}

export interface CreateProductInput {
  /** Raw id, or `null` for an id of another type. */
  categoryId: string | null;
  title: string;
  description?: string | null;
  price: MoneyInput;
  stock: number;
}

export interface UpdateProductInput {
  productId: string | null;
  expectedVersion: number;
  categoryId?: string | null | undefined;
  /** `true` when the client sent a categoryId that named another type. */
  categoryIdInvalid?: boolean;
  title?: string | null;
  description?: string | null;
  price?: MoneyInput | null;
  stock?: number | null;
}

export interface ProductResult {
  product: ProductRow | null;
  userErrors: UserErrorData[];
}

const notFound = (field: string[] = ['input', 'productId']): UserErrorData => ({ field, code: 'NOT_FOUND', message: 'No such product.' });

function writer(scope: Scope): Viewer {
  if (!scope.viewer) throw appError('UNAUTHENTICATED', 'Sign in to do this.');
  return scope.viewer;
}

/** Whether the viewer may change this product: its seller, or an admin in person. */
function mayChange(viewer: Viewer, product: ProductRow): boolean {
  return actsAsAdmin(viewer) || product.seller_id === viewer.userId;
}

function checkMoney(check: InputCheck, field: string[], price: MoneyInput | null | undefined): void {
  if (price == null) return;
  check.integer([...field, 'amount'], price.amount, { min: 0, max: PRODUCT_LIMITS.priceMax, label: 'price' });
}

function checkText(check: InputCheck, input: { title?: string | null; description?: string | null }, creating: boolean) {
  const title = input.title === undefined || (input.title === null && !creating)
    ? undefined
    : check.text(['input', 'title'], input.title, { required: true, max: PRODUCT_LIMITS.titleMax, label: 'title' });
  const description = input.description == null
    ? undefined
    : check.text(['input', 'description'], input.description, { max: PRODUCT_LIMITS.descriptionMax, shape: 'multi-line', label: 'description' });
  return { title, description };
}

async function checkCategory(scope: Scope<ProductLoaders & CategoryLoaders>, check: InputCheck, categoryId: string | null): Promise<void> {
  if (categoryId === null || !(await getCategory(scope, categoryId))) {
    check.errors.add(['input', 'categoryId'], 'NOT_FOUND', 'No such category.');
  }
}

export async function createProduct(scope: Scope<ProductLoaders & CategoryLoaders>, input: CreateProductInput): Promise<ProductResult> {
  const viewer = writer(scope);
  const check = new InputCheck();
  const { title, description } = checkText(check, input, true);
  checkMoney(check, ['input', 'price'], input.price);
  check.integer(['input', 'stock'], input.stock, { required: true, min: 0, max: PRODUCT_LIMITS.stockMax });
  await checkCategory(scope, check, input.categoryId);
  if (!check.ok || title === undefined || input.categoryId === null) return { product: null, userErrors: check.errors.list };
  const categoryId = input.categoryId;
  const product = await unitOfWork(
    scope,
    async (unit) => {
      const created = await insertProduct(unit.db, {
        seller_id: viewer.userId,
        category_id: categoryId,
        title,
        description: description ?? '',
        price_amount: input.price.amount,
        currency: input.price.currency,
        stock: input.stock,
        status: 'DRAFT',
      });
      await recordChanges(unit, { entity: 'product', id: created.id });
      return created;
    },
    { rerunnable: true },
  );
  return { product, userErrors: [] };
}

/** Why a conditional change matched nothing, read after the fact: NOT_FOUND, VERSION_CONFLICT or INVALID_TRANSITION. */
async function explainMiss(
  scope: Scope<ProductLoaders>,
  viewer: Viewer,
  id: string,
  condition: ProductChangeCondition,
  verb: string,
): Promise<UserErrorData> {
  scope.loaders.productById.clear(id);
  const current = await scope.loaders.productById.load(id);
  if (!current || !mayChange(viewer, current) || (current.deleted_at !== null) !== (condition.deleted ?? false)) return notFound();
  if (condition.expectedVersion !== undefined && current.version !== condition.expectedVersion) {
    return {
      field: ['input', 'expectedVersion'],
      code: 'VERSION_CONFLICT',
      message: `The product changed since you read it (now version ${current.version}); reload it and try again.`,
      currentVersion: current.version,
    };
  }
  return { field: null, code: 'INVALID_TRANSITION', message: `A ${current.status} product cannot be ${verb}.` };
}

/**
 * Applies a conditional change to a product the viewer may change, in one
 * unit of work: ownership first, then the compare-and-set.
 */
async function changeProduct(
  scope: Scope<ProductLoaders>,
  id: string | null,
  condition: ProductChangeCondition,
  changes: ProductUpdate,
  verb: string,
  after?: (unit: Scope<ProductLoaders>, product: ProductRow) => Promise<void>,
): Promise<ProductResult> {
  const viewer = writer(scope);
  if (id === null) return { product: null, userErrors: [notFound()] };
  return unitOfWork(
    scope,
    async (unit) => {
      const before = await unit.loaders.productById.load(id);
      if (!before || !mayChange(viewer, before)) return { product: null, userErrors: [notFound()] };
      const product = await updateProductIf(unit.db, id, condition, changes);
      if (!product) return { product: null, userErrors: [await explainMiss(unit, viewer, id, condition, verb)] };
      unit.loaders.productById.clear(id).prime(id, product);
      await recordChanges(unit, { entity: 'product', id });
      if (before.stock > 0 && product.stock === 0) await recordEvent(unit, outOfStock(product));
      await after?.(unit, product);
      return { product, userErrors: [] };
    },
    { rerunnable: true },
  );
}

export async function updateProduct(scope: Scope<ProductLoaders & CategoryLoaders>, input: UpdateProductInput): Promise<ProductResult> {
  writer(scope);
  const check = new InputCheck();
  const { title, description } = checkText(check, input, false);
  checkMoney(check, ['input', 'price'], input.price);
  if (input.stock != null) check.integer(['input', 'stock'], input.stock, { min: 0, max: PRODUCT_LIMITS.stockMax });
  if (input.categoryIdInvalid) await checkCategory(scope, check, null);
  else if (input.categoryId != null) await checkCategory(scope, check, input.categoryId);
  check.integer(['input', 'expectedVersion'], input.expectedVersion, { required: true, min: 1, max: 2_147_483_647, label: 'expected version' });
  if (!check.ok) return { product: null, userErrors: check.errors.list };
  const changes: ProductUpdate = {
    ...(title !== undefined ? { title } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(input.price != null ? { price_amount: input.price.amount, currency: input.price.currency } : {}),
    ...(input.stock != null ? { stock: input.stock } : {}),
    ...(input.categoryId != null ? { category_id: input.categoryId } : {}),
  };
  return changeProduct(scope, input.productId, { expectedVersion: input.expectedVersion }, changes, 'edited');
}

export interface ProductTransitionInput {
  productId: string | null;
  expectedVersion?: number | null;
}

const condition = (input: ProductTransitionInput, extra: ProductChangeCondition = {}): ProductChangeCondition => ({
  ...extra,
  ...(input.expectedVersion != null ? { expectedVersion: input.expectedVersion } : {}),
});

export function publishProduct(scope: Scope<ProductLoaders>, input: ProductTransitionInput): Promise<ProductResult> {
  return changeProduct(scope, input.productId, condition(input, { fromStatuses: ['DRAFT', 'ARCHIVED'] }), { status: 'ACTIVE' }, 'published');
}

export function archiveProduct(scope: Scope<ProductLoaders>, input: ProductTransitionInput): Promise<ProductResult> {
  return changeProduct(scope, input.productId, condition(input, { fromStatuses: ['DRAFT', 'ACTIVE'] }), { status: 'ARCHIVED' }, 'archived');
}

export async function deleteProduct(scope: Scope<ProductLoaders>, input: ProductTransitionInput): Promise<ProductResult> {
  return changeProduct(scope, input.productId, condition(input), { deleted_at: new Date() }, 'deleted', (unit, product) =>
    recordAudit(unit, { action: 'PRODUCT_DELETED', actorId: unit.viewer?.userId ?? null, targetType: 'Product', targetId: product.id }),
  );
}

export async function restoreProduct(scope: Scope<ProductLoaders>, input: { productId: string | null }): Promise<ProductResult> {
  return changeProduct(scope, input.productId, { deleted: true }, { deleted_at: null }, 'restored', (unit, product) =>
    recordAudit(unit, { action: 'PRODUCT_RESTORED', actorId: unit.viewer?.userId ?? null, targetType: 'Product', targetId: product.id }),
  );
}
