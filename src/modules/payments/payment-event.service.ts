import { actsAsAdmin } from '../../auth/viewer.js';
import { parsePageRequest, toConnection, type Connection, type ConnectionArgs } from '../../pagination/connection.js';
import type { Scope } from '../../scope/scope.js';
import { countPaymentEvents, findPaymentEventPage, type KeyedPaymentEventRow, type PaymentEventCriteria } from './payment-event.repository.js';
import type { PaymentEventOutcome } from './payment-event.table.js';

export interface PaymentEventListArgs extends ConnectionArgs {
  filter?: { outcome?: PaymentEventOutcome | null } | null;
}

/** The received payment webhooks, newest first: admins in person only (the permission layer says so too), `null` for anyone else. */
export async function listPaymentEvents(scope: Scope, args: PaymentEventListArgs): Promise<Connection<KeyedPaymentEventRow> | null> {
  if (!actsAsAdmin(scope.viewer)) return null;
  const criteria: PaymentEventCriteria = args.filter?.outcome != null ? { outcome: args.filter.outcome } : {};
  const request = parsePageRequest(args, { name: 'RECEIVED_AT', kind: 'timestamp', direction: 'DESC' });
  const rows = await findPaymentEventPage(scope.db, criteria, request);
  return toConnection(rows, request, () => countPaymentEvents(scope.db, criteria));
}
