/** Money coming in: the payment provider's webhook and how long an order waits for its payment. */
import { integer, webhookSecret } from '../coerce.js';
import { optional, setting } from '../variable.js';

export const PAYMENTS_VARIABLES = {
  PAYMENT_WEBHOOK_SECRET: optional({
    section: 'Payments',
    schema: webhookSecret(),
    fromFile: true,
    example: 'whsec_<base64 of 32 random bytes>',
    about:
      'Signing secret shared with the payment provider (Standard Webhooks, `whsec_` + base64; generate one with `echo whsec_$(openssl rand -base64 32)`). Unset: `POST /webhooks/payments` answers 503 `PAYMENT_WEBHOOK_NOT_CONFIGURED` and no payment is recorded by webhook (admins still use `markOrderPaid`). No default, in development either: a published secret would let anyone mark orders paid.',
  }),
  PAYMENT_WEBHOOK_LIMIT_PER_IP: setting({
    section: 'Payments',
    schema: integer(1, 1_000_000),
    default: 600,
    about:
      'Requests to `POST /webhooks/payments` per client IP per minute, signed or not (checked before the signature); over it: 429 `RATE_LIMITED` with `Retry-After`, which providers retry. Shared through Redis when `REDIS_URL` is set.',
  }),
  ORDER_PAYMENT_TTL_MINUTES: setting({
    section: 'Payments',
    schema: integer(1, 10_080),
    default: 30,
    about:
      'How long an order waits in `PENDING_PAYMENT`: older ones are cancelled by the system (reason `PAYMENT_EXPIRED`) and their stock returned. Read by the scheduled task `orders.expirePayments`.',
  }),
} as const;
