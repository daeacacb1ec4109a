/**
 * The pure parts of outbound webhooks: which addresses are refused, the retry
 * schedule, Retry-After, the body's data (only listed members, global ids),
 * signatures that the `standardwebhooks` package agrees with, and the
 * production refusal of the test-only allowance.
 */
import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';

import { ConfigError, loadConfig } from '../../src/config/config.js';
import { toGlobalId } from '../../src/graphql/global-id.js';
import { retryAfterMs } from '../../src/modules/webhooks/attempt.js';
import { MAX_ATTEMPTS, nextDelayMs, schedule } from '../../src/modules/webhooks/backoff.js';
import { webhookBody, webhookData } from '../../src/modules/webhooks/payload.js';
import { newSigningSecret, webhookHeaders } from '../../src/modules/webhooks/signing.js';
import { checkTargetUrl, refusedAddress } from '../../src/modules/webhooks/ssrf.js';

describe('refusedAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['fd00::1', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::1', '6to4'],
    ['192.0.2.1', 'reserved'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedAddress(address)).toBe(`is a ${range} address`);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2001:4860:4860::8888', '::ffff:8.8.8.8'])('accepts the public address %s', (address) => {
    expect(refusedAddress(address)).toBeUndefined();
  });
});

describe('checkTargetUrl', () => {
  const strict = { allowHttp: false, allowPrivate: false };

  it('refuses a name that resolves to a private address, naming both', async () => {
    const resolve = (host: string) => Promise.resolve(host === 'hooks.example.com' ? ['93.184.215.14', '10.1.2.3'] : []);
    expect(await checkTargetUrl('https://hooks.example.com/x', { ...strict, resolve })).toBe(
      'The host hooks.example.com resolves to 10.1.2.3, which is a private address; webhooks go to public addresses only.',
    );
  });

  it('accepts a name that resolves to public addresses only', async () => {
    expect(await checkTargetUrl('https://hooks.example.com/x', { ...strict, resolve: () => Promise.resolve(['93.184.215.14']) })).toBeUndefined();
  });

  it('refuses names that are local by definition even when they resolve to a public address', async () => {
    const resolve = () => Promise.resolve(['93.184.215.14']);
    for (const host of ['intranet', 'printer.local', 'app.localhost', 'metadata.google.internal']) {
      expect(await checkTargetUrl(`https://${host}/x`, { ...strict, resolve })).toBe(`The host ${host} is not a public name; webhooks go to public addresses only.`);
    }
  });

  it('refuses a name that does not resolve', async () => {
    expect(await checkTargetUrl('https://nowhere.example.com/', { ...strict, resolve: () => Promise.reject(new Error('ENOTFOUND')) })).toBe('The host nowhere.example.com does not resolve.');
  });

  it('accepts http and loopback only with the allowance', async () => {
    expect(await checkTargetUrl('http://127.0.0.1:8080/x', strict)).toBe('The URL must use https://.');
    expect(await checkTargetUrl('http://127.0.0.1:8080/x', { allowHttp: true, allowPrivate: true })).toBeUndefined();
  });
});

describe('the retry schedule', () => {
  it('waits 4 times longer after each failure from 5 s, capped at 20 h, over about three days', () => {
    const waits = schedule(5000);
    expect(waits).toHaveLength(MAX_ATTEMPTS - 1);
    expect(waits.slice(0, 4)).toEqual([5000, 20_000, 80_000, 320_000]);
    expect(Math.max(...waits)).toBe(20 * 3600 * 1000);
    const days = waits.reduce((sum, wait) => sum + wait, 0) / (24 * 3600 * 1000);
    expect(days).toBeGreaterThan(2.5);
    expect(days).toBeLessThan(3.5);
  });

  it('jitters each wait within ±20 % and stops after the last attempt', () => {
    expect(nextDelayMs(1, 5000, { random: () => 0 })).toBe(4000);
    expect(nextDelayMs(1, 5000, { random: () => 0.999999 })).toBe(6000);
    expect(nextDelayMs(MAX_ATTEMPTS, 5000)).toBeNull();
  });

  it('takes a longer Retry-After instead', () => {
    expect(nextDelayMs(1, 5000, { retryAfterMs: 60_000, random: () => 0.5 })).toBe(60_000);
    expect(nextDelayMs(3, 5000, { retryAfterMs: 1000, random: () => 0.5 })).toBe(80_000);
  });

  it('reads Retry-After as seconds or an HTTP date, within a day', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Mon, 07 Dec 2026 10:05:00 GMT', now)).toBe(300_000);
    expect(retryAfterMs('999999', now)).toBe(24 * 3600 * 1000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('the body', () => {
  it('carries global ids and the state the event establishes, and nothing it does not list', () => {
    const orderId = '3f0e7a4c-1111-4222-8333-944445555666';
    expect(webhookData('order.cancelled', { orderId, reason: 'PAYMENT_EXPIRED', customerEmail: 'x@example.com' })).toEqual({
      order: { id: toGlobalId('Order', orderId), status: 'CANCELLED' },
      reason: 'PAYMENT_EXPIRED',
    });
    expect(webhookData('review.created', { reviewId: orderId, productId: orderId, body: 'secret text' })).toEqual({
      review: { id: toGlobalId('Review', orderId) },
      product: { id: toGlobalId('Product', orderId) },
    });
    expect(webhookData('product.out_of_stock', { productId: orderId })).toEqual({ product: { id: toGlobalId('Product', orderId), stock: 0 } });
  });

  it('is the Standard Webhooks envelope', () => {
    const at = new Date('2026-12-07T10:00:00.000Z');
    expect(JSON.parse(webhookBody('order.paid', at, { order: { id: 'x' } }))).toEqual({ type: 'order.paid', timestamp: '2026-12-07T10:00:00.000Z', data: { order: { id: 'x' } } });
  });
});

describe('signatures', () => {
  it('match what the standardwebhooks package computes, one per secret', () => {
    const [a, b] = [newSigningSecret(), newSigningSecret()];
    const at = new Date('2026-12-07T10:00:00Z');
    const headers = webhookHeaders([a, b], 'msg_1', at.getTime() / 1000, '{"x":1}');
    expect(headers['webhook-signature']).toBe(`${new Webhook(a).sign('msg_1', at, '{"x":1}')} ${new Webhook(b).sign('msg_1', at, '{"x":1}')}`);
  });
});

describe('WEBHOOK_ALLOW_PRIVATE_TARGETS', () => {
  it('is refused in production', () => {
    const env = { NODE_ENV: 'production', JWT_SIGNING_KEYS: '{"keys":[]}', DATABASE_URL: 'postgres://u@db.example.com/app', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/WEBHOOK_ALLOW_PRIVATE_TARGETS=true is refused in production/);
    expect(loadConfig({ ...env, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' }).webhooks.allowPrivateTargets).toBe(false);
  });
});
