/**
 * Per-request shares of the database pools: how many connections the work of
 * one HTTP request may hold at once (src/db/connection.ts takes a slot before
 * each checkout).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import { PoolShareTimeoutError } from './faults.js';

/** How long a query waits for a pool connection (a new one, or a free one when all are busy) by default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * The most pool connections the work running inside it (one HTTP request)
 * may hold at once; further queries wait for one of them to come back. A
 * request that fans out (aliases, big `nodes` lists, parallel loaders) then
 * cannot starve every other request of connections.
 */
export class PoolShare {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  /**
   * @param limit connections held at once (at least 1)
   * @param timeoutMs how long a query waits for a turn before PoolShareTimeoutError
   */
  constructor(
    readonly limit: number,
    private readonly timeoutMs: number = DEFAULT_CONNECT_TIMEOUT_MS,
  ) {}

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.held < this.limit) {
      this.held += 1;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(turn);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new PoolShareTimeoutError(this.timeoutMs));
      }, this.timeoutMs);
      this.waiting.push(turn);
    });
    // The slot was handed over by the releaser: `held` already counts it.
    return this.releaser();
  }

  /**
   * A slot taken at once, even when all are held, and counted while it is
   * held: for the connection of a transaction opened inside another unit of
   * work of the same work (a detached unit of work). The unit holding the
   * other connection waits for this one, so waiting here for a slot that
   * unit holds would never end with a limit of 1.
   */
  acquireBeyondLimit(): () => void {
    this.held += 1;
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Above the limit (a slot taken beyond it is back), the freed slot is not handed on.
      const next = this.held > this.limit ? undefined : this.waiting.shift();
      if (next) next();
      else this.held -= 1;
    };
  }
}

const currentShare = new AsyncLocalStorage<PoolShare>();
const beyondShare = new AsyncLocalStorage<boolean>();

/**
 * Runs `work` (and everything it starts asynchronously) under `share`: its
 * queries on any pool from createDb hold at most `share.limit` connections
 * at once. Used per HTTP request (src/app.ts).
 */
export function runWithPoolShare<T>(share: PoolShare, work: () => T): T {
  return currentShare.run(share, work);
}

/**
 * Runs `checkout` (the BEGIN of a transaction, which takes one connection)
 * with a slot of the current share taken beyond its limit, without waiting
 * (`PoolShare.acquireBeyondLimit`). Only for a transaction opened while the
 * same work holds another connection in an open unit of work and waits for
 * this one (src/db/unit-of-work.ts, `detached`).
 */
export function beyondPoolShare<T>(checkout: () => Promise<T>): Promise<T> {
  return beyondShare.run(true, checkout);
}

/**
 * A slot of the current work's share for one checkout, or undefined when the
 * work runs under none: taken at once inside `beyondPoolShare`, else waited for.
 */
export async function acquireShareSlot(): Promise<(() => void) | undefined> {
  const share = currentShare.getStore();
  if (!share) return undefined;
  return beyondShare.getStore() === true ? share.acquireBeyondLimit() : share.acquire();
}
