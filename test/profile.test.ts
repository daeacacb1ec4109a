/**
 * `updateProfile`, over HTTP on real PostgreSQL: the signed-in person changes
 * their display name under the same rule `signUp` applies, bad values are
 * coded user errors (or BAD_USER_INPUT for control characters the edge
 * refuses) with nothing written, and only a signed-in person, never an API
 * key or an anonymous caller, may do it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAccount, createApiKey, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_EMAIL_IP: '1000', LOGIN_LIMIT_PER_IP: '100000' } });
});

afterAll(async () => {
  await server.close();
});

interface UserErrorOut {
  field: string[] | null;
  code: string;
  message: string;
}

interface ProfilePayload {
  user: { id: string; displayName: string } | null;
  userErrors: UserErrorOut[];
}

const UPDATE_PROFILE = 'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id displayName } userErrors { field code message } } }';

async function updateProfile(account: { headers: Record<string, string> } | null, input: Record<string, unknown>) {
  return server.graphql<{ updateProfile: ProfilePayload }>(UPDATE_PROFILE, { input }, { headers: account?.headers ?? {} });
}

async function storedName(account: Account): Promise<string> {
  const row = await server.db.selectFrom('users').select('display_name').where('id', '=', account.user.id).executeTakeFirstOrThrow();
  return row.display_name;
}

/** Display names the rule refuses, with the code each gets at `["input", "displayName"]`. */
const REFUSED: Array<{ what: string; displayName: string; code: string }> = [
  { what: 'empty', displayName: '', code: 'REQUIRED' },
  { what: 'only spaces', displayName: '    ', code: 'REQUIRED' },
  { what: '81 characters', displayName: 'x'.repeat(81), code: 'TOO_LONG' },
  { what: '81 code points of astral characters', displayName: '\u{1F600}'.repeat(81), code: 'TOO_LONG' },
  { what: 'a tag', displayName: 'Ada <b>Admin</b>', code: 'INVALID' },
  { what: 'a comment', displayName: 'Ada <!-- hi -->', code: 'INVALID' },
  { what: 'a line break', displayName: 'Two\nlines', code: 'INVALID' },
  { what: 'a tab', displayName: 'Tab\there', code: 'INVALID' },
];

/** Display names the rule accepts, and what is stored for each. */
const ACCEPTED: Array<{ what: string; displayName: string; stored: string }> = [
  { what: 'surrounding spaces (trimmed)', displayName: '  Grace Hopper  ', stored: 'Grace Hopper' },
  { what: 'a less-than sign that starts no tag', displayName: 'Prices < 10 EUR <3', stored: 'Prices < 10 EUR <3' },
  { what: '80 code points of astral characters', displayName: '\u{1F600}'.repeat(80), stored: '\u{1F600}'.repeat(80) },
  { what: '80 characters', displayName: 'y'.repeat(80), stored: 'y'.repeat(80) },
];

describe('updateProfile', () => {
  it('changes the display name of the signed-in user and shows it everywhere the user appears', async () => {
    const seller = await createAccount(server, { role: 'SELLER', displayName: 'Old Shop Name' });
    const product = await seeder(server.db).product({ seller: seller.user, status: 'ACTIVE' });
    const res = await updateProfile(seller, { displayName: '  Walnut & Oak  ' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      data: { updateProfile: { user: { id: gid('User', seller.user), displayName: 'Walnut & Oak' }, userErrors: [] } },
    });
    expect(res.body.errors).toBeUndefined();
    expect(await storedName(seller)).toBe('Walnut & Oak');

    const read = await server.graphql('query ($id: ID!) { viewer { displayName } product(id: $id) { seller { displayName } } }', { id: gid('Product', product) }, {
      headers: seller.headers,
    });
    expect(read.body.data).toEqual({ viewer: { displayName: 'Walnut & Oak' }, product: { seller: { displayName: 'Walnut & Oak' } } });
  });

  it('keeps the display name when the field is omitted or null, and answers with the user', async () => {
    const account = await createAccount(server, { displayName: 'Stays The Same' });
    for (const input of [{}, { displayName: null }]) {
      const res = await updateProfile(account, input);
      expect(res.body.data?.updateProfile).toEqual({ user: { id: gid('User', account.user), displayName: 'Stays The Same' }, userErrors: [] });
    }
    expect(await storedName(account)).toBe('Stays The Same');
  });

  it.each(REFUSED)('refuses a display name with $what as $code and writes nothing', async ({ displayName, code }) => {
    const account = await createAccount(server, { displayName: 'Unchanged Name' });
    const res = await updateProfile(account, { displayName });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateProfile).toEqual({
      user: null,
      userErrors: [{ field: ['input', 'displayName'], code, message: expect.any(String) }],
    });
    expect(await storedName(account)).toBe('Unchanged Name');
  });

  it('says what is wrong in the message, naming the rule', async () => {
    const account = await createAccount(server);
    const messages = [];
    for (const displayName of ['', 'x'.repeat(81), '<i>x</i>', 'a\nb']) {
      messages.push((await updateProfile(account, { displayName })).body.data?.updateProfile.userErrors[0]?.message);
    }
    expect(messages).toEqual([
      'Enter a display name.',
      'The display name must be at most 80 characters long.',
      'The display name contains markup (like "<b>"); use plain text.',
      'The display name contains control characters; use plain text.',
    ]);
  });

  it.each(ACCEPTED)('accepts a display name with $what', async ({ displayName, stored }) => {
    const account = await createAccount(server);
    const res = await updateProfile(account, { displayName });
    expect(res.body.data?.updateProfile).toEqual({ user: { id: gid('User', account.user), displayName: stored }, userErrors: [] });
    expect(await storedName(account)).toBe(stored);
  });

  it('refuses a NUL or another control character at the edge with BAD_USER_INPUT naming the argument, as a variable or a literal', async () => {
    const account = await createAccount(server, { displayName: 'Clean Name' });
    const asVariable = await updateProfile(account, { displayName: 'Nul\u0000Byte' });
    const asLiteral = await server.graphql('mutation { updateProfile(input: { displayName: "Esc\\u001bape" }) { user { id } userErrors { code } } }', undefined, {
      headers: account.headers,
    });
    for (const res of [asVariable, asLiteral]) {
      expect(res.body.data?.updateProfile ?? null).toBeNull();
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0]?.message).toContain('`input.displayName`');
    }
    expect(await storedName(account)).toBe('Clean Name');
  });

  it('refuses anonymous callers with UNAUTHENTICATED', async () => {
    const res = await updateProfile(null, { displayName: 'Nobody' });
    expect(res.body.data).toBeNull();
    expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses API keys, whatever their scopes, with FORBIDDEN and writes nothing', async () => {
    const owner = await createAccount(server, { role: 'SELLER', displayName: 'Key Owner' });
    const key = await createApiKey(server, owner, ['CATALOG_READ', 'CATALOG_WRITE', 'ORDERS_READ', 'ORDERS_WRITE', 'REVIEWS_WRITE']);
    const res = await updateProfile(key, { displayName: 'Renamed By Key' });
    expect(res.body.data).toBeNull();
    expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
    expect(await storedName(owner)).toBe('Key Owner');
  });

  it('changes only the caller: another user with the same old name keeps it', async () => {
    const [a, b] = await Promise.all([createAccount(server, { displayName: 'Twin Name' }), createAccount(server, { displayName: 'Twin Name' })]);
    await updateProfile(a, { displayName: 'Single Name' });
    expect([await storedName(a), await storedName(b)]).toEqual(['Single Name', 'Twin Name']);
  });
});

describe('signUp and updateProfile share one display-name rule', () => {
  const SIGN_UP = 'mutation ($input: SignUpInput!) { signUp(input: $input) { user { displayName } userErrors { field code } } }';
  let counter = 0;

  async function signUp(displayName: string) {
    counter += 1;
    const input = { email: `profile-rule-${counter}@example.test`, password: 'a long enough password', displayName, refreshTokenDelivery: 'PAYLOAD' };
    return (await server.graphql<{ signUp: { user: { displayName: string } | null; userErrors: Array<{ field: string[]; code: string }> } }>(SIGN_UP, { input })).body.data
      ?.signUp;
  }

  it.each(REFUSED)('signUp refuses a display name with $what as $code', async ({ displayName, code }) => {
    expect(await signUp(displayName)).toEqual({ user: null, userErrors: [{ field: ['input', 'displayName'], code }] });
  });

  it.each(ACCEPTED)('signUp accepts a display name with $what', async ({ displayName, stored }) => {
    expect(await signUp(displayName)).toEqual({ user: { displayName: stored }, userErrors: [] });
  });
});
