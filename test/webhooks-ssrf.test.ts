/**
 * The delivery attempt's own defences, against a real receiver on 127.0.0.1:
 * with the test-only allowance off, a loopback target is refused at connect
 * time even when it is a name (what DNS rebinding to 127.0.0.1 produces:
 * the name was public at registration and resolves to loopback now) and an
 * IP literal is refused before any connection; a redirect to a private or
 * metadata address is a failure and is never followed; and a host that keeps
 * failing trips its circuit breaker, so later attempts fail fast unsent.
 */
import { afterEach, describe, expect, it } from '@jest/globals';

import { attemptDelivery, breakerOpen, send } from '../src/modules/webhooks/attempt.js';
import { startReceiver, type Answer, type Receiver } from './helpers/webhook-receiver.js';

const receivers: Receiver[] = [];
const message = { headers: { 'webhook-id': 'msg_1' }, body: '{"type":"webhook.test"}' };
const strict = { timeoutMs: 2000, allowPrivate: false };
const open = { timeoutMs: 2000, allowPrivate: true };

async function receiver(answer?: (n: number) => Answer): Promise<Receiver> {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

afterEach(async () => {
  for (const started of receivers.splice(0)) await started.close();
});

describe('without the allowance', () => {
  it('refuses a name that resolves to loopback when it connects, and nothing is sent', async () => {
    const target = await receiver();
    const port = new URL(target.url).port;
    const outcome = await send({ ...message, url: `http://localhost:${port}/hook` }, strict);
    expect(outcome).toMatchObject({ kind: 'failed', statusCode: null, error: expect.stringMatching(/^refused: .*is not allowed/) });
    expect(target.received).toEqual([]);
  });

  it.each(['127.0.0.1', '[::1]', '10.0.0.1', '169.254.169.254', '[::ffff:127.0.0.1]'])('refuses the IP literal %s before connecting', async (host) => {
    const outcome = await send({ ...message, url: `http://${host}:9/hook` }, strict);
    expect(outcome).toMatchObject({ kind: 'failed', statusCode: null, durationMs: 0, error: expect.stringMatching(/^refused: /) });
  });
});

describe('a redirect', () => {
  it.each(['http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:9/', 'http://[::1]:9/', 'http://10.0.0.1/'])('to %s is a failure and is not followed', async (location) => {
    const target = await receiver(() => ({ status: 307, headers: { location } }));
    const outcome = await send({ ...message, url: target.url }, open);
    expect(outcome).toMatchObject({ kind: 'failed', statusCode: 307, error: 'HTTP 307: redirects are not followed' });
    expect(target.received).toHaveLength(1);
  });
});

describe('the per-host circuit breaker', () => {
  it('opens after repeated host failures and then fails fast without sending', async () => {
    const target = await receiver(() => ({ status: 502 }));
    const settings = { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 60_000 };
    for (let n = 0; n < 3; n += 1) expect(await attemptDelivery({ ...message, url: target.url }, open, settings)).toMatchObject({ kind: 'failed', statusCode: 502 });
    expect(breakerOpen(new URL(target.url).host)).toBe(true);
    const skipped = await attemptDelivery({ ...message, url: target.url }, open, settings);
    expect(skipped).toMatchObject({ kind: 'skipped', retryAfterMs: 60_000 });
    expect(target.received).toHaveLength(3);
  });

  it('does not count 4xx answers against the host', async () => {
    const target = await receiver(() => ({ status: 400 }));
    const settings = { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 60_000 };
    for (let n = 0; n < 4; n += 1) expect(await attemptDelivery({ ...message, url: target.url }, open, settings)).toMatchObject({ kind: 'failed', statusCode: 400 });
    expect(breakerOpen(new URL(target.url).host)).toBe(false);
  });
});
