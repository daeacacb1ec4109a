/**
 * Live updates as a module's subscription field sees them: the changes that
 * committed anywhere (on this instance or another, src/subscriptions/), and
 * for each one a fresh scope of the subscriber as they are now. A field's
 * `subscribe` resolver turns them into payloads with `liveField`: each change
 * is read again through the module's own services, with the visibility rules
 * of a query, and skipped when the subscriber may not see the result.
 *
 * The transports (src/subscriptions/) attach a `LiveOperation` to the
 * subscription's context; this file imports nothing from them or from the
 * modules, so both can name it.
 */
import type { Change, ChangeKinds } from './change-feed.js';
import type { Scope } from './scope.js';

type ChangeOfKind<K extends keyof ChangeKinds> = Extract<Change, { entity: K }>;

/** One running subscription operation, as its transport runs it. */
export interface LiveOperation {
  /** When the subscription started (a review "added" is one created since). */
  readonly startedAt: Date;
  /** The committed changes of one kind that `match` accepts, in commit order, until the operation ends. */
  changes<K extends keyof ChangeKinds>(entity: K, match: (change: ChangeOfKind<K>) => boolean): AsyncIterable<ChangeOfKind<K>>;
  /**
   * The subscriber as they are now, for one event: their credential is
   * authenticated again and the field's permission rule asked again. Throws
   * the coded error (UNAUTHENTICATED, FORBIDDEN) that ends the stream when
   * they no longer may receive it. The transport executes the event's
   * selection in the same fresh scope.
   */
  eventScope(): Promise<Scope>;
  /** Told when a change produced no event (the subscriber may not see the object now). */
  skipped(): void;
}

const operations = new WeakMap<object, LiveOperation>();

/** Called by a transport on the context it builds for a subscription operation. */
export function attachLive(context: object, operation: LiveOperation): void {
  operations.set(context, operation);
}

/** The live operation of a subscription's context; throws if the context is not one (a subscription over plain HTTP). */
export function liveOf(scope: object): LiveOperation {
  const operation = operations.get(scope);
  if (!operation) throw new Error('not a subscription context: subscriptions run over WebSocket or Server-Sent Events');
  return operation;
}

/**
 * The payloads of one subscription field: for each matching change, a fresh
 * scope of the subscriber, `read` through the module's services in it, and
 * `{ [field]: value }` when the value is visible (`null` skips the event).
 * The field's resolver is the default one, so its permission rule guards the
 * `subscribe` call itself: a refused subscription never opens a stream.
 */
export function liveField<F extends string, K extends keyof ChangeKinds, L, T>(
  scope: Scope<L>,
  field: F,
  entity: K,
  match: (change: ChangeOfKind<K>) => boolean,
  read: (eventScope: Scope<L>, change: ChangeOfKind<K>) => Promise<T | null>,
): AsyncGenerator<Record<F, T>> {
  // The subscribe-time scope is not kept for the life of the stream: each event has its own.
  return payloads(liveOf(scope), field, entity, match, read);
}

async function* payloads<F extends string, K extends keyof ChangeKinds, L, T>(
  live: LiveOperation,
  field: F,
  entity: K,
  match: (change: ChangeOfKind<K>) => boolean,
  read: (eventScope: Scope<L>, change: ChangeOfKind<K>) => Promise<T | null>,
): AsyncGenerator<Record<F, T>> {
  for await (const change of live.changes(entity, match)) {
    const eventScope = (await live.eventScope()) as Scope<L>;
    const value = await read(eventScope, change);
    if (value !== null) yield { [field]: value } as Record<F, T>;
    else live.skipped();
  }
}
