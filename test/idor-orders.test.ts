/**
 * Orders.
 *
 * Insecure direct object references: user B, holding a valid id of user A's
 * private object, never reads or changes it. Every path answers exactly as
 * it does for a well-formed id of an object that does not exist, so B
 * cannot even learn that the object is there.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, missingId, seeder } from './helpers/seed.js';
import { server, query, expectSameAsMissing, startIdorServer } from './helpers/idor.js';

startIdorServer();

describe("another user's order", () => {
  let a: Account;
  let aSeller: Account;
  let b: Account;
  let bSeller: Account;
  let admin: Account;
  let aOrder: string;
  let orderRowId: string;

  beforeAll(async () => {
    [a, aSeller, b, bSeller, admin] = await Promise.all([
      createAccount(server),
      createAccount(server, { role: 'SELLER' }),
      createAccount(server),
      createAccount(server, { role: 'SELLER' }),
      createAccount(server, { role: 'ADMIN' }),
    ]);
    const seed = seeder(server.db);
    const product = await seed.product({ seller: aSeller.user, stock: 5 });
    const order = await seed.order({ customer: a.user, items: [{ product, quantity: 2 }], status: 'PAID' });
    orderRowId = order.id;
    aOrder = gid('Order', order);
  });

  const READ = `query ($id: ID!) {
    order(id: $id) { id status total { amount } items { title } customer { id } }
    node(id: $id) { id ... on Order { status } }
    nodes(ids: [$id]) { id }
  }`;

  it('is visible to its customer, its seller and admins through order, node and nodes', async () => {
    for (const account of [a, aSeller, admin]) {
      const res = await query(READ, { id: aOrder }, account.headers);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toMatchObject({ order: { id: aOrder, status: 'PAID', customer: { id: gid('User', a.user) } }, node: { id: aOrder }, nodes: [{ id: aOrder }] });
    }
  });

  it('is null for another customer, another seller and an ORDERS_READ key of theirs, exactly as a missing order id is', async () => {
    const bKey = await createApiKey(server, b, ['ORDERS_READ', 'CATALOG_READ']);
    for (const headers of [b.headers, bSeller.headers, bKey.headers]) {
      await expectSameAsMissing(READ, aOrder, missingId('Order'), headers, { order: null, node: null, nodes: [null] });
    }
  });

  it("is null through node for the customer's own key without ORDERS_READ", async () => {
    const catalogKey = await createApiKey(server, a, ['CATALOG_READ']);
    const res = await query('query ($id: ID!) { node(id: $id) { id } }', { id: aOrder }, catalogKey.headers);
    expect(res.body).toEqual(expect.objectContaining({ data: { node: null } }));
  });

  it("never appears in B's viewer.orders or in another seller's viewer.sales", async () => {
    const orders = await query('{ viewer { orders { totalCount nodes { id } } } }', {}, b.headers);
    expect(orders.body.data).toEqual({ viewer: { orders: { totalCount: 0, nodes: [] } } });
    const sales = await query('{ viewer { sales { totalCount nodes { id } } } }', {}, bSeller.headers);
    expect(sales.body.data).toEqual({ viewer: { sales: { totalCount: 0, nodes: [] } } });
  });

  it('answers every order mutation by B or another seller exactly as for a missing id, and changes nothing', async () => {
    const cases: Array<[string, string, Account]> = [
      ['cancelOrder', 'CancelOrderInput', b],
      ['shipOrder', 'ShipOrderInput', bSeller],
      ['deliverOrder', 'DeliverOrderInput', bSeller],
      ['cancelOrder', 'CancelOrderInput', bSeller],
    ];
    for (const [field, inputType, account] of cases) {
      const document = `mutation ($input: ${inputType}!) { ${field}(input: $input) { order { id } userErrors { field code message } } }`;
      const others = await query(document, { input: { orderId: aOrder, expectedVersion: 1 } }, account.headers);
      const absent = await query(document, { input: { orderId: missingId('Order'), expectedVersion: 1 } }, account.headers);
      expect(others.body.errors).toBeUndefined();
      expect(others.body.data).toEqual(absent.body.data);
      expect(others.body.data).toEqual({ [field]: { order: null, userErrors: [{ field: ['input', 'orderId'], code: 'NOT_FOUND', message: 'No such order.' }] } });
    }
    const row = await server.db.selectFrom('orders').select(['status', 'version']).where('id', '=', orderRowId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'PAID', version: 1 });
  });
});
