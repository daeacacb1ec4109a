/**
 * Authorization, end to end: the permission map covers the schema exactly,
 * and every root operation answers each kind of caller as its module's rows
 * say (test/authorization/<module>.rows.ts: a new module adds its own file
 * and one line below), over HTTP, against the real database. Field-level
 * rules are in test/authorization-fields.test.ts.
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
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isNonNullType, isObjectType, OperationTypeNode, type GraphQLSchema } from 'graphql';

import { errorCodes } from '../src/errors/codes.js';
import { permissions } from '../src/authz/permissions.js';
import { applyPermissions, fieldsWithoutRules, type PermissionMap } from '../src/authz/shield.js';
import { buildSchema } from '../src/graphql/schema.js';
import { accountsRows } from './authorization/accounts.rows.js';
import { auditRows } from './authorization/audit.rows.js';
import { baseRows } from './authorization/base.rows.js';
import { categoriesRows } from './authorization/categories.rows.js';
import {
  asRecord,
  CALLER_LABELS,
  CALLERS,
  errorCodesOf,
  makeCaller,
  server,
  setFixtures,
  type Caller,
  type CallerName,
  type Data,
  type MatrixRow,
  type Outcome,
} from './authorization/kit.js';
import { ordersRows } from './authorization/orders.rows.js';
import { paymentsRows } from './authorization/payments.rows.js';
import { productsRows } from './authorization/products.rows.js';
import { reviewsRows } from './authorization/reviews.rows.js';
import { usersRows } from './authorization/users.rows.js';
import { webhooksRows } from './authorization/webhooks.rows.js';
import { wishlistsRows } from './authorization/wishlists.rows.js';
import { sseSubscribe } from './helpers/live.js';
import { startTestServer } from './helpers/server.js';
import { seeder } from './helpers/seed.js';

let schema: GraphQLSchema;

/** Every module's rows; a field in two files is a mistake the coverage test below reports. */
const ROW_FILES: Array<Record<string, MatrixRow>> = [baseRows, accountsRows, auditRows, categoriesRows, ordersRows, paymentsRows, productsRows, reviewsRows, usersRows, wishlistsRows, webhooksRows];
const MATRIX: Record<string, MatrixRow> = ROW_FILES.reduce<Record<string, MatrixRow>>((all, rows) => ({ ...all, ...rows }), {});

type Root = 'Query' | 'Mutation' | 'Subscription';

function rootField(operation: string): { root: Root; field: string } {
  const [root, field] = operation.split('.');
  if ((root !== 'Query' && root !== 'Mutation' && root !== 'Subscription') || !field) throw new Error(`bad matrix row name ${operation}`);
  return { root, field };
}

function isNonNullRoot(operation: string): boolean {
  const { root, field } = rootField(operation);
  const type = schema.getRootType(root === 'Query' ? OperationTypeNode.QUERY : root === 'Mutation' ? OperationTypeNode.MUTATION : OperationTypeNode.SUBSCRIPTION);
  const definition = type?.getFields()[field];
  if (!definition) throw new Error(`${operation} is not in the schema`);
  return isNonNullType(definition.type);
}

/**
 * A subscription cell, over Server-Sent Events: 'ok' opens the stream
 * (then closed), a refusal answers the code and its status and opens none.
 */
async function expectSubscription(document: string, variables: Record<string, unknown>, headers: Record<string, string>, expected: Outcome): Promise<void> {
  const stream = sseSubscribe(server, document, variables, headers);
  const status = await stream.status;
  if (expected === 'ok' || expected === 'null') {
    stream.close();
    expect({ expected, status }).toEqual({ expected: 'ok', status: 200 });
    return;
  }
  expect((await stream.refusal)?.errors?.map((error) => error.extensions?.['code'])).toEqual([expected]);
  expect(status).toBe(expected === 'FORBIDDEN' ? 403 : errorCodes[expected].status);
}

/** Shared callers for the rows that do not change the caller's own account. */
const shared = new Map<CallerName, Caller>();

beforeAll(async () => {
  // Many log-ins from one IP: lift the brute-force budget so it does not get in the way.
  const started = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  schema = buildSchema();
  const seed = seeder(started.db);
  const category = await seed.category();
  setFixtures({ server: started, category, activeProduct: await seed.product({ category }) });
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
  it('has exactly one row per Query, Mutation and Subscription field of the schema', () => {
    expect(ROW_FILES.flatMap((rows) => Object.keys(rows)).length).toBe(Object.keys(MATRIX).length);
    const rootFields = [
      ...Object.keys(schema.getQueryType()?.getFields() ?? {}).map((field) => `Query.${field}`),
      ...Object.keys(schema.getMutationType()?.getFields() ?? {}).map((field) => `Mutation.${field}`),
      ...Object.keys(schema.getSubscriptionType()?.getFields() ?? {}).map((field) => `Subscription.${field}`),
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
          if (rootField(operation).root === 'Subscription') {
            await expectSubscription(row.document, arranged.variables ?? {}, { ...caller.headers, ...arranged.headers }, expected);
            return;
          }
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
