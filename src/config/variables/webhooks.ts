/** Outbound webhooks (src/modules/webhooks): where they may go, how long an attempt waits, how retries spread. */
import { boolean, integer } from '../coerce.js';
import { setting } from '../variable.js';

export const WEBHOOK_VARIABLES = {
  WEBHOOK_ALLOW_PRIVATE_TARGETS: setting({
    section: 'Webhooks',
    schema: boolean(),
    default: false,
    about:
      'Lets webhook endpoints use plain `http://` and loopback or private addresses (a receiver on your own machine). For development and tests only: refused when `NODE_ENV=production`.',
  }),
  WEBHOOK_TIMEOUT_MS: setting({
    section: 'Webhooks',
    schema: integer(100, 60_000),
    default: 10_000,
    about: 'How long one delivery attempt may take (connect, send, answer), in ms; longer is a failed attempt.',
  }),
  WEBHOOK_RETRY_BASE_MS: setting({
    section: 'Webhooks',
    schema: integer(1, 3_600_000),
    default: 5000,
    about:
      'First wait of the retry schedule, in ms: each later wait is four times the one before (capped at 20 hours, with ±20 % jitter), eleven attempts over about three days with the default. Tests shrink it.',
  }),
  WEBHOOK_MAX_ENDPOINTS: setting({
    section: 'Webhooks',
    schema: integer(1, 1000),
    default: 10,
    about: 'How many webhook endpoints one account may register.',
  }),
  WEBHOOK_DISABLE_AFTER_HOURS: setting({
    section: 'Webhooks',
    schema: integer(1, 720),
    default: 72,
    about: 'An endpoint whose attempts have all failed for this long is disabled; its owner sees why and may enable it again.',
  }),
  WEBHOOK_DISPATCH_INTERVAL_MS: setting({
    section: 'Webhooks',
    schema: integer(0, 10_000),
    default: 50,
    about:
      'How often, at most, a worker starts a batch of the first attempts its own checkouts and other writes committed, in ms (after a quiet spell, at once). Longer batches more deliveries into one recording statement (less CPU per delivery under load) and delays them more: at the default, 0.6 ms of CPU less per checkout with two deliveries than at 25, and 30 to 40 ms from commit to receipt when one batch waits for the next (docs/operations/performance.md, webhooks). 0: a batch as soon as one is free.',
  }),
};
