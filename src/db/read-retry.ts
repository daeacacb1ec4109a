/**
 * Which statements may run again on a new connection when theirs died under
 * them (57P01 admin_shutdown, ECONNRESET, "Connection terminated
 * unexpectedly"): only the first statement of a pool checkout (so never one
 * inside a transaction, whose first statement is BEGIN), and only when
 * running it twice cannot change anything:
 *
 * - a BEGIN (or START TRANSACTION): nothing of the transaction has run yet;
 * - a single SELECT (or WITH ... SELECT) that writes nothing: no INSERT,
 *   UPDATE, DELETE, MERGE or SELECT INTO anywhere in it (a data-modifying
 *   CTE), no row locks, and no call of a built-in function with side effects
 *   (sequences, advisory locks, NOTIFY, settings, large objects, cancelling
 *   or terminating sessions).
 *
 * The check reads the statement's text, so it errs on the safe side: a
 * parameter value never appears in it (Kysely binds values), but a column
 * named like a keyword does, and merely costs that read its retry.
 */

const BEGIN = /^\s*(?:begin|start\s+transaction)\b[^;]*$/i;
const READ = /^\s*(?:\(\s*)*(?:select|with)\b/i;
const SIDE_EFFECTS =
  /;|\b(?:insert|update|delete|merge|into|for\s+(?:key\s+)?share|nextval|setval|set_config|pg_(?:try_)?advisory_\w+|pg_notify|pg_cancel_backend|pg_terminate_backend|lo_\w+|dblink\w*)\b/i;

/** True when `text` opens a transaction (BEGIN or START TRANSACTION, one statement). */
export function isBegin(text: string): boolean {
  return BEGIN.test(text);
}

/** True when `text`, the first statement of a checkout, may run again on a new connection after a lost one. */
export function isRetryableFirstStatement(text: string): boolean {
  if (BEGIN.test(text)) return true;
  return READ.test(text) && !SIDE_EFFECTS.test(text);
}
