import { describe, expect, it } from '@jest/globals';
import { isNonNullType, isObjectType } from 'graphql';

import { permissions } from '../../src/authz/permissions.js';
import { allow } from '../../src/authz/shield-lib.js';
import { buildSchema } from '../../src/graphql/schema.js';

/**
 * A field that some viewer may be denied must be nullable: a denied non-null
 * field nulls its parent, so anonymous `seller { displayName email }` would
 * lose the public `displayName` too.
 *
 * Three deliberate exceptions, each a whole category rather than a field:
 * - Mutation fields keep the convention's `verbNoun(...): VerbNounPayload!`
 *   shape; a denied mutation answers `data: null` with its error.
 * - Subscription fields: their rule guards the subscribe itself (a refusal
 *   opens no stream) and each event again (a refusal ends the stream with
 *   its error); an event the subscriber may not see is never sent, so every
 *   event that is sent has its object.
 * - Types that are private as a whole: they are only ever handed to a viewer
 *   who passes the same rule (User.sessions and User.apiKeys to their owner,
 *   webhook endpoints and deliveries to theirs, auditEvents and paymentEvents
 *   to admins), so their field rules are a second line of defence;
 *   if one ever failed, nulling the leaked object is the wanted outcome.
 */
const PRIVATE_TYPES = new Set([
  'Session',
  'ApiKey',
  'AuditEvent',
  'AuditEventConnection',
  'AuditEventEdge',
  'PaymentEvent',
  'PaymentEventConnection',
  'PaymentEventEdge',
  'WebhookEndpoint',
  'WebhookDelivery',
]);

function nonNullFieldsThatMayBeDenied(): string[] {
  const schema = buildSchema();
  const offenders: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    if (type.name === 'Mutation' || type.name === 'Subscription' || PRIVATE_TYPES.has(type.name)) continue;
    for (const field of Object.values(type.getFields())) {
      const rule = permissions[type.name]?.[field.name];
      if (isNonNullType(field.type) && rule !== allow) offenders.push(`${type.name}.${field.name}: ${String(field.type)}`);
    }
  }
  return offenders;
}

describe('schema nullability against the permission map', () => {
  it('makes every field that some viewer may be denied nullable, so a denial never nulls its parent', () => {
    expect(nonNullFieldsThatMayBeDenied()).toEqual([]);
  });

  it('still lists the private types, Mutation and Subscription among the schema, so the exceptions do not hide a renamed type', () => {
    const schema = buildSchema();
    for (const name of [...PRIVATE_TYPES, 'Mutation', 'Subscription']) expect(isObjectType(schema.getType(name))).toBe(true);
  });
});
