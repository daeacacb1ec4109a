/** The accounts module: ways in (open to every caller), account operations (people only, never API keys), `viewer` and `deactivateUser`. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { createAccount, createApiKey, TEST_PASSWORD } from '../helpers/auth.js';
import { gid, missingId, seeder } from '../helpers/seed.js';
import { activeKeyCount, expect6, liveSessionCount, type MatrixRow, noUserErrors, server, unique, userRow } from './kit.js';

export const accountsRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.viewer': {
    document: '{ viewer { id } }',
    arrange: (caller) => ({
      succeeded: (viewer) => expect(viewer).toEqual({ id: caller.account ? gid('User', caller.account.user) : null }),
    }),
    expected: expect6('null',             'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  // Ways in: open to every caller, credentials or not.
  'Mutation.signUp': {
    document: 'mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken userErrors { field code } } }',
    arrange: () => ({
      variables: {
        input: { email: `matrix-${unique()}@example.test`, password: 'a long enough password', displayName: 'Matrix', refreshTokenDelivery: 'PAYLOAD' },
      },
      succeeded: (payload) => {
        noUserErrors(payload);
        expect(typeof payload['accessToken']).toBe('string');
      },
    }),
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Mutation.logIn': {
    document: 'mutation ($input: LogInInput!) { logIn(input: $input) { accessToken userErrors { field code } } }',
    arrange: async () => {
      const throwaway = await createAccount(server);
      return {
        variables: { input: { email: throwaway.email, password: throwaway.password, refreshTokenDelivery: 'PAYLOAD' } },
        succeeded: (payload) => {
          noUserErrors(payload);
          expect(typeof payload['accessToken']).toBe('string');
        },
      };
    },
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Mutation.refreshSession': {
    document: 'mutation ($input: RefreshSessionInput!) { refreshSession(input: $input) { accessToken refreshToken userErrors { field code } } }',
    arrange: async () => {
      const throwaway = await createAccount(server);
      return {
        variables: { input: { refreshToken: throwaway.refreshToken } },
        succeeded: (payload) => {
          noUserErrors(payload);
          expect(typeof payload['refreshToken']).toBe('string');
          expect(payload['refreshToken']).not.toBe(throwaway.refreshToken);
        },
      };
    },
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },
  'Mutation.logOut': {
    document: 'mutation ($input: LogOutInput!) { logOut(input: $input) { endedSessions userErrors { field code } } }',
    arrange: async () => {
      const throwaway = await createAccount(server);
      return {
        variables: { input: { refreshToken: throwaway.refreshToken } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ endedSessions: 1, userErrors: [] });
          expect(await liveSessionCount(throwaway.user.id)).toBe(0);
        },
      };
    },
    expected: expect6('ok',               'ok',         'ok',         'ok',  'ok',         'ok'),
  },

  // Account operations: people only, never API keys.
  'Mutation.logOutEverywhere': {
    document: 'mutation ($input: LogOutEverywhereInput!) { logOutEverywhere(input: $input) { endedSessions userErrors { field code } } }',
    freshCaller: true,
    arrange: (caller) => ({
      variables: { input: {} },
      succeeded: async (payload) => {
        expect(payload).toEqual({ endedSessions: 1, userErrors: [] });
        if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(0);
      },
      unchanged: async () => {
        if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(1);
      },
    }),
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.changePassword': {
    document: 'mutation ($input: ChangePasswordInput!) { changePassword(input: $input) { user { id } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      const before = caller.account ? (await userRow(caller.account.user.id)).password_hash : null;
      return {
        variables: { input: { currentPassword: TEST_PASSWORD, newPassword: 'an entirely new passphrase' } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          if (caller.account) expect((await userRow(caller.account.user.id)).password_hash).not.toBe(before);
        },
        unchanged: async () => {
          if (caller.account) expect((await userRow(caller.account.user.id)).password_hash).toBe(before);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.revokeSession': {
    document: 'mutation ($input: RevokeSessionInput!) { revokeSession(input: $input) { session { id } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      // The caller's own session (for a key: its owner's); anonymous callers have none, so a well-formed missing id.
      const own = caller.account
        ? await server.db.selectFrom('sessions').select('family_id').where('user_id', '=', caller.account.user.id).executeTakeFirstOrThrow()
        : null;
      const sessionId = own ? gid('Session', { id: own.family_id }) : missingId('Session');
      return {
        variables: { input: { sessionId } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ session: { id: sessionId }, userErrors: [] });
          if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(0);
        },
        unchanged: async () => {
          if (caller.account) expect(await liveSessionCount(caller.account.user.id)).toBe(1);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.createApiKey': {
    document: 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { plaintextKey userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      const before = caller.account ? await activeKeyCount(caller.account.user.id) : 0;
      return {
        variables: { input: { name: 'matrix', scopes: ['CATALOG_READ'] } },
        succeeded: async (payload) => {
          noUserErrors(payload);
          expect(payload['plaintextKey']).toMatch(/^mk_/);
          if (caller.account) expect(await activeKeyCount(caller.account.user.id)).toBe(before + 1);
        },
        unchanged: async () => {
          if (caller.account) expect(await activeKeyCount(caller.account.user.id)).toBe(before);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
  'Mutation.revokeApiKey': {
    document: 'mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      // A key revoking itself; a session revoking a key of its own; anonymous: a well-formed missing id.
      let apiKeyId = caller.apiKeyId;
      if (!apiKeyId && caller.account) apiKeyId = (await createApiKey(server, caller.account, ['CATALOG_READ'])).id;
      const target = apiKeyId ?? missingId('ApiKey');
      const owner = caller.account;
      return {
        variables: { input: { apiKeyId: target } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ apiKey: { id: target }, userErrors: [] });
          if (owner) expect(await activeKeyCount(owner.user.id)).toBe(0);
        },
        unchanged: async () => {
          if (owner) expect(await activeKeyCount(owner.user.id)).toBe(1);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },

  'Mutation.deactivateUser': {
    document: 'mutation ($input: DeactivateUserInput!) { deactivateUser(input: $input) { user { id } userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).user({ role: 'CUSTOMER' });
      return {
        variables: { input: { userId: gid('User', target) } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ user: { id: gid('User', target) }, userErrors: [] });
          expect((await userRow(target.id)).deleted_at).not.toBeNull();
        },
        unchanged: async () => {
          expect((await userRow(target.id)).deleted_at).toBeNull();
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
};
