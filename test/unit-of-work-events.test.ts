/**
 * Domain events (src/scope/events.ts) through the unit of work: recorded by
 * the services that make the transitions, handed to the event sinks inside
 * the transaction right before COMMIT. A savepoint part that rolls back
 * drops its events; a sink that throws rolls the whole unit back; a
 * detached unit hands its own events on at its own commit.
 */
import { describe, expect, it } from '@jest/globals';

import { unitOfWork } from '../src/db/unit-of-work.js';
import { checkout } from '../src/modules/orders/checkout.service.js';
import { cancelOrderBySystem } from '../src/modules/orders/order-system.service.js';
import { transitionOrder } from '../src/modules/orders/order.service.js';
import { recordEvent, type DomainEvent, type EventSink } from '../src/scope/events.js';
import type { Scope } from '../src/scope/scope.js';
import { jobScope, viewerOf } from './helpers/scope.js';
import { seeder } from './helpers/seed.js';
import { database, deps, LaterStepFailed, startUnitOfWorkDatabase } from './helpers/unit-of-work.js';

startUnitOfWorkDatabase();

/** A sink keeping what it heard, and whether it ran inside the unit's transaction. */
function recordingSink(): EventSink & { heard: DomainEvent[][]; inTransaction: boolean[] } {
  const heard: DomainEvent[][] = [];
  const inTransaction: boolean[] = [];
  return {
    name: 'recording',
    heard,
    inTransaction,
    async beforeCommit(scope: Scope, events: readonly DomainEvent[]) {
      heard.push([...events]);
      inTransaction.push(scope.unit !== null && scope.db === scope.unit.trx);
    },
  };
}

const withSinks = (...sinks: EventSink[]) => ({ ...deps, eventSinks: sinks });

async function stockOf(productId: string): Promise<number> {
  const row = await database.db.selectFrom('products').select('stock').where('id', '=', productId).executeTakeFirstOrThrow();
  return row.stock;
}

describe('domain events reach the sinks before COMMIT', () => {
  it('hands a checkout\'s order.created and product.out_of_stock to the sink, in the transaction, once', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const product = await seed.product({ stock: 2 });
    const sink = recordingSink();
    const result = await checkout(jobScope(withSinks(sink), viewerOf(buyer)), { items: [{ productId: product.id, quantity: 2 }] });
    const order = result.orders?.[0];
    expect(order).toBeDefined();
    expect(sink.heard).toHaveLength(1);
    expect(sink.inTransaction).toEqual([true]);
    expect(sink.heard[0]?.map((event) => [event.type, event.data, event.audience])).toEqual([
      ['product.out_of_stock', { productId: product.id }, [product.seller_id]],
      ['order.created', { orderId: order?.id }, [buyer.id, product.seller_id]],
    ]);
  });

  it('tells the cancelling party in order.cancelled', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const product = await seed.product({ stock: 5 });
    const scope = jobScope(deps, viewerOf(buyer));
    const order = (await checkout(scope, { items: [{ productId: product.id, quantity: 1 }] })).orders?.[0];
    if (!order) throw new Error('no order');
    const sink = recordingSink();
    await transitionOrder(jobScope(withSinks(sink), viewerOf(buyer)), 'cancel', { orderId: order.id, expectedVersion: order.version });
    expect(sink.heard[0]).toEqual([expect.objectContaining({ type: 'order.cancelled', data: { orderId: order.id, reason: 'CUSTOMER' } })]);
  });

  it('tells the system\'s reason when the payment expired', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const product = await seed.product({ stock: 5 });
    const order = (await checkout(jobScope(deps, viewerOf(buyer)), { items: [{ productId: product.id, quantity: 1 }] })).orders?.[0];
    if (!order) throw new Error('no order');
    const sink = recordingSink();
    await cancelOrderBySystem(jobScope(withSinks(sink)), order.id, { reason: 'PAYMENT_EXPIRED', source: 'payment-expiry' });
    expect(sink.heard[0]).toEqual([
      expect.objectContaining({ type: 'order.cancelled', data: { orderId: order.id, reason: 'PAYMENT_EXPIRED' }, audience: [buyer.id, product.seller_id] }),
    ]);
  });

  it('never hands on the events of a savepoint part that rolled back, and hands on the rest', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const kept = await seed.product({ stock: 3 });
    const dropped = await seed.product({ stock: 3 });
    const sink = recordingSink();
    await unitOfWork(jobScope(withSinks(sink), viewerOf(buyer)), async (unit) => {
      await checkout(unit, { items: [{ productId: kept.id, quantity: 1 }] });
      await expect(
        unitOfWork(
          unit,
          async (part) => {
            await checkout(part, { items: [{ productId: dropped.id, quantity: 3 }] });
            throw new LaterStepFailed();
          },
          { savepoint: true },
        ),
      ).rejects.toBeInstanceOf(LaterStepFailed);
    });
    expect(sink.heard).toHaveLength(1);
    const types = sink.heard[0]?.map((event) => event.type);
    expect(types).toEqual(['order.created']);
    expect(JSON.stringify(sink.heard)).not.toContain(dropped.id);
    expect(await stockOf(dropped.id)).toBe(3);
  });

  it('rolls the whole unit back when a sink throws: no order, stock untouched', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const product = await seed.product({ stock: 4 });
    const heard = recordingSink();
    const failing: EventSink = {
      name: 'failing',
      beforeCommit: async () => {
        throw new LaterStepFailed('the outbox could not be written');
      },
    };
    await expect(
      checkout(jobScope(withSinks(heard, failing), viewerOf(buyer)), { items: [{ productId: product.id, quantity: 4 }] }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    expect(heard.heard).toHaveLength(1);
    expect(await stockOf(product.id)).toBe(4);
    const orders = await database.db.selectFrom('orders').select('id').where('customer_id', '=', buyer.id).execute();
    expect(orders).toEqual([]);
  });

  it('hands a detached unit\'s events on at its own commit, apart from the outer unit\'s', async () => {
    const seed = seeder(database.db);
    const buyer = await seed.user();
    const product = await seed.product({ stock: 5 });
    const other = await seed.product({ stock: 5 });
    const sink = recordingSink();
    await expect(
      unitOfWork(jobScope(withSinks(sink), viewerOf(buyer)), async (unit) => {
        await checkout(unit, { items: [{ productId: other.id, quantity: 1 }] });
        await checkout(unit, { items: [{ productId: product.id, quantity: 1 }] });
        await unitOfWork(unit, (own) => recordEvent(own, { type: 'product.out_of_stock', data: { productId: 'detached' }, audience: [] }), { detached: true });
        throw new LaterStepFailed();
      }),
    ).rejects.toBeInstanceOf(LaterStepFailed);
    // Only the detached unit committed: its event alone was handed on.
    expect(sink.heard).toEqual([[expect.objectContaining({ type: 'product.out_of_stock', data: { productId: 'detached' } })]]);
  });

  it('calls no sink for a unit that recorded no event, and refuses an event outside a unit', async () => {
    const sink = recordingSink();
    await unitOfWork(jobScope(withSinks(sink)), async () => undefined);
    expect(sink.heard).toEqual([]);
    await expect(recordEvent(jobScope(deps), { type: 'order.paid', data: { orderId: 'x' }, audience: [] })).rejects.toThrow('inside a unit of work');
  });
});
