/**
 * The login-limit policy through HTTP: only failures count, so an office of
 * 200 users behind one IP all log in (typos included), while an attacker is
 * stopped: guessing at one account by the (email, IP) rule, spraying many
 * accounts by the per-IP credential-stuffing rule. Client IPs come from
 * X-Forwarded-For (TRUST_PROXY=true), as behind a load balancer.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { hashPassword } from '../src/auth/passwords.js';
import { LOG_IN, TEST_PASSWORD } from './helpers/auth.js';
import { seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

jest.setTimeout(120_000);

const OFFICE_IP = '198.51.100.1';
const ATTACKER_IP = '203.0.113.9';
const PER_EMAIL_IP = 5;
const PER_IP = 30;
const OFFICE_SIZE = 200;

let server: TestServer;
const office: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    env: { TRUST_PROXY: 'true', LOGIN_LIMIT_PER_EMAIL_IP: String(PER_EMAIL_IP), LOGIN_LIMIT_PER_IP: String(PER_IP) },
  });
  const passwordHash = await hashPassword(TEST_PASSWORD);
  const seed = seeder(server.db);
  for (let i = 0; i < OFFICE_SIZE; i++) {
    const user = await seed.user({ email: `colleague${i}@office.example` });
    await server.db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', user.id).execute();
    office.push(user.email);
  }
});

afterAll(async () => {
  await server.close();
});

type Outcome = 'ok' | 'invalid' | 'limited';

async function logInFrom(ip: string, email: string, password: string): Promise<Outcome> {
  const result = await server.graphql<{ logIn: { accessToken: string | null; userErrors: Array<{ code: string }> } }>(
    LOG_IN,
    { input: { email, password, refreshTokenDelivery: 'PAYLOAD' } },
    { headers: { 'x-forwarded-for': ip } },
  );
  if (result.status === 429) {
    expect(result.body.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(Number(result.headers.get('retry-after'))).toBeGreaterThan(0);
    return 'limited';
  }
  expect(result.status).toBe(200);
  if (result.body.data?.logIn.accessToken) return 'ok';
  expect(result.body.data?.logIn.userErrors[0]?.code).toBe('INVALID_CREDENTIALS');
  return 'invalid';
}

/** Runs `work` over `items`, `concurrency` at a time (argon2 is the cost of each). */
async function inBatches<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += concurrency) results.push(...(await Promise.all(items.slice(i, i + concurrency).map(work))));
  return results;
}

describe('login limits', () => {
  it('lets 200 users behind one IP all log in correctly, a typo or two included', async () => {
    const outcomes = await inBatches(office, 6, (email) => logInFrom(OFFICE_IP, email, TEST_PASSWORD));
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
    // Some mistype first (fewer failures than the IP budget): they still get in, and so does everyone after them.
    const typists = office.slice(0, PER_IP - 5);
    const typos = await inBatches(typists, 6, (email) => logInFrom(OFFICE_IP, email, 'wrong password'));
    expect(new Set(typos)).toEqual(new Set(['invalid']));
    const afterTypos = await inBatches(office.slice(0, PER_IP + 10), 6, (email) => logInFrom(OFFICE_IP, email, TEST_PASSWORD));
    expect(afterTypos.filter((o) => o !== 'ok')).toEqual([]);
  });

  it("stops an attacker's guesses at one account, without locking its owner out elsewhere", async () => {
    const victim = office[100] ?? '';
    const guesses: Outcome[] = [];
    for (let i = 0; i < PER_EMAIL_IP + 3; i++) guesses.push(await logInFrom(ATTACKER_IP, victim, `guess-${i}`));
    expect(guesses).toEqual([...Array<Outcome>(PER_EMAIL_IP).fill('invalid'), 'limited', 'limited', 'limited']);
    // Even the right password is refused to the attacker's IP for this account...
    expect(await logInFrom(ATTACKER_IP, victim, TEST_PASSWORD)).toBe('limited');
    // ...while the owner, at the office, logs in.
    expect(await logInFrom(OFFICE_IP, victim, TEST_PASSWORD)).toBe('ok');
  });

  it('blocks an IP that sprays failures across accounts (credential stuffing), and only that IP', async () => {
    const sprayer = '203.0.113.77';
    const outcomes: Outcome[] = [];
    for (const email of office.slice(0, PER_IP + 5)) outcomes.push(await logInFrom(sprayer, email, 'Summer2024!'));
    expect(outcomes.slice(0, PER_IP)).toEqual(Array<Outcome>(PER_IP).fill('invalid'));
    expect(outcomes.slice(PER_IP)).toEqual(Array<Outcome>(5).fill('limited'));
    // Blocked for every account from there, right passwords included.
    expect(await logInFrom(sprayer, office[150] ?? '', TEST_PASSWORD)).toBe('limited');
    // The office, another IP, is untouched.
    const still = await inBatches(office.slice(0, 20), 6, (email) => logInFrom(OFFICE_IP, email, TEST_PASSWORD));
    expect(new Set(still)).toEqual(new Set(['ok']));
  });
});
