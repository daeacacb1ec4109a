/** The payment provider's message parser and the secret's schema: pure, no server. */
import { describe, expect, it } from '@jest/globals';

import { loadConfig, ConfigError } from '../../src/config/config.js';
import { parsePaymentMessage } from '../../src/modules/payments/payment-message.js';

const base = { DATABASE_URL: 'postgres://unused@127.0.0.1/unused', NODE_ENV: 'test' };
const data = { orderId: 'T3JkZXI6eA', amount: 1999, currency: 'EUR', paymentId: 'pay_1' };

describe('parsePaymentMessage', () => {
  it('reads payment.succeeded and payment.failed (amount and currency optional for a failure)', () => {
    const succeeded = parsePaymentMessage(JSON.stringify({ type: 'payment.succeeded', timestamp: '2026-12-07T10:00:00Z', data }));
    expect(succeeded).toMatchObject({ ok: true, known: true, message: { type: 'payment.succeeded', data } });
    const failed = parsePaymentMessage(JSON.stringify({ type: 'payment.failed', timestamp: '2026-12-07T10:00:00+01:00', data: { orderId: 'x', paymentId: 'p' } }));
    expect(failed).toMatchObject({ ok: true, known: true });
  });

  it('names what is wrong with a malformed message', () => {
    expect(parsePaymentMessage('{')).toEqual({ ok: false, reason: 'The body is not valid JSON.' });
    expect(parsePaymentMessage('[]')).toMatchObject({ ok: false });
    const fractional = parsePaymentMessage(JSON.stringify({ type: 'payment.succeeded', timestamp: '2026-12-07T10:00:00Z', data: { ...data, amount: 19.99 } }));
    expect(fractional).toMatchObject({ ok: false, reason: expect.stringContaining('data.amount') });
    const lowerCase = parsePaymentMessage(JSON.stringify({ type: 'payment.succeeded', timestamp: '2026-12-07T10:00:00Z', data: { ...data, currency: 'eur' } }));
    expect(lowerCase).toMatchObject({ ok: false, reason: expect.stringContaining('data.currency') });
    const noTimestamp = parsePaymentMessage(JSON.stringify({ type: 'payment.succeeded', data }));
    expect(noTimestamp).toMatchObject({ ok: false, reason: expect.stringContaining('timestamp') });
  });

  it('passes an unhandled type through as unknown, to be recorded and ignored', () => {
    expect(parsePaymentMessage(JSON.stringify({ type: 'dispute.created', data: {} }))).toMatchObject({ ok: true, known: false, type: 'dispute.created' });
  });
});

describe('PAYMENT_WEBHOOK_SECRET', () => {
  it('accepts whsec_ with 24 to 64 base64 bytes', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(loadConfig({ ...base, PAYMENT_WEBHOOK_SECRET: secret }).payments.webhookSecret).toBe(secret);
    expect(loadConfig(base).payments).toEqual({ webhookSecret: undefined, webhookLimitPerIp: 600, orderPaymentTtlMinutes: 30 });
  });

  it('refuses anything else without echoing it', () => {
    for (const value of ['secret', `whsec_${Buffer.alloc(8).toString('base64')}`, 'whsec_!!!!']) {
      let problem: unknown;
      try {
        loadConfig({ ...base, PAYMENT_WEBHOOK_SECRET: value });
      } catch (error) {
        problem = error;
      }
      expect(problem).toBeInstanceOf(ConfigError);
      expect((problem as Error).message).toContain('PAYMENT_WEBHOOK_SECRET must be `whsec_`');
      expect((problem as Error).message).not.toContain(value);
    }
  });
});
