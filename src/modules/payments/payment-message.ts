/**
 * The payment provider's message body (docs/guides/payments-webhook.md):
 * `{"type": "payment.succeeded", "timestamp": ISO-8601, "data": {"orderId",
 * "amount", "currency", "paymentId"}}`. Pure parsing, no I/O: the HTTP edge
 * calls it after the signature is verified, and answers a failure with 400.
 * A type this server does not handle parses as `{ known: false }`: it is
 * recorded as IGNORED and answered 200, so a provider that adds event types
 * does not retry them forever.
 */
import { z } from 'zod';

export const HANDLED_TYPES = ['payment.succeeded', 'payment.failed'] as const;
export type HandledType = (typeof HANDLED_TYPES)[number];

const text = z.string().min(1).max(255);
// GraphQL `Int` (Money.amount) is 32-bit: an amount an order total could not be is refused here.
const amount = z.number().int().min(0).max(2_147_483_647);
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR');
const timestamp = z.iso.datetime({ offset: true });

const succeeded = z.object({
  type: z.literal('payment.succeeded'),
  timestamp,
  data: z.object({ orderId: text, amount, currency, paymentId: text }),
});

const failed = z.object({
  type: z.literal('payment.failed'),
  timestamp,
  data: z.object({ orderId: text, amount: amount.optional(), currency: currency.optional(), paymentId: text }),
});

const anyType = z.object({ type: z.string().min(1).max(100), timestamp: timestamp.optional() });

export type HandledMessage = z.infer<typeof succeeded> | z.infer<typeof failed>;

export type ParsedMessage =
  | { ok: true; known: true; message: HandledMessage; payload: unknown }
  | { ok: true; known: false; type: string; timestamp: string | undefined; payload: unknown }
  | { ok: false; reason: string };

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'The body does not have the expected shape.';
  const where = issue.path.length > 0 ? `\`${issue.path.join('.')}\`` : 'The body';
  return `${where}: ${issue.message}`;
}

/** Parses the raw body (UTF-8 JSON) into a handled message, an unhandled type, or the reason it is malformed. */
export function parsePaymentMessage(body: string): ParsedMessage {
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'The body is not valid JSON.' };
  }
  const header = anyType.safeParse(payload);
  if (!header.success) return { ok: false, reason: describe(header.error) };
  if (!(HANDLED_TYPES as readonly string[]).includes(header.data.type)) {
    return { ok: true, known: false, type: header.data.type, timestamp: header.data.timestamp, payload };
  }
  const parsed = z.discriminatedUnion('type', [succeeded, failed]).safeParse(payload);
  if (!parsed.success) return { ok: false, reason: describe(parsed.error) };
  return { ok: true, known: true, message: parsed.data, payload };
}
