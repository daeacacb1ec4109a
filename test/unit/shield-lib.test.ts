import { describe, expect, it } from '@jest/globals';
import { graphql } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';

import { allow, and, applyMiddleware, deny, not, or, rule, shield } from '../../src/authz/shield-lib.js';

interface Ctx {
  signedIn: boolean;
}

const signedIn = rule({ cache: 'no_cache' })((_parent, _args, ctx: Ctx) => ctx.signedIn);

function buildSchema() {
  const schema = makeExecutableSchema({
    typeDefs: /* GraphQL */ `
      type Query {
        open: String
        closed: String
        member: String
        both: String
        either: String
        stranger: String
      }
    `,
    resolvers: {
      Query: {
        open: () => 'open',
        closed: () => 'closed',
        member: () => 'member',
        both: () => 'both',
        either: () => 'either',
        stranger: () => 'stranger',
      },
    },
  });
  const permissions = shield(
    {
      Query: {
        open: allow,
        closed: deny,
        member: signedIn,
        both: and(allow, signedIn),
        either: or(deny, signedIn),
        stranger: not(signedIn),
      },
    },
    { fallbackRule: deny },
  );
  return applyMiddleware(schema, permissions);
}

async function run(ctx: Ctx) {
  const result = await graphql({
    schema: buildSchema(),
    source: '{ open closed member both either stranger }',
    contextValue: ctx,
  });
  const denied = (result.errors ?? []).map((error) => error.path?.join('.')).sort();
  return { data: result.data, denied };
}

// On Node 23 and later graphql-shield's ES module build cannot even be linked
// (it imports util.isUndefined); CI runs this file on Node 20 and Node 24.
describe('graphql-shield as loaded by src/authz/shield-lib.ts', () => {
  it('loads on this Node version and enforces allow, deny, rule, and, or and not for a signed-in caller', async () => {
    const { data, denied } = await run({ signedIn: true });
    expect(data).toEqual({ open: 'open', closed: null, member: 'member', both: 'both', either: 'either', stranger: null });
    expect(denied).toEqual(['closed', 'stranger']);
  });

  it('denies the rule-guarded fields to an anonymous caller and lets the negated rule through', async () => {
    const { data, denied } = await run({ signedIn: false });
    expect(data).toEqual({ open: 'open', closed: null, member: null, both: null, either: null, stranger: 'stranger' });
    expect(denied).toEqual(['both', 'closed', 'either', 'member']);
  });
});
