/** The orders module: checkout and the order transitions. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import type { OrderStatus } from '../../src/modules/orders/order.table.js';
import { gid, seeder } from '../helpers/seed.js';
import { type CallerName, category, expect6, keyFor, type MatrixRow, noUserErrors, type Outcome, server } from './kit.js';

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

export const ordersRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
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

  // Subscriptions run over Server-Sent Events here: 'ok' is a stream opened, a refusal opens none.
  'Subscription.orderUpdated': {
    document: 'subscription ($id: ID!) { orderUpdated(id: $id) { id } }',
    arrange: async (caller) => {
      const seed = seeder(server.db);
      const own = caller.account?.user ?? (await seed.user());
      const asSeller = caller.name === 'seller';
      const product = await seed.product({ seller: asSeller ? own : await seed.user({ role: 'SELLER' }), category });
      const order = await seed.order({ customer: asSeller ? await seed.user() : own, items: [{ product }] });
      return { variables: { id: gid('Order', order) } };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'ok'),
  },
  'Subscription.myOrderUpdates': {
    document: 'subscription { myOrderUpdates { id } }',
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'ok'),
  },
  // Sales are followed by sellers (and admins); the keys of the matrix belong to customers.
  'Subscription.mySales': {
    document: 'subscription { mySales { id } }',
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
};
