/**
 * The vocabulary of domain events: what happened to the business, told to
 * whoever reacts to it (outbound webhooks now, subscriptions later). This
 * file imports nothing, so the scope, the unit of work and the sinks can all
 * name these types without importing one another (like change-feed.ts).
 * `recordEvent` and the rest live in ./events.ts.
 *
 * The event types, by name: empty here, filled by the modules from their
 * `index.ts` (interface merging, like `ChangeKinds`):
 *
 * ```ts
 * declare module '../../scope/event-types.js' {
 *   interface DomainEventTypes {
 *     'order.created': { orderId: string };
 *   }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by module augmentation
export interface DomainEventTypes {}

/** The name of an event some module declares. */
export type DomainEventType = keyof DomainEventTypes;

/** One event, of a type some module declares. */
export type DomainEvent = {
  [T in keyof DomainEventTypes]: {
    type: T;
    data: DomainEventTypes[T];
    /**
     * The users entitled to hear it (their ids): an order's customer and its
     * seller; a product's seller; a review's product's seller. Admins hear
     * everything; a sink decides that, not the recorder.
     */
    audience: readonly string[];
    occurredAt: Date;
  };
}[keyof DomainEventTypes];

/**
 * Hears the events of a unit of work inside its transaction, right before
 * COMMIT (src/db/unit-of-work.ts): what it writes commits with them, and a
 * sink that throws rolls the whole unit back. `S` is the scope it is given
 * (the unit's: `db` is the transaction); `EventSink` in ./events.ts is this
 * with the application's `Scope`.
 */
export interface EventSinkOf<S> {
  /** Names the sink in logs. */
  readonly name: string;
  beforeCommit(scope: S, events: readonly DomainEvent[]): Promise<void>;
}
