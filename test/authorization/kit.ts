/**
 * The authorization matrix's kit: the six kinds of caller, the outcomes a
 * cell can expect, the row type, and the fixtures the rows point at. Each
 * module's rows live in test/authorization/<module>.rows.ts; the runner
 * (test/authorization-matrix.test.ts) checks that together they cover every
 * Query and Mutation field exactly once.
 */
import { randomUUID } from 'node:crypto';
import { expect } from '@jest/globals';

import type { CategoryRow } from '../../src/modules/categories/category.table.js';
import type { ProductRow } from '../../src/modules/products/product.table.js';
import type { UserRole } from '../../src/modules/users/user.table.js';
import { createAccount, createApiKey, type Account } from '../helpers/auth.js';
import type { GraphQLResult, TestServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------
// Fixtures, set by the runner's beforeAll (live bindings: rows read them when they run)
// ---------------------------------------------------------------------------

export let server: TestServer;
/** A category and an ACTIVE product in it, which the read rows point at. */
export let category: CategoryRow;
export let activeProduct: ProductRow;

export function setFixtures(fixtures: { server: TestServer; category: CategoryRow; activeProduct: ProductRow }): void {
  ({ server, category, activeProduct } = fixtures);
}

// ---------------------------------------------------------------------------
// Callers
// ---------------------------------------------------------------------------

export const CALLERS = ['anonymous', 'customer', 'seller', 'admin', 'catalogKey', 'ordersKey'] as const;
export type CallerName = (typeof CALLERS)[number];

export const CALLER_LABELS: Record<CallerName, string> = {
  anonymous: 'an anonymous caller',
  customer: 'a CUSTOMER session',
  seller: 'a SELLER session',
  admin: 'an ADMIN session',
  catalogKey: "a customer's CATALOG_READ API key",
  ordersKey: "a customer's ORDERS_READ API key (no CATALOG_READ)",
};

export const SESSION_ROLES: Partial<Record<CallerName, UserRole>> = { customer: 'CUSTOMER', seller: 'SELLER', admin: 'ADMIN' };

export interface Caller {
  name: CallerName;
  headers: Record<string, string>;
  /** The signed-in account, or the owner of the API key in use; null when anonymous. */
  account: Account | null;
  /** Global id of the API key in use, if any. */
  apiKeyId: string | null;
}

export async function makeCaller(name: CallerName): Promise<Caller> {
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

export type Data = Record<string, unknown>;

export function asRecord(value: unknown, what: string): Data {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not an object: ${JSON.stringify(value)}`);
  }
  return value as Data;
}

export function errorCodesOf(res: GraphQLResult<Data>): string[] {
  return (res.body.errors ?? []).map((error) => String(error.extensions?.['code']));
}

export let counter = 0;
export const unique = (): string => `${Date.now().toString(36)}-${(counter += 1).toString(36)}`;

export async function liveSessionCount(userId: string): Promise<number> {
  const rows = await server.db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return rows.length;
}

export async function activeKeyCount(userId: string): Promise<number> {
  const rows = await server.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return rows.length;
}

export async function userRow(userId: string) {
  return server.db.selectFrom('users').select(['role', 'deleted_at', 'password_hash', 'display_name']).where('id', '=', userId).executeTakeFirstOrThrow();
}

/** Polls until `read` returns something (the audit of a denial is written after the response). */
export async function eventually<T>(read: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T | undefined> {
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

export type Outcome = 'ok' | 'null' | 'UNAUTHENTICATED' | 'FORBIDDEN';

/** One column per caller, in the order of CALLERS. */
export function expect6(
  anonymous: Outcome,
  customer: Outcome,
  seller: Outcome,
  admin: Outcome,
  catalogKey: Outcome,
  ordersKey: Outcome,
): Record<CallerName, Outcome> {
  return { anonymous, customer, seller, admin, catalogKey, ordersKey };
}

export interface Arranged {
  variables?: Record<string, unknown>;
  /** Extra request headers (an Idempotency-Key for the mutations that require one). */
  headers?: Record<string, string>;
  /** Checked after an 'ok' cell: the operation really did its job. Receives the root field's value. */
  succeeded?: (value: Data) => Promise<void> | void;
  /** Checked after a refused cell: nothing changed. */
  unchanged?: () => Promise<void>;
}

export interface MatrixRow {
  /** A minimal valid document whose only root field is the operation, unaliased. */
  document: string;
  /** Builds the variables (and throwaway targets) for one caller. */
  arrange?: (caller: Caller) => Promise<Arranged> | Arranged;
  /** A new caller of the same kind for each cell: the operation changes the caller's own account. */
  freshCaller?: boolean;
  expected: Record<CallerName, Outcome>;
}


export function noUserErrors(value: Data): void {
  expect(value['userErrors']).toEqual([]);
}

/** A key for every signed-in caller (checkout, markOrderPaid and refundOrder require one); none for anonymous callers. */
export function keyFor(caller: Caller): Record<string, string> {
  return caller.account ? { 'idempotency-key': randomUUID() } : {};
}
