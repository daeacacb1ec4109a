/**
 * The local fan-out of live changes: every change that committed anywhere
 * (heard on the change channel, src/subscriptions/channel.ts) is offered to
 * each open subscription stream of this instance, which keeps the ones its
 * field asked for. A stream buffers at most `bound` changes: a subscriber
 * that falls further behind is dropped (counted), its stream ending with
 * SUBSCRIPTION_TOO_SLOW after the changes it holds, rather than silently
 * missing some.
 */
import { appError } from '../errors/errors.js';
import type { Change } from '../scope/change-feed.js';

interface Listener {
  accepts(change: Change): boolean;
  push(change: Change): void;
}

export interface HubCounters {
  dropped(entity: string): void;
}

export class LiveHub {
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly bound: number,
    private readonly counters: HubCounters,
  ) {}

  /** Streams open on this instance. */
  get size(): number {
    return this.listeners.size;
  }

  /** Offers committed changes to every stream, in order. */
  deliver(changes: readonly Change[]): void {
    for (const change of changes) {
      for (const listener of this.listeners) if (listener.accepts(change)) listener.push(change);
    }
  }

  /**
   * The changes `accepts` keeps, from now until the iterator is returned
   * (a `for await` that ends) or `signal` aborts (shutdown): then it ends
   * after the changes already taken.
   */
  stream<C extends Change>(accepts: (change: Change) => change is C, signal: AbortSignal): AsyncIterableIterator<C> {
    const queue: C[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    let overflowed = false;
    const end = () => {
      ended = true;
      this.listeners.delete(listener);
      wake?.();
    };
    const listener: Listener = {
      accepts,
      push: (change) => {
        if (queue.length >= this.bound) {
          this.counters.dropped(change.entity);
          overflowed = true;
          end();
          return;
        }
        queue.push(change as C);
        wake?.();
      },
    };
    this.listeners.add(listener);
    if (signal.aborted) end();
    else signal.addEventListener('abort', end, { once: true });
    const iterator: AsyncIterableIterator<C> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (queue.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        const change = queue.shift();
        if (change !== undefined) return { done: false, value: change };
        if (overflowed) throw appError('SUBSCRIPTION_TOO_SLOW', `More than ${this.bound} changes waited for this subscription: it was dropped. Subscribe again (and read the current state).`, { limit: this.bound });
        return { done: true, value: undefined };
      },
      return: async () => {
        queue.length = 0;
        end();
        signal.removeEventListener('abort', end);
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }
}
