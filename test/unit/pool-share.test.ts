/**
 * The per-request pool share (src/db/connection.ts) lending a connection
 * beyond its limit to a transaction opened inside another unit of work (a
 * detached unit): taken at once, counted while held, and never handed on to
 * a waiting query while the share is over its limit.
 */
import { describe, expect, it } from '@jest/globals';
import { setImmediate as turn } from 'node:timers/promises';

import { PoolShare } from '../../src/db/pool-share.js';

describe('PoolShare beyond its limit', () => {
  it('lends a slot at once when all are held, and keeps the limit for the queries waiting meanwhile', async () => {
    const share = new PoolShare(1, 10_000);
    const outer = await share.acquire();
    const detached = share.acquireBeyondLimit();
    let waiterServed = false;
    const waiter = share.acquire().then((release) => {
      waiterServed = true;
      return release;
    });
    // The lent slot comes back first: the outer unit still holds the one slot of the limit.
    detached();
    await turn();
    expect(waiterServed).toBe(false);
    outer();
    const served = await waiter;
    expect(waiterServed).toBe(true);
    served();
    // Everything is back: the next query gets its slot without waiting.
    let immediate = false;
    const next = share.acquire().then((release) => {
      immediate = true;
      return release;
    });
    await turn();
    expect(immediate).toBe(true);
    (await next)();
  });

  it('hands no returned slot on while the share is over its limit, and the next one once it is back at it', async () => {
    const share = new PoolShare(2, 10_000);
    const a = await share.acquire();
    const b = await share.acquire();
    const lent = share.acquireBeyondLimit();
    let served = false;
    const waiter = share.acquire().then((release) => {
      served = true;
      return release;
    });
    // Three held, limit two: a returned slot only brings the count back to the limit.
    a();
    await turn();
    expect(served).toBe(false);
    // Now two are held (b and the lent one): the next return goes to the waiter.
    b();
    const release = await waiter;
    expect(served).toBe(true);
    release();
    lent();
  });
});
