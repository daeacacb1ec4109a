/** The users module: the profile and roles. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect } from '@jest/globals';

import { gid, seeder } from '../helpers/seed.js';
import { expect6, type MatrixRow, server, unique, userRow } from './kit.js';

export const usersRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Mutation.updateProfile': {
    document: 'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id displayName } userErrors { field code } } }',
    freshCaller: true,
    arrange: async (caller) => {
      const displayName = `Matrix ${unique()}`;
      const stored = async () => (caller.account ? (await userRow(caller.account.user.id)).display_name : null);
      const before = await stored();
      return {
        variables: { input: { displayName } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ user: { id: caller.account ? gid('User', caller.account.user) : null, displayName }, userErrors: [] });
          expect(await stored()).toBe(displayName);
        },
        unchanged: async () => {
          expect(await stored()).toBe(before);
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'ok',         'ok',         'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },

  // Admin operations: admins in person only. A fresh target user per cell.
  'Mutation.setUserRole': {
    document: 'mutation ($input: SetUserRoleInput!) { setUserRole(input: $input) { user { id } userErrors { field code } } }',
    arrange: async () => {
      const target = await seeder(server.db).user({ role: 'CUSTOMER' });
      return {
        variables: { input: { userId: gid('User', target), role: 'SELLER' } },
        succeeded: async (payload) => {
          expect(payload).toEqual({ user: { id: gid('User', target) }, userErrors: [] });
          expect((await userRow(target.id)).role).toBe('SELLER');
        },
        unchanged: async () => {
          expect((await userRow(target.id)).role).toBe('CUSTOMER');
        },
      };
    },
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
};
