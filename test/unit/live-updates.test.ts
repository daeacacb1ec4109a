import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';

import type { Change } from '../../src/scope/change-feed.js';
import { NOTIFY_MAX_BYTES, notifyPayloads, parseNotifyPayload } from '../../src/subscriptions/channel.js';
import { credentialExpiry } from '../../src/subscriptions/connections.js';
import { LiveHub } from '../../src/subscriptions/hub.js';
import { credentialOf } from '../../src/subscriptions/ws.js';

const product = (): Change => ({ entity: 'product', id: randomUUID() });

describe('NOTIFY payloads', () => {
  it('carry ids only and stay under 8000 bytes, however many changes a unit committed', () => {
    const changes = Array.from({ length: 2_000 }, product);
    const payloads = notifyPayloads(changes);
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(NOTIFY_MAX_BYTES);
    expect(payloads.flatMap((payload) => parseNotifyPayload(payload)?.changes ?? [])).toEqual(changes);
  });

  it('are stamped with the time of the commit, and anything else heard on the channel is ignored', () => {
    const [payload] = notifyPayloads([product()], 1_796_000_000_123);
    expect(parseNotifyPayload(payload ?? '')?.at).toBe(1_796_000_000_123);
    for (const other of ['not json', '[]', '{"at":"soon","changes":[]}', '{"at":1,"changes":[{"id":"x"}]}', 'null']) {
      expect(parseNotifyPayload(other)).toBeUndefined();
    }
  });

  it('send nothing for no changes', () => {
    expect(notifyPayloads([])).toEqual([]);
  });
});

describe('the local hub', () => {
  it('gives each stream the changes it accepts, in order, and ends on abort after those it holds', async () => {
    const hub = new LiveHub(2, { dropped: () => undefined });
    const controller = new AbortController();
    const stream = hub.stream((change): change is Change => change.entity === 'product', controller.signal);
    const [a, b] = [product(), product()];
    hub.deliver([a, { entity: 'category', id: randomUUID() }, b]);
    controller.abort();
    expect((await stream.next()).value).toEqual(a);
    expect((await stream.next()).value).toEqual(b);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(hub.size).toBe(0);
  });

  it('drops a stream that falls more than its bound behind: the changes it holds, then SUBSCRIPTION_TOO_SLOW', async () => {
    const dropped: string[] = [];
    const hub = new LiveHub(2, { dropped: (entity) => dropped.push(entity) });
    const stream = hub.stream((change): change is Change => change.entity === 'product', new AbortController().signal);
    const [a, b, c] = [product(), product(), product()];
    hub.deliver([a, b, c]);
    expect(dropped).toEqual(['product']);
    expect(hub.size).toBe(0);
    expect((await stream.next()).value).toEqual(a);
    expect((await stream.next()).value).toEqual(b);
    await expect(stream.next()).rejects.toMatchObject({ code: 'SUBSCRIPTION_TOO_SLOW' });
  });

  it('forgets a stream that is returned', async () => {
    const hub = new LiveHub(10, { dropped: () => undefined });
    const stream = hub.stream((_change): _change is Change => true, new AbortController().signal);
    expect(hub.size).toBe(1);
    await stream.return?.();
    expect(hub.size).toBe(0);
  });
});

describe('credentials of a live connection', () => {
  it('come from connectionParams.authorization in any case, never from other keys', () => {
    expect(credentialOf({ authorization: 'Bearer a' })).toBe('Bearer a');
    expect(credentialOf({ Authorization: 'Bearer b' })).toBe('Bearer b');
    expect(credentialOf({ refreshToken: 'r', cookie: 'refresh_token=r' })).toBeUndefined();
    expect(credentialOf(undefined)).toBeUndefined();
  });

  it('expire with the access token, and API keys have no expiry', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 2_000_000_000 })).toString('base64url');
    expect(credentialExpiry(`Bearer eyJhbGciOiJFZERTQSJ9.${payload}.c2ln`)).toBe(2_000_000_000_000);
    expect(credentialExpiry('Bearer mk_live_abcdef')).toBeUndefined();
    expect(credentialExpiry(undefined)).toBeUndefined();
  });
});
