/**
 * POST /webhooks/payments: the payment provider's signed webhook
 * (docs/guides/payments-webhook.md). The HTTP half only: the per-IP budget,
 * the Standard Webhooks signature over the raw body, the parse; what a
 * message does is the payments module's service.
 *
 * - Its own content-type parser (in an encapsulated plugin, so only this
 *   route has it): `application/json` kept as raw bytes, since the signature
 *   covers the body exactly as sent; at most PAYMENT_WEBHOOK_MAX_BYTES (413).
 * - onRequest, before the body is read: the per-IP budget
 *   (PAYMENT_WEBHOOK_LIMIT_PER_IP a minute, 429 with Retry-After), then the
 *   secret (none: 503 PAYMENT_WEBHOOK_NOT_CONFIGURED).
 * - Headers `webhook-id`, `webhook-timestamp`, `webhook-signature`; the
 *   timestamp within 5 minutes of the server clock, both ways
 *   (WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE); a `v1,` signature among the
 *   space-separated ones matching HMAC-SHA256 of `id.timestamp.body`,
 *   compared in constant time by `standardwebhooks` (WEBHOOK_SIGNATURE_INVALID).
 *   Both 401, nothing recorded.
 * - The body parsed after the signature only: malformed 400
 *   WEBHOOK_PAYLOAD_INVALID; otherwise 200 `{ received, webhookId, outcome,
 *   duplicate }` whatever the outcome (an unknown order or type included:
 *   providers retry anything else).
 * - No authentication, no CSRF or preflight rule (not /graphql), no
 *   Idempotency-Key (the webhook id is the key).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

import { errorCodes, type ErrorCode } from '../errors/codes.js';
import { requestError } from '../errors/errors.js';
import { fromGlobalId } from '../graphql/global-id.js';
import type { CostLimiter } from '../limits/cost-limiter.js';
import type { AppLoaders } from '../modules/registry.js';
import { parsePaymentMessage } from '../modules/payments/payment-message.js';
import { receivePaymentWebhook } from '../modules/payments/payment-webhook.service.js';
import { withPoolShare } from '../db/pool-share.js';
import { SqlStatsPlugin } from '../observability/request-stats.js';
import { buildScope, type ScopeDeps, type ScopeLogger } from '../scope/scope.js';

export const PAYMENT_WEBHOOK_PATH = '/webhooks/payments';
/** Largest body accepted: a payment event is a few hundred bytes. */
export const PAYMENT_WEBHOOK_MAX_BYTES = 64 * 1024;
/** How far `webhook-timestamp` may be from the server clock, either way (Standard Webhooks' tolerance). */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;
/** The window of the per-IP budget. */
export const PAYMENT_WEBHOOK_WINDOW_SECONDS = 60;

const WEBHOOK_ID = /^[\x21-\x7e]{1,255}$/;
const TIMESTAMP = /^\d{1,12}$/;

export interface PaymentWebhookOptions {
  /** `whsec_...`; absent: every request is answered 503. */
  secret: string | undefined;
  /** Per-IP request budget (one point a request). */
  limiter: CostLimiter;
  deps: ScopeDeps<AppLoaders>;
}

function refuse(request: FastifyRequest, reply: FastifyReply, code: ErrorCode, message?: string): FastifyReply {
  request.stats.errorCodes = [code];
  request.log.info({ code, reason: message }, 'refused a payment webhook');
  return reply.code(errorCodes[code].status).header('cache-control', 'no-store').send(requestError(code, request.id, message));
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The raw order id behind the provider's `data.orderId`, or `null` when it names no order (malformed, another type). */
function orderIdOf(reference: string): string | null {
  try {
    const decoded = fromGlobalId(reference);
    return decoded.type === 'Order' ? decoded.id : null;
  } catch {
    return null;
  }
}

export async function registerPaymentWebhookRoute(app: FastifyInstance, options: PaymentWebhookOptions): Promise<void> {
  const verifier = options.secret === undefined ? undefined : new Webhook(options.secret);
  const rootLog = app.log as ScopeLogger;

  await app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: PAYMENT_WEBHOOK_MAX_BYTES }, (_request, body, done) => done(null, body));

    scoped.post(PAYMENT_WEBHOOK_PATH, {
      bodyLimit: PAYMENT_WEBHOOK_MAX_BYTES,
      onRequest: async (request, reply) => {
        const charge = await options.limiter.charge(`ip:${request.ip}`, 1);
        if (!charge.allowed) {
          void reply.header('retry-after', String(charge.retryAfterSeconds));
          return refuse(request, reply, 'RATE_LIMITED');
        }
        if (!verifier) return refuse(request, reply, 'PAYMENT_WEBHOOK_NOT_CONFIGURED');
      },
      handler: async (request, reply) => {
        if (!verifier) return refuse(request, reply, 'PAYMENT_WEBHOOK_NOT_CONFIGURED');
        const id = header(request, 'webhook-id');
        const timestamp = header(request, 'webhook-timestamp');
        const signature = header(request, 'webhook-signature');
        if (id === undefined || timestamp === undefined || signature === undefined) {
          return refuse(request, reply, 'WEBHOOK_SIGNATURE_INVALID', 'Send the webhook-id, webhook-timestamp and webhook-signature headers.');
        }
        if (!WEBHOOK_ID.test(id)) return refuse(request, reply, 'WEBHOOK_SIGNATURE_INVALID', 'webhook-id must be 1 to 255 visible ASCII characters.');
        if (!TIMESTAMP.test(timestamp)) return refuse(request, reply, 'WEBHOOK_SIGNATURE_INVALID', 'webhook-timestamp must be whole seconds since the Unix epoch.');
        if (Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS) {
          return refuse(request, reply, 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE');
        }
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        try {
          verifier.verify(body, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }, { jsonParse: false });
        } catch (error) {
          if (!(error instanceof WebhookVerificationError)) throw error;
          return refuse(request, reply, 'WEBHOOK_SIGNATURE_INVALID');
        }
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(body);
        } catch {
          return refuse(request, reply, 'WEBHOOK_PAYLOAD_INVALID', 'The body is not UTF-8 text.');
        }
        const message = parsePaymentMessage(text);
        if (!message.ok) return refuse(request, reply, 'WEBHOOK_PAYLOAD_INVALID', message.reason);

        const scope = buildScope({
          deps: options.deps,
          request: { id: request.id, ip: request.ip, userAgent: request.headers['user-agent'] ?? null, origin: null, cookies: {} },
          log: rootLog,
          db: withPoolShare(options.deps.db, request.poolShare, [new SqlStatsPlugin(request.stats)]),
        });
        const orderId = message.known ? orderIdOf(message.message.data.orderId) : null;
        const receipt = await receivePaymentWebhook(scope, { webhookId: id, message, orderId });
        return reply.header('cache-control', 'no-store').send({ received: true, webhookId: id, outcome: receipt.outcome, duplicate: receipt.duplicate });
      },
    });
  });
}
