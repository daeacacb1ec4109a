import type { DomainEvent, EventSinkOf } from './event-types.js';
import type { Scope } from './scope.js';

export type { DomainEvent, DomainEventType, DomainEventTypes } from './event-types.js';

/** A sink of domain events, given the unit's scope before COMMIT (see `EventSinkOf`). */
export type EventSink = EventSinkOf<Scope>;

/** An event as a service records it: `occurredAt` defaults to now. */
export type RecordedEvent = DomainEvent extends infer E ? (E extends DomainEvent ? Omit<E, 'occurredAt'> & { occurredAt?: Date } : never) : never;

/**
 * Records a domain event of the scope's unit of work: a service calls it
 * where a business transition happens, in the unit that writes it. The
 * event joins the unit's own list (`UnitState.events`); right before COMMIT
 * the unit hands its events to every sink of `scope.deps.eventSinks`, in the
 * transaction, so what a sink writes (an outbox row, a job) commits with the
 * write or not at all. A rolled back unit hands nothing on, and the events
 * recorded in a savepoint part that rolled back are dropped with it. Only a
 * push onto an array: no statement runs here.
 *
 * Outside a unit of work it throws: an event with no transaction to commit
 * in could be told for a write that never happened, or lost.
 */
export function recordEvent(scope: Scope, ...events: RecordedEvent[]): Promise<void> {
  if (!scope.unit) return Promise.reject(new Error('recordEvent must run inside a unit of work'));
  const now = new Date();
  for (const event of events) scope.unit.events.push({ ...event, occurredAt: event.occurredAt ?? now });
  return Promise.resolve();
}
