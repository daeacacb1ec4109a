/**
 * Authorization, end to end: the permission map covers the schema exactly,
 * and every root operation answers each kind of caller as the table below
 * says, over HTTP, against the real database.
 *
 * Outcomes are judged at the permission layer:
 *   - 'ok': the operation ran and answered without errors. For a mutation a
 *     payload with `userErrors` (NOT_FOUND, INVALID...) would still be 'ok'
 *     here: the shield let the call through and the service answered. The
 *     inputs below are nevertheless real (own sessions, own keys, existing
 *     users), and each 'ok' cell also checks that the call really succeeded.
 *   - 'null': the field is null without any error (`viewer` when anonymous).
 *   - 'UNAUTHENTICATED' / 'FORBIDDEN': one error with that code at the root
 *     field, the field null, the HTTP status from the error registry, and
 *     (for mutations) nothing changed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isNonNullType, isObjectType, type GraphQLSchema } from 'graphql';

import { errorCodes } from '../src/errors/codes.js';
import { permissions } from '../src/authz/permissions.js';
import { applyPermissions, fieldsWithoutRules, type PermissionMap } from '../src/authz/shield.js';
import { buildSchema } from '../src/graphql/schema.js';
import type { CategoryRow } from '../src/modules/categories/category.table.js';
import type { OrderStatus } from '../src/modules/orders/order.table.js';
import type { ProductRow } from '../src/modules/products/product.table.js';
import type { UserRole } from '../src/modules/users/user.table.js';
import { createAccount, createApiKey, TEST_PASSWORD, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { startTestServer, type GraphQLResult, type TestServer } from './helpers/server.js';

let server: TestServer;
let schema: GraphQLSchema;

// ---------------------------------------------------------------------------
// Callers
// ---------------------------------------------------------------------------

const CALLERS = ['anonymous', 'customer', 'seller', 'admin', 'catalogKey', 'ordersKey'] as const;
type CallerName = (typeof CALLERS)[number];

const CALLER_LABELS: Record<CallerName, string> = {
  anonymous: 'an anonymous caller',
  customer: 'a CUSTOMER session',
  seller: 'a SELLER session',
  admin: 'an ADMIN session',
  catalogKey: "a customer's CATALOG_READ API key",
  ordersKey: "a customer's ORDERS_READ API key (no CATALOG_READ)",
};

const SESSION_ROLES: Partial<Record<CallerName, UserRole>> = { customer: 'CUSTOMER', seller: 'SELLER', admin: 'ADMIN' };

interface Caller {
  name: CallerName;
  headers: Record<string, string>;
  /** The signed-in account, or the owner of the API key in use; null when anonymous. */
  account: Account | null;
  /** Global id of the API key in use, if any. */
  apiKeyId: string | null;
}

async function makeCaller(name: CallerName): Promise<Caller> {
  if (name === 'anonymous') return { name, headers: {}, account: null, apiKeyId: null };
  const role = SESSION_ROLES[name];
  if (role) {
    const account = await createAccount(server, { role });
    return { name, headers: account.headers, account, apiKeyId: null };
  }
  const owner = await createAccount(server, { role: 'CUSTOMER' });
  const key = await createApiKey(server, owner, [name === 'catalogKey' ? 'CATALOG_READ' : 'ORDERS_READ']);
  return { name, headers: key.headers, account: owner, apiKeyId: key.id };
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

type Data = Record<string, unknown>;

function asRecord(value: unknown, what: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not an object: ${JSON.stringify(value)}`);
  }
  return value as Data;
}

function errorCodesOf(res: GraphQLResult<Data>): string[] {
  return (res.body.errors ?? []).map((error) => String(error.extensions?.['code']));
}

let counter = 0;
const unique = (): string => `${Date.now().toString(36)}-${(counter += 1).toString(36)}`;

async function liveSessionCount(userId: string): Promise<number> {
  const rows = await server.db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return rows.length;
}

async function activeKeyCount(userId: string): Promise<number> {
  const rows = await server.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return rows.length;
}

async function userRow(userId: string) {
  return server.db.selectFrom('users').select(['role', 'deleted_at', 'password_hash', 'display_name']).where('id', '=', userId).executeTakeFirstOrThrow();
}

/** Polls until `read` returns something (the audit of a denial is written after the response). */
async function eventually<T>(read: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------

type Outcome = 'ok' | 'null' | 'UNAUTHENTICATED' | 'FORBIDDEN';

/** One column per caller, in the order of CALLERS. */
function expect6(
  anonymous: Outcome,
  customer: Outcome,
  seller: Outcome,
  admin: Outcome,
  catalogKey: Outcome,
  ordersKey: Outcome,
): Record<CallerName, Outcome> {
  return { anonymous, customer, seller, admin, catalogKey, ordersKey };
}

interface Arranged {
  variables?: Record<string, unknown>;
  /** Extra request headers (an Idempotency-Key for the mutations that require one). */
  headers?: Record<string, string>;
  /** Checked after an 'ok' cell: the operation really did its job. Receives the root field's value. */
  succeeded?: (value: Data) => Promise<void> | void;
  /** Checked after a refused cell: nothing changed. */
  unchanged?: () => Promise<void>;
}

interface MatrixRow {
  /** A minimal valid document whose only root field is the operation, unaliased. */
  document: string;
  /** Builds the variables (and throwaway targets) for one caller. */
  arrange?: (caller: Caller) => Promise<Arranged> | Arranged;
  /** A new caller of the same kind for each cell: the operation changes the caller's own account. */
  freshCaller?: boolean;
  expected: Record<CallerName, Outcome>;
}

/** Fixtures the read rows point at, created in beforeAll. */
let category: CategoryRow;
let activeProduct: ProductRow;

function noUserErrors(value: Data): void {
  expect(value['userErrors']).toEqual([]);
}

const MATRIX: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.node': {
    document: 'query ($id: ID!) { node(id: $id) { id } }',
    arrange: () => ({
      variables: { id: gid('Product', activeProduct) },
      succeeded: (node) => expect(node).toEqual({ id: gid('Product', activeProduct) }),
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.nodes': {
    document: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
    arrange: () => ({ variables: { ids: [gid('Product', activeProduct)] } }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.viewer': {
    document: '{ viewer { id } }',
    arrange: (caller) => ({
      succeeded: (viewer) => expect(viewer).toEqual({ id: caller.account ? gid('User', caller.account.user) : null }),
    }),
    expected: expect6('null',             'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Query.auditEvents': {
    document: '{ auditEvents(first: 1) { totalCount } }',
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Query.categories': {
    document: '{ categories { id } }',
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.categoryBySlug': {
    document: 'query ($slug: String!) { categoryBySlug(slug: $slug) { id } }',
    arrange: () => ({
      variables: { slug: category.slug },
      succeeded: (found) => expect(found).toEqual({ id: gid('Category', category) }),
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.products': {
    document: '{ products(first: 1) { totalCount } }',
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },
  'Query.product': {
    document: 'query ($id: ID!) { product(id: $id) { id } }',
    arrange: () => ({
      variables: { id: gid('Product', activeProduct) },
      succeeded: (product) => expect(product).toEqual({ id: gid('Product', activeProduct) }),
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'FORBIDDEN'),
  },

  // Ways in: open to every caller, credentials or not.
  'Mutation.signUp': {
    document: 'mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken userErrors { field code } } }',
    arrange: () => ({
      variables: {
        input: { email: `matrix-${unique()}@example.test`, password: 'a long enough password', displayName: 'Matrix', refreshTokenDelivery: 'PAYLOAD' },
      },
      succeeded: (payload) => {
        noUserErrors(payload);
        expect(typeof payload['accessToken']).toBe('string');
      },
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Mutation.logIn': {
    document: 'mutation ($input: LogInInput!) { logIn(input: $input) { accessToken userErrors { field code } } }',
    arrange: async () => {
      const throwaway = await createAccount(server);
      return {
        variables: { input: { email: throwaway.email, password: throwaway.password, refreshTokenDelivery: 'PAYLOAD' } },
        succeeded: (payload) => {
          noUserErrors(payload);
          expect(typeof payload['accessToken']).toBe('string');
        },
      };
    },
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Mutation.refreshSession': {
    document: 'mutation ($input: RefreshSessionInput!) { refreshSession(input: $input) { accessToken refreshToken userErrors { field code } } }',
    arrange: async () => {
      const throwaway = await createAccount(server);
      return {
        variables: { input: { refreshToken: throwaway.refreshToken } },
        succeeded: (payload) => {
          noUserErrors(payload);
          expect(typeof payload['refreshToken']).toBe('string');
          expect(payload['refreshToken']).not.toBe(throwaway.refreshToken);
        },
      };
    },
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Mutation.logOut': {
    document: 'mutation ($input: LogOutInput!) { logOut(input: $input) { endedSessions userErrors { field code } } }',
    arrange: async () => {
      const throwaway = await createAccount(server);
      return {
        variables: { input: { refreshToken: throwaway.refreshToken } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ endedSessions: 1, userErrors: [] });
          expect(await liveSessionCount(throwaway.user.id)).toBe(0);
        },
      };
    },
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },

  // Account operations: people only, never API keys.
  'Mutation.logOutEverywhere': {
    document: 'mutation ($input: LogOutEverywhereInput!) { logOutEverywhere(input: $input) { endedSessions userErrors { field code } } }',
    freshCaller: true,
    arrange: (caller) => ({
      variables: { input: {} },
      succeeded: async (payload) => {
        expect(payload).toEqual({ endedSessions: 1, userErrors: [] });
        if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(0);
      },
      unchanged: async () => {
        if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(1);
      },
    }),
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.changePassword': {
    document: 'mutation ($input: ChangePasswordInput!) { changePassword(input: $input) { user { id } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      const before = caller.account ? (await userRow(caller.account.user.id)).password_hash : null;
      return {
        variables: { input: { currentPassword: TEST_PASSWORD, newPassword: 'an entirely new passphrase' } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          if (caller.account) expect((await userRow(caller.account.user.id)).password_hash).not.toBe(before);
        },
        unchanged: async () => {
          if (caller.account) expect((await userRow(caller.account.user.id)).password_hash).toBe(before);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.revokeSession': {
    document: 'mutation ($input: RevokeSessionInput!) { revokeSession(input: $input) { session { id } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      // The caller's own session (for a key: its owner's); anonymous callers have none, so a well-formed missing id.
      const own = caller.account
        ? await server.db.selectFrom('sessions').select('family_id').where('user_id', '=', caller.account.user.id).executeTakeFirstOrThrow()
        : null;
      const sessionId = own ? gid('Session', { id: own.family_id }) : missingId('Session');
      return {
        variables: { input: { sessionId } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ session: { id: sessionId }, userErrors: [] });
          if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(0);
        },
        unchanged: async () => {
          if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(1);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.createApiKey': {
    document: 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { plaintextKey userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      const before = caller.account ? await activeKeyCount(caller.account.user.id) : 0;
      return {
        variables: { input: { name: 'matrix', scopes: ['CATALOG_READ'] } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(payload['plaintextKey']).toMatch(/^mk_/);
          if (caller.account) expect(await activeKeyCount(caller.account.user.id)).toBe(before + 1);
        },
        unchanged: async () => {
          if (caller.account) expect(await activeKeyCount(caller.account.user.id)).toBe(before);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.revokeApiKey': {
    document: 'mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      // A key revoking itself; a session revoking a key of its own; anonymous: a well-formed missing id.
      let apiKeyId = caller.apiKeyId;
      if (!apiKeyId && caller.account) apiKeyId = (await createApiKey(server, caller.account, ['CATALOG_READ'])).id;
      const target = apiKeyId ?? missingId('ApiKey');
      const owner = caller.account;
      return {
        variables: { input: { apiKeyId: target } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ apiKey: { id: target }, userErrors: [] });
          if (owner) expect(await activeKeyCount(owner.user.id)).toBe(0);
        },
        unchanged: async () => {
          if (owner) expect(await activeKeyCount(owner.user.id)).toBe(1);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },

  'Mutation.updateProfile': {
    document: 'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id displayName } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      const displayName = `Matrix ${unique()}`;
      const stored = async () => (caller.account ? (await userRow(caller.account.user.id)).display_name : null);
      const before = await stored();
      return {
        variables: { input: { displayName } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ user: { id: caller.account ? gid('User', caller.account.user) : null, displayName }, userErrors: [] });
          expect(await stored()).toBe(displayName);
        },
        unchanged: async () => {
          expect(await stored()).toBe(before);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },

  // Admin operations: admins in person only. A fresh target user per cell.
  'Mutation.setUserRole': {
    document: 'mutation ($input: SetUserRoleInput!) { setUserRole(input: $input) { user { id } userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).user({ role: 'CUSTOMER' });
      return {
        variables: { input: { userId: gid('User', target), role: 'SELLER' } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ user: { id: gid('User', target) }, userErrors: [] });
          expect((await userRow(target.id)).role).toBe('SELLER');
        },
        unchanged: async () => {
          expect((await userRow(target.id)).role).toBe('CUSTOMER');
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.deactivateUser': {
    document: 'mutation ($input: DeactivateUserInput!) { deactivateUser(input: $input) { user { id } userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).user({ role: 'CUSTOMER' });
      return {
        variables: { input: { userId: gid('User', target) } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ user: { id: gid('User', target) }, userErrors: [] });
          expect((await userRow(target.id)).deleted_at).not.toBeNull();
        },
        unchanged: async () => {
          expect((await userRow(target.id)).deleted_at).toBeNull();
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  // Catalogue writes: sellers and admins (keys need CATALOG_WRITE); which product is the service's call (own, or admin).
  'Mutation.createProduct': {
    document: 'mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { id status } userErrors { field code } } }',
    arrange: () => {
      const title = `matrix product ${unique()}`;
      return {
        variables: { input: { categoryId: gid('Category', category), title, price: { amount: 100, currency: 'EUR' }, stock: 1 } },
        succeeded: (payload) => {
          noUserErrors(payload);
          expect(asRecord(payload['product'], 'product')['status']).toBe('DRAFT');
        },
        unchanged: async () => {
          expect(await server.db.selectFrom('products').select('id').where('title', '=', title).execute()).toEqual([]);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.updateProduct': productWriteRow(
    'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { id title } userErrors { field code } } }',
    'DRAFT', false, (id) => ({ productId: id, expectedVersion: 1, title: 'Matrix edit' }), { title: 'Matrix edit' },
  ),
  'Mutation.publishProduct': productWriteRow(
    'mutation ($input: PublishProductInput!) { publishProduct(input: $input) { product { id status } userErrors { field code } } }',
    'DRAFT', false, (id) => ({ productId: id }), { status: 'ACTIVE' },
  ),
  'Mutation.archiveProduct': productWriteRow(
    'mutation ($input: ArchiveProductInput!) { archiveProduct(input: $input) { product { id status } userErrors { field code } } }',
    'ACTIVE', false, (id) => ({ productId: id }), { status: 'ARCHIVED' },
  ),
  'Mutation.deleteProduct': productWriteRow(
    'mutation ($input: DeleteProductInput!) { deleteProduct(input: $input) { deletedProductId userErrors { field code } } }',
    'ACTIVE', false, (id) => ({ productId: id }), { deleted: true },
  ),
  'Mutation.restoreProduct': productWriteRow(
    'mutation ($input: RestoreProductInput!) { restoreProduct(input: $input) { product { id } userErrors { field code } } }',
    'ACTIVE', true, (id) => ({ productId: id }), { deleted: false },
  ),

  // Orders: any signed-in caller buys (keys need ORDERS_WRITE); which order a caller may move is the service's call.
  'Query.order': {
    document: 'query ($id: ID!) { order(id: $id) { id status } }',
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const own = caller.account?.user ?? (await seed.user());
      const asSeller = caller.name === 'seller';
      const product = await seed.product({ seller: asSeller ? own : await seed.user({ role: 'SELLER' }), category });
      const order = await seed.order({ customer: asSeller ? await seed.user() : own, items: [{ product }] });
      return { variables: { id: gid('Order', order) }, succeeded: (found) => expect(found).toEqual({ id: gid('Order', order), status: 'PENDING_PAYMENT' }) };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'ok'),
  },
  'Mutation.checkout': {
    document: 'mutation ($input: CheckoutInput!) { checkout(input: $input) { orders { id } userErrors { field code } } }',
    arrange: async (caller) => {
      const product = await seeder(server.db).product({ category, stock: 5 });
      const stock = async () => (await server.db.selectFrom('products').select('stock').where('id', '=', product.id).executeTakeFirstOrThrow()).stock;
      return {
        variables: { input: { items: [{ productId: gid('Product', product), quantity: 1 }] } },
        headers: keyFor(caller),
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await stock()).toBe(4);
        },
        unchanged: async () => expect(await stock()).toBe(5),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.cancelOrder': orderTransitionRow('cancelOrder', 'CancelOrderInput', 'PENDING_PAYMENT', 'CANCELLED', 'customer',
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN')),
  'Mutation.markOrderPaid': orderTransitionRow('markOrderPaid', 'MarkOrderPaidInput', 'PENDING_PAYMENT', 'PAID', 'admin',
    expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN')),
  'Mutation.shipOrder': orderTransitionRow('shipOrder', 'ShipOrderInput', 'PAID', 'SHIPPED', 'seller',
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN')),
  'Mutation.deliverOrder': orderTransitionRow('deliverOrder', 'DeliverOrderInput', 'SHIPPED', 'DELIVERED', 'seller',
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN')),
  'Mutation.refundOrder': orderTransitionRow('refundOrder', 'RefundOrderInput', 'PAID', 'REFUNDED', 'admin',
    expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN')),

  // Categories: admins in person only.
  'Mutation.createCategory': {
    document: 'mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { category { id } userErrors { field code } } }',
    arrange: () => {
      const slug = `matrix-${unique()}`.toLowerCase();
      return {
        variables: { input: { name: 'Matrix', slug } },
        succeeded: noUserErrors,
        unchanged: async () => expect(await server.db.selectFrom('categories').select('id').where('slug', '=', slug).execute()).toEqual([]),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.updateCategory': {
    document: 'mutation ($input: UpdateCategoryInput!) { updateCategory(input: $input) { category { name } userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).category();
      return {
        variables: { input: { categoryId: gid('Category', target), name: 'Renamed by matrix' } },
        succeeded: (payload) => expect(payload).toEqual({ category: { name: 'Renamed by matrix' }, userErrors: [] }),
        unchanged: async () => expect((await server.db.selectFrom('categories').select('name').where('id', '=', target.id).executeTakeFirstOrThrow()).name).toBe(target.name),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.deleteCategory': {
    document: 'mutation ($input: DeleteCategoryInput!) { deleteCategory(input: $input) { deletedCategoryId userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).category();
      const remaining = () => server.db.selectFrom('categories').select('id').where('id', '=', target.id).execute();
      return {
        variables: { input: { categoryId: gid('Category', target) } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ deletedCategoryId: gid('Category', target), userErrors: [] });
          expect(await remaining()).toEqual([]);
        },
        unchanged: async () => expect(await remaining()).toHaveLength(1),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },

  // Review writes: any signed-in user (keys need REVIEWS_WRITE); which review is the service's call (the ABAC rule, the author, an admin).
  'Mutation.createReview': {
    document: 'mutation ($input: CreateReviewInput!) { createReview(input: $input) { review { id rating } userErrors { field code } } }',
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const product = await seed.product({ category });
      // The caller (or the key's owner) received it: the ABAC rule lets the call through once the shield does.
      if (caller.account) await seed.purchase({ customer: caller.account.user, product });
      const reviews = () => server.db.selectFrom('reviews').select('rating').where('product_id', '=', product.id).execute();
      return {
        variables: { input: { productId: gid('Product', product), rating: 5 } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await reviews()).toEqual([{ rating: 5 }]);
        },
        unchanged: async () => expect(await reviews()).toEqual([]),
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.updateReview': reviewWriteRow(
    'mutation ($input: UpdateReviewInput!) { updateReview(input: $input) { review { id rating } userErrors { field code } } }',
    false, (id) => ({ reviewId: id, expectedVersion: 1, rating: 1 }), { rating: 1, deleted: false },
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  ),
  'Mutation.deleteReview': reviewWriteRow(
    'mutation ($input: DeleteReviewInput!) { deleteReview(input: $input) { deletedReviewId userErrors { field code } } }',
    false, (id) => ({ reviewId: id }), { deleted: true },
    expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  ),
  // Moderation: admins in person only.
  'Mutation.restoreReview': reviewWriteRow(
    'mutation ($input: RestoreReviewInput!) { restoreReview(input: $input) { review { id } userErrors { field code } } }',
    true, (id) => ({ reviewId: id }), { deleted: false },
    expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  ),
};

/** A key for every signed-in caller (checkout, markOrderPaid and refundOrder require one); none for anonymous callers. */
function keyFor(caller: Caller): Record<string, string> {
  return caller.account ? { 'idempotency-key': randomUUID() } : {};
}

/**
 * An order transition on a fresh order in `from`, placed so that the caller
 * is the party who may make the move: its customer (cancel), its seller
 * (ship, deliver: even a customer, say a former seller, fulfils their own
 * sales), or anyone's for admin moves.
 */
function orderTransitionRow(
  field: 'cancelOrder' | 'markOrderPaid' | 'shipOrder' | 'deliverOrder' | 'refundOrder',
  inputType: string,
  from: OrderStatus,
  to: OrderStatus,
  party: 'customer' | 'seller' | 'admin',
  expected: Record<CallerName, Outcome>,
): MatrixRow {
  return {
    document: `mutation ($input: ${inputType}!) { ${field}(input: $input) { order { id status } userErrors { field code } } }`,
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const own = caller.account?.user;
      const sellerUser = party === 'seller' && own ? own : await seed.user({ role: 'SELLER' });
      const customerUser = party === 'customer' && own ? own : await seed.user();
      const product = await seed.product({ seller: sellerUser, category });
      const order = await seed.order({ customer: customerUser, items: [{ product }], status: from });
      const status = async () => (await server.db.selectFrom('orders').select('status').where('id', '=', order.id).executeTakeFirstOrThrow()).status;
      return {
        variables: { input: { orderId: gid('Order', order), expectedVersion: 1 } },
        headers: keyFor(caller),
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(await status()).toBe(to);
        },
        unchanged: async () => expect(await status()).toBe(from),
      };
    },
    expected,
  };
}

/**
 * A review write on a fresh review written by the caller (or the key's owner;
 * anonymous callers get someone else's), live or soft-deleted.
 */
function reviewWriteRow(
  document: string,
  deleted: boolean,
  input: (reviewId: string) => Record<string, unknown>,
  after: { rating?: number; deleted: boolean },
  expected: Record<CallerName, Outcome>,
): MatrixRow {
  return {
    document,
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const product = await seed.product({ category });
      const review = await seed.review({ product, author: caller.account?.user ?? (await seed.user()), rating: 4, deleted });
      const row = () => server.db.selectFrom('reviews').select(['rating', 'deleted_at', 'version']).where('id', '=', review.id).executeTakeFirstOrThrow();
      return {
        variables: { input: input(gid('Review', review)) },
        succeeded: async (payload) => {
          noUserErrors(payload);
          const current = await row();
          if (after.rating !== undefined) expect(current.rating).toBe(after.rating);
          expect(current.deleted_at !== null).toBe(after.deleted);
          expect(current.version).toBe(2);
        },
        unchanged: async () => expect(await row()).toEqual({ rating: 4, deleted_at: deleted ? expect.any(Date) : null, version: 1 }),
      };
    },
    expected,
  };
}

/**
 * A product write on a fresh product owned by the caller (a seller's own; for
 * other callers a product of some seller, which an admin in person may change).
 */
function productWriteRow(
  document: string,
  status: 'DRAFT' | 'ACTIVE',
  deleted: boolean,
  input: (productId: string) => Record<string, unknown>,
  after: { title?: string; status?: string; deleted?: boolean },
): MatrixRow {
  return {
    document,
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const owner = caller.name === 'seller' && caller.account ? caller.account.user : await seed.user({ role: 'SELLER' });
      const product = await seed.product({ seller: owner, category, status, deleted });
      const row = () =>
        server.db.selectFrom('products').select(['title', 'status', 'deleted_at', 'version']).where('id', '=', product.id).executeTakeFirstOrThrow();
      return {
        variables: { input: input(gid('Product', product)) },
        succeeded: async (payload) => {
          noUserErrors(payload);
          const current = await row();
          if (after.title !== undefined) expect(current.title).toBe(after.title);
          if (after.status !== undefined) expect(current.status).toBe(after.status);
          if (after.deleted !== undefined) expect(current.deleted_at !== null).toBe(after.deleted);
          expect(current.version).toBe(2);
        },
        unchanged: async () => expect((await row()).version).toBe(1),
      };
    },
    expected: expect6('UNAUTHENTICATED', 'FORBIDDEN', 'ok', 'ok', 'FORBIDDEN', 'FORBIDDEN'),
  };
}

function rootField(operation: string): { root: 'Query' | 'Mutation'; field: string } {
  const [root, field] = operation.split('.');
  if ((root !== 'Query' && root !== 'Mutation') || !field) throw new Error(`bad matrix row name ${operation}`);
  return { root, field };
}

function isNonNullRoot(operation: string): boolean {
  const { root, field } = rootField(operation);
  const type = root === 'Query' ? schema.getQueryType() : schema.getMutationType();
  const definition = type?.getFields()[field];
  if (!definition) throw new Error(`${operation} is not in the schema`);
  return isNonNullType(definition.type);
}

/** Shared callers for the rows that do not change the caller's own account. */
const shared = new Map<CallerName, Caller>();

beforeAll(async () => {
  // Many log-ins from one IP: lift the brute-force budget so it does not get in the way.
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  schema = buildSchema();
  const seed = seeder(server.db);
  category = await seed.category();
  activeProduct = await seed.product({ category });
  for (const name of CALLERS) shared.set(name, await makeCaller(name));
});

afterAll(async () => {
  await server.close();
});

describe('the permission map', () => {
  it('has a rule for every field of every object type of the schema', () => {
    expect(fieldsWithoutRules(buildSchema(), permissions)).toEqual([]);
  });

  it('names no type or field that the schema lacks (no stale rules)', () => {
    const built = buildSchema();
    const stale: string[] = [];
    for (const [typeName, rules] of Object.entries(permissions)) {
      const type = built.getType(typeName);
      if (!isObjectType(type)) {
        stale.push(typeName);
        continue;
      }
      const fields = type.getFields();
      for (const field of Object.keys(rules)) if (!(field in fields)) stale.push(`${typeName}.${field}`);
    }
    expect(stale).toEqual([]);
    expect(Object.keys(permissions).length).toBeGreaterThan(10);
  });

  it('stops the server from starting when a field has no rule, naming the field', () => {
    expect(() => applyPermissions(buildSchema(), permissions)).not.toThrow();
    const { email: _removed, ...userWithoutEmail } = permissions['User'] ?? {};
    const incomplete: PermissionMap = { ...permissions, User: userWithoutEmail };
    expect(fieldsWithoutRules(buildSchema(), incomplete)).toEqual(['User.email']);
    expect(() => applyPermissions(buildSchema(), incomplete)).toThrow(/^No permission rule for: User\.email$/);
  });
});

describe('the operation matrix', () => {
  it('has exactly one row per Query and Mutation field of the schema', () => {
    const rootFields = [
      ...Object.keys(schema.getQueryType()?.getFields() ?? {}).map((field) => `Query.${field}`),
      ...Object.keys(schema.getMutationType()?.getFields() ?? {}).map((field) => `Mutation.${field}`),
    ].sort();
    expect(Object.keys(MATRIX).sort()).toEqual(rootFields);
  });

  for (const [operation, row] of Object.entries(MATRIX)) {
    describe(operation, () => {
      for (const callerName of CALLERS) {
        const expected = row.expected[callerName];
        const name =
          expected === 'ok'
            ? `lets ${CALLER_LABELS[callerName]} through`
            : expected === 'null'
              ? `answers null without an error to ${CALLER_LABELS[callerName]}`
              : `refuses ${CALLER_LABELS[callerName]} with ${expected}`;
        it(name, async () => {
          const { field } = rootField(operation);
          const caller = row.freshCaller ? await makeCaller(callerName) : shared.get(callerName);
          if (!caller) throw new Error(`no shared caller ${callerName}`);
          const arranged = (await row.arrange?.(caller)) ?? {};
          const res = await server.graphql<Data>(row.document, arranged.variables ?? {}, { headers: { ...caller.headers, ...arranged.headers } });

          if (expected === 'ok' || expected === 'null') {
            expect({ status: res.status, errors: res.body.errors }).toEqual({ status: 200, errors: undefined });
            const value = res.body.data?.[field];
            if (expected === 'null') {
              expect(value).toBeNull();
            } else {
              expect(value).not.toBeNull();
              expect(value).toBeDefined();
              await arranged.succeeded?.(Array.isArray(value) ? { list: value } : asRecord(value, operation));
            }
            return;
          }

          expect(errorCodesOf(res)).toEqual([expected]);
          expect(res.body.errors?.[0]?.path).toEqual([field]);
          const nonNull = isNonNullRoot(operation);
          if (nonNull) expect(res.body.data).toBeNull();
          else expect(res.body.data).toEqual({ [field]: null });
          // The registry's status applies when no data was produced: here the only root field is null.
          expect(res.status).toBe(errorCodes[expected].status);
          if (expected === 'UNAUTHENTICATED') {
            expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
          } else {
            expect(res.headers.get('www-authenticate')).toBeNull();
          }
          await arranged.unchanged?.();
        });
      }
    });
  }
});

// ---------------------------------------------------------------------------
// Field-level rules
// ---------------------------------------------------------------------------

describe('field-level rules', () => {
  let owner: Account;
  let otherSeller: Account;
  let customer: Account;
  let admin: Account;
  let ownersKey: { headers: Record<string, string>; id: string };
  let product: ProductRow;
  let deleted: ProductRow;

  beforeAll(async () => {
    owner = await createAccount(server, { role: 'SELLER' });
    otherSeller = await createAccount(server, { role: 'SELLER' });
    customer = await createAccount(server, { role: 'CUSTOMER' });
    admin = await createAccount(server, { role: 'ADMIN' });
    ownersKey = await createApiKey(server, owner, ['CATALOG_READ']);
    const seed = seeder(server.db);
    product = await seed.product({ seller: owner.user, category, title: 'Field rules lamp' });
    deleted = await seed.product({ seller: owner.user, category, title: 'Field rules deleted lamp', deleted: true });
  });

  const SELLER_PRIVATE = `query ($id: ID!) {
    product(id: $id) { title seller { displayName } e: seller { email } r: seller { role } }
  }`;

  it('shows User.email and User.role to the user and to admins', async () => {
    const self = await server.graphql<Data>('{ viewer { email role } }', {}, { headers: owner.headers });
    expect(self.body).toMatchObject({ data: { viewer: { email: owner.email, role: 'SELLER' } } });
    expect(self.body.errors).toBeUndefined();

    for (const headers of [owner.headers, admin.headers]) {
      const res = await server.graphql<Data>(SELLER_PRIVATE, { id: gid('Product', product) }, { headers });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toEqual({
        product: { title: 'Field rules lamp', seller: { displayName: owner.user.display_name }, e: { email: owner.email }, r: { role: 'SELLER' } },
      });
    }
  });

  it('refuses User.email and User.role of someone else with FORBIDDEN, and to anonymous callers with UNAUTHENTICATED', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [otherSeller.headers, 'FORBIDDEN'],
      [customer.headers, 'FORBIDDEN'],
      // rules.ts: "UNAUTHENTICATED when there is no viewer" (signing in could make it visible: it may be you).
      [{}, 'UNAUTHENTICATED'],
    ];
    for (const [headers, code] of cases) {
      const res = await server.graphql<Data>(SELLER_PRIVATE, { id: gid('Product', product) }, { headers });
      expect(res.status).toBe(200);
      // The rest of the product resolves; only the private fields (and their nullable parents) are null.
      expect(res.body.data).toEqual({ product: { title: 'Field rules lamp', seller: { displayName: owner.user.display_name }, e: { email: null }, r: { role: null } } });
      const errors = (res.body.errors ?? []).map((error) => ({ path: error.path, code: error.extensions?.['code'] }));
      expect(errors).toEqual(
        expect.arrayContaining([
          { path: ['product', 'e', 'email'], code },
          { path: ['product', 'r', 'role'], code },
        ]),
      );
      expect(errors).toHaveLength(2);
    }
  });

  it('shows User.deactivatedAt to admins only, not even to the user', async () => {
    const self = await server.graphql<Data>('{ viewer { id deactivatedAt } }', {}, { headers: owner.headers });
    expect(self.body.data).toEqual({ viewer: { id: gid('User', owner.user), deactivatedAt: null } });
    expect(errorCodesOf(self)).toEqual(['FORBIDDEN']);
    expect(self.body.errors?.[0]?.path).toEqual(['viewer', 'deactivatedAt']);

    const asAdmin = await server.graphql<Data>('query ($id: ID!) { product(id: $id) { seller { deactivatedAt } } }', { id: gid('Product', product) }, {
      headers: admin.headers,
    });
    expect(asAdmin.body).toEqual(expect.objectContaining({ data: { product: { seller: { deactivatedAt: null } } } }));
    expect(asAdmin.body.errors).toBeUndefined();
  });

  it('shows User.sessions and User.apiKeys to the user in person only: not to admins, others or API keys', async () => {
    const self = await server.graphql<Data>('{ viewer { sessions { id } apiKeys { id } } }', {}, { headers: owner.headers });
    expect(self.body.errors).toBeUndefined();
    const viewer = asRecord(self.body.data?.['viewer'], 'viewer');
    expect(viewer['sessions']).toHaveLength(1);
    expect(viewer['apiKeys']).toEqual([{ id: ownersKey.id }]);

    const nested = 'query ($id: ID!) { product(id: $id) { title seller { sessions { id } } s: seller { apiKeys { id } } } }';
    const cases: Array<[string, Record<string, string>, string]> = [
      ['admin', admin.headers, 'FORBIDDEN'],
      ['other seller', otherSeller.headers, 'FORBIDDEN'],
      ['anonymous', {}, 'UNAUTHENTICATED'],
    ];
    for (const [who, headers, code] of cases) {
      const res = await server.graphql<Data>(nested, { id: gid('Product', product) }, { headers });
      expect({ who, data: res.body.data }).toEqual({ who, data: { product: { title: 'Field rules lamp', seller: { sessions: null }, s: { apiKeys: null } } } });
      expect({ who, codes: errorCodesOf(res) }).toEqual({ who, codes: [code, code] });
    }

    // The user's own API key, even with a read scope, gets neither list.
    const viaKey = await server.graphql<Data>('{ viewer { id sessions { id } } v: viewer { apiKeys { id } } }', {}, { headers: ownersKey.headers });
    expect(viaKey.body.data).toEqual({ viewer: { id: gid('User', owner.user), sessions: null }, v: { apiKeys: null } });
    expect(errorCodesOf(viaKey)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  it("never lets an API key read sessions or keys, not even its owner's, through node", async () => {
    const self = await server.graphql<Data>('{ viewer { sessions { id } } }', {}, { headers: owner.headers });
    const sessions = asRecord(self.body.data?.['viewer'], 'viewer')['sessions'] as Array<{ id: string }>;
    const sessionId = sessions[0]?.id ?? '';
    expect(sessionId).not.toBe('');

    const doc = `query ($s: ID!, $k: ID!) {
      s: node(id: $s) { id ... on Session { ip userAgent } }
      k: node(id: $k) { id ... on ApiKey { name prefix scopes } }
    }`;
    // In person, the owner sees both (positive control).
    const inPerson = await server.graphql<Data>(doc, { s: sessionId, k: ownersKey.id }, { headers: owner.headers });
    expect(inPerson.body.errors).toBeUndefined();
    expect(asRecord(inPerson.body.data?.['s'], 's')['id']).toBe(sessionId);
    expect(asRecord(inPerson.body.data?.['k'], 'k')['id']).toBe(ownersKey.id);

    // Through the API key: account data is never open to keys (ApiKeyScope, isPersonalSession).
    const viaKey = await server.graphql<Data>(doc, { s: sessionId, k: ownersKey.id }, { headers: ownersKey.headers });
    expect(viaKey.body.data).toEqual({ s: null, k: null });
  });

  it('shows Product.deletedAt to the product’s seller and admins only', async () => {
    const doc = 'query ($id: ID!) { product(id: $id) { title deletedAt } }';
    for (const headers of [owner.headers, admin.headers]) {
      const res = await server.graphql<Data>(doc, { id: gid('Product', product) }, { headers });
      expect(res.body).toEqual(expect.objectContaining({ data: { product: { title: 'Field rules lamp', deletedAt: null } } }));
      expect(res.body.errors).toBeUndefined();
    }
    const cases: Array<[string, Record<string, string>, string]> = [
      ['other seller', otherSeller.headers, 'FORBIDDEN'],
      ['customer', customer.headers, 'FORBIDDEN'],
      ['anonymous', {}, 'UNAUTHENTICATED'],
    ];
    for (const [who, headers, code] of cases) {
      const res = await server.graphql<Data>(doc, { id: gid('Product', product) }, { headers });
      expect({ who, status: res.status, data: res.body.data }).toEqual({ who, status: 200, data: { product: { title: 'Field rules lamp', deletedAt: null } } });
      expect({ who, codes: errorCodesOf(res), path: res.body.errors?.[0]?.path }).toEqual({ who, codes: [code], path: ['product', 'deletedAt'] });
    }
  });

  it('shows every AuditEvent field to an admin in person', async () => {
    const res = await server.graphql<Data>(
      `{ auditEvents(first: 1, filter: { action: "LOGIN_SUCCEEDED" }) {
          totalCount pageInfo { hasNextPage } edges { cursor }
          nodes { id occurredAt actor { id } action targetType targetId requestId ip userAgent metadata }
      } }`,
      {},
      { headers: admin.headers },
    );
    expect(res.body.errors).toBeUndefined();
    const events = asRecord(res.body.data?.['auditEvents'], 'auditEvents');
    const [event] = events['nodes'] as Data[];
    expect(event).toMatchObject({ action: 'LOGIN_SUCCEEDED', targetType: 'Session', metadata: {} });
    expect(asRecord(event?.['actor'], 'actor')['id']).toEqual(expect.any(String));
  });

  it("lets no API key reach an audit event, not even an admin's key, through auditEvents or node", async () => {
    const listed = await server.graphql<Data>('{ auditEvents(first: 1) { nodes { id } } }', {}, { headers: admin.headers });
    const [first] = asRecord(listed.body.data?.['auditEvents'], 'auditEvents')['nodes'] as Array<{ id: string }>;
    if (!first) throw new Error('no audit event to look at');

    const adminKey = await createApiKey(server, admin, ['CATALOG_READ']);
    const viaList = await server.graphql<Data>('{ auditEvents(first: 1) { nodes { id action } } }', {}, { headers: adminKey.headers });
    expect(viaList.body.data).toEqual({ auditEvents: null });
    expect(errorCodesOf(viaList)).toEqual(['FORBIDDEN']);

    const viaNode = await server.graphql<Data>('query ($id: ID!) { node(id: $id) { id ... on AuditEvent { action ip metadata } } }', { id: first.id }, {
      headers: adminKey.headers,
    });
    expect(viaNode.body.data).toEqual({ node: null });
  });

  it("refuses admin mutations to an admin's API key: admin operations are for people in person", async () => {
    const adminKey = await createApiKey(server, admin, ['CATALOG_READ', 'CATALOG_WRITE', 'ORDERS_READ', 'ORDERS_WRITE', 'REVIEWS_WRITE']);
    const target = await seeder(server.db).user({ role: 'CUSTOMER' });
    const role = await server.graphql<Data>(
      'mutation ($input: SetUserRoleInput!) { setUserRole(input: $input) { user { id } } }',
      { input: { userId: gid('User', target), role: 'ADMIN' } },
      { headers: adminKey.headers },
    );
    const deactivate = await server.graphql<Data>(
      'mutation ($input: DeactivateUserInput!) { deactivateUser(input: $input) { user { id } } }',
      { input: { userId: gid('User', target) } },
      { headers: adminKey.headers },
    );
    for (const res of [role, deactivate]) {
      expect({ status: res.status, data: res.body.data, codes: errorCodesOf(res) }).toEqual({ status: 200, data: null, codes: ['FORBIDDEN'] });
    }
    expect(await userRow(target.id)).toMatchObject({ role: 'CUSTOMER', deleted_at: null });
  });

  describe('filter.includeDeleted', () => {
    const LIST = 'query ($filter: ProductFilter) { products(filter: $filter, first: 100) { nodes { id deletedAt } } }';
    const NESTED = 'query ($filter: ProductFilter) { categories { id products(filter: $filter, first: 100) { nodes { id } } } }';

    it('is refused with FORBIDDEN to non-admins and UNAUTHENTICATED to anonymous callers, nulling only the denied list', async () => {
      const catalogKey = await createApiKey(server, customer, ['CATALOG_READ']);
      const cases: Array<[string, Record<string, string>, 'FORBIDDEN' | 'UNAUTHENTICATED']> = [
        ['customer', customer.headers, 'FORBIDDEN'],
        ['seller of the deleted product', owner.headers, 'FORBIDDEN'],
        ["customer's API key", catalogKey.headers, 'FORBIDDEN'],
        ['anonymous', {}, 'UNAUTHENTICATED'],
      ];
      for (const [who, headers, code] of cases) {
        // The only root field is denied: no data, so the status is the code's.
        const list = await server.graphql<Data>(LIST, { filter: { includeDeleted: true } }, { headers });
        expect({ who, data: list.body.data, codes: errorCodesOf(list), status: list.status }).toEqual({
          who,
          data: { products: null },
          codes: [code],
          status: errorCodes[code].status,
        });
        if (code === 'UNAUTHENTICATED') expect(list.headers.get('www-authenticate')).toMatch(/^Bearer /);

        // Nested under each category: the categories still resolve (200), each denied list is null.
        const nested = await server.graphql<Data>(NESTED, { filter: { includeDeleted: true } }, { headers });
        const categories = nested.body.data?.['categories'] as Array<{ products: unknown }>;
        expect(categories.length).toBeGreaterThan(0);
        expect({ who, status: nested.status, lists: new Set(categories.map((c) => c.products)), codes: new Set(errorCodesOf(nested)) }).toEqual({
          who,
          status: 200,
          lists: new Set([null]),
          codes: new Set([code]),
        });
        expect(errorCodesOf(nested)).toHaveLength(categories.length);
      }
      // Asking explicitly for no deleted rows is fine for anyone.
      const explicitFalse = await server.graphql<Data>('query ($filter: ProductFilter) { products(filter: $filter) { totalCount } }', {
        filter: { includeDeleted: false },
      });
      expect(explicitFalse.body.errors).toBeUndefined();
      expect(explicitFalse.status).toBe(200);
    });

    it('lets admins list soft-deleted products, with their deletion time', async () => {
      const res = await server.graphql<Data>(
        LIST,
        { filter: { includeDeleted: true, sellerId: gid('User', owner.user) } },
        { headers: admin.headers },
      );
      expect(res.body.errors).toBeUndefined();
      const nodes = asRecord(res.body.data?.['products'], 'products')['nodes'] as Array<{ id: string; deletedAt: string | null }>;
      expect(nodes.map((node) => node.id).sort()).toEqual([gid('Product', product), gid('Product', deleted)].sort());
      expect(nodes.find((node) => node.id === gid('Product', deleted))?.deletedAt).toEqual(expect.any(String));

      const nested = await server.graphql<Data>(NESTED, { filter: { includeDeleted: true } }, { headers: admin.headers });
      expect(nested.body.errors).toBeUndefined();
      const categories = nested.body.data?.['categories'] as Array<{ id: string; products: { nodes: Array<{ id: string }> } }>;
      const ours = categories.find((entry) => entry.id === gid('Category', category));
      expect(ours?.products.nodes.map((node) => node.id)).toContain(gid('Product', deleted));

      // Without the flag even admins do not see it.
      const plain = await server.graphql<Data>(LIST, { filter: { sellerId: gid('User', owner.user) } }, { headers: admin.headers });
      const plainIds = (asRecord(plain.body.data?.['products'], 'products')['nodes'] as Array<{ id: string }>).map((node) => node.id);
      expect(plainIds).toEqual([gid('Product', product)]);
    });
  });
});

describe('auditing denials', () => {
  it('records a PERMISSION_DENIED audit event for a refused request, with actor, field and request id', async () => {
    const customer = await createAccount(server, { role: 'CUSTOMER' });
    const res = await server.graphql<Data>('{ auditEvents(first: 1) { totalCount } }', {}, { headers: customer.headers });
    expect(errorCodesOf(res)).toEqual(['FORBIDDEN']);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toEqual(expect.any(String));

    const event = await eventually(() =>
      server.db
        .selectFrom('audit_events')
        .select(['actor_id', 'action', 'request_id', 'metadata'])
        .where('action', '=', 'PERMISSION_DENIED')
        .where('actor_id', '=', customer.user.id)
        .executeTakeFirst(),
    );
    expect(event).toEqual({
      actor_id: customer.user.id,
      action: 'PERMISSION_DENIED',
      request_id: requestId,
      metadata: { field: 'Query.auditEvents', via: 'session' },
    });
  });
});

describe('order lists on User', () => {
  it('shows viewer.orders and viewer.sales to the user and their ORDERS_READ key; FORBIDDEN to a key without it and on anyone else', async () => {
    const owner = await createAccount(server, { role: 'SELLER' });
    const product = await seeder(server.db).product({ seller: owner.user, category });
    const reader = await createApiKey(server, owner, ['ORDERS_READ']);
    const catalogOnly = await createApiKey(server, owner, ['CATALOG_READ']);
    const own = '{ viewer { orders { totalCount } sales { totalCount } } }';
    for (const headers of [owner.headers, reader.headers]) {
      const res = await server.graphql<Data>(own, {}, { headers });
      expect(res.body).toEqual(expect.objectContaining({ data: { viewer: { orders: { totalCount: 0 }, sales: { totalCount: 0 } } } }));
      expect(res.body.errors).toBeUndefined();
    }
    const noScope = await server.graphql<Data>(own, {}, { headers: catalogOnly.headers });
    expect(noScope.body.data).toEqual({ viewer: { orders: null, sales: null } });
    expect(errorCodesOf(noScope)).toEqual(['FORBIDDEN', 'FORBIDDEN']);

    const others = 'query ($id: ID!) { product(id: $id) { seller { displayName orders { totalCount } } s: seller { sales { totalCount } } } }';
    for (const [headers, code] of [[(await createAccount(server)).headers, 'FORBIDDEN'], [{}, 'UNAUTHENTICATED']] as const) {
      const res = await server.graphql<Data>(others, { id: gid('Product', product) }, { headers });
      expect(res.body.data).toEqual({ product: { seller: { displayName: owner.user.display_name, orders: null }, s: { sales: null } } });
      expect(errorCodesOf(res)).toEqual([code, code]);
    }
  });
});
