/**
 * Endpoint secrets survive a JWT signing-key rotation: they are sealed under
 * keys derived from the signing keys, and the hourly `webhooks.resealSecrets`
 * task moves them onto the newest key while the retired one is still in the
 * set. After the retired key leaves the set, deliveries still sign with the
 * secret the owner was shown. A secret whose key is already gone is counted
 * and left alone; a second run finds nothing to do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { generateSigningJwks } from '../src/auth/signing-keys.js';
import { createAuthRuntime, type AuthRuntime } from '../src/auth/runtime.js';
import { loadConfig } from '../src/config/config.js';
import { unitOfWork } from '../src/db/unit-of-work.js';
import { createLoaders } from '../src/modules/registry.js';
import { resealSecrets } from '../src/modules/webhooks/reseal.service.js';
import { createAccount, type Account } from './helpers/auth.js';
import { jobScope } from './helpers/scope.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startReceiver, verified, type Receiver } from './helpers/webhook-receiver.js';
import { drive, register, sendTest } from './helpers/webhooks.js';

type Jwks = { keys: Record<string, unknown>[] };

let server: TestServer;
let seller: Account;
let receiver: Receiver;
let oldKeys: Jwks;
let newKeys: Jwks;
const runtimes: AuthRuntime[] = [];

async function runtimeWith(keys: Jwks): Promise<AuthRuntime> {
  const runtime = await createAuthRuntime(
    loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://unused@127.0.0.1/unused', JWT_SIGNING_KEYS: JSON.stringify(keys) }),
  );
  runtimes.push(runtime);
  return runtime;
}

async function reseal(auth: AuthRuntime) {
  const scope = jobScope({ db: server.db, auth, createLoaders, transitions: server.app.scopeDeps.transitions, webhooks: server.config.webhooks });
  return unitOfWork(scope, (unit) => resealSecrets(unit, { batchSize: 100 }));
}

async function sealedOf(rawId: string): Promise<string> {
  return (await server.db.selectFrom('webhook_endpoints').select('secret_sealed').where('id', '=', rawId).executeTakeFirstOrThrow()).secret_sealed;
}

beforeAll(async () => {
  oldKeys = JSON.parse(await generateSigningJwks()) as Jwks;
  newKeys = JSON.parse(await generateSigningJwks()) as Jwks;
  server = await startTestServer({
    env: { JWT_SIGNING_KEYS: JSON.stringify(oldKeys), LOGIN_LIMIT_PER_IP: '100000', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_RETRY_BASE_MS: '20' },
  });
  seller = await createAccount(server, { role: 'SELLER' });
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver.close();
  for (const runtime of runtimes) await runtime.close();
  await server.close();
});

describe('after a signing-key rotation', () => {
  it('moves each secret to the newest key, so deliveries still sign with the secret shown once after the old key is gone', async () => {
    const endpoint = await register(server, seller, receiver.url);
    const oldKid = String(oldKeys.keys[0]?.['kid']);
    const newKid = String(newKeys.keys[0]?.['kid']);
    expect(await sealedOf(endpoint.rawId)).toMatch(new RegExp(`^v1\\.${oldKid}\\.`));

    // The rotation: the new key signs, the old one is kept for a while.
    const rotated = await runtimeWith({ keys: [...oldKeys.keys, ...newKeys.keys] });
    expect(await reseal(rotated)).toMatchObject({ resealed: 1, unreadable: 0 });
    expect(await sealedOf(endpoint.rawId)).toMatch(new RegExp(`^v1\\.${newKid}\\.`));
    // Idempotent: nothing left to move.
    expect(await reseal(rotated)).toMatchObject({ resealed: 0, unreadable: 0 });

    // The old key leaves the set: the delivery still signs with the secret its owner was shown.
    const onlyNew = await runtimeWith(newKeys);
    const delivery = await drive(server, onlyNew, await sendTest(server, seller, endpoint.id));
    expect(delivery.status).toBe('DELIVERED');
    const [message] = await receiver.waitFor(1);
    if (!message) throw new Error('no message');
    expect(() => verified(endpoint.secret, message)).not.toThrow();
  });

  it('counts and leaves a secret whose sealing key left the set before it was moved', async () => {
    const endpoint = await register(server, seller, receiver.url);
    const before = await sealedOf(endpoint.rawId);
    // A set that has never held the key this secret is sealed under.
    const stranger = await runtimeWith(JSON.parse(await generateSigningJwks()) as Jwks);
    const result = await reseal(stranger);
    expect(result.unreadable).toBeGreaterThanOrEqual(1);
    expect(await sealedOf(endpoint.rawId)).toBe(before);
  });
});
