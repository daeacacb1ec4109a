/**
 * The payment webhook's edges over HTTP: a server without
 * PAYMENT_WEBHOOK_SECRET answers 503 and records nothing; the per-IP budget
 * (PAYMENT_WEBHOOK_LIMIT_PER_IP) refuses with 429 and Retry-After before the
 * signature is even looked at.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { answerOf, deliver, newWebhookSecret } from './helpers/payments.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const MESSAGE = { type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { orderId: 'x', amount: 1, currency: 'EUR', paymentId: 'p' } };

describe('without PAYMENT_WEBHOOK_SECRET', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers 503 PAYMENT_WEBHOOK_NOT_CONFIGURED and records nothing', async () => {
    const answer = await answerOf(await deliver(server, newWebhookSecret(), MESSAGE));
    expect([answer.status, answer.body.errors?.[0]?.extensions.code]).toEqual([503, 'PAYMENT_WEBHOOK_NOT_CONFIGURED']);
    expect(await server.db.selectFrom('payment_events').select('id').execute()).toEqual([]);
  });
});

describe('the per-IP budget', () => {
  let server: TestServer;
  const secret = newWebhookSecret();
  beforeAll(async () => {
    server = await startTestServer({ env: { PAYMENT_WEBHOOK_SECRET: secret, PAYMENT_WEBHOOK_LIMIT_PER_IP: '3' } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses the fourth request of a minute from one IP with 429 and Retry-After, signed or not', async () => {
    const answers = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      answers.push(await answerOf(await deliver(server, secret, MESSAGE, { signature: 'v1,bogus' })));
    }
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401]);
    const limited = await deliver(server, secret, MESSAGE);
    const answer = await answerOf(limited);
    expect([answer.status, answer.body.errors?.[0]?.extensions.code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });
});
