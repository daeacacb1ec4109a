/**
 * graphql-jit reaches Apollo Server through the `gateway` option, the only
 * executor seam Apollo Server 5 has (docs/architecture/decisions/
 * 2026-12-07-graphql-jit-seam.md). These tests fail if Apollo stops calling a
 * gateway's executor for a plain schema, stops running plugins and
 * validation around it, or stops handing it the parsed document.
 */
import { describe, expect, it } from '@jest/globals';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { buildSchema as buildSdlSchema } from 'graphql';

import { jitExecutor } from '../../src/graphql/executor.js';

function sampleSchema() {
  const schema = buildSdlSchema('type Query { greeting(name: String!): String! }');
  schema.getQueryType()!.getFields()['greeting']!.resolve = (_source, args: { name: string }) => `hello ${args.name}`;
  return schema;
}

async function serverWith(engines: string[], plugins: ApolloServerPlugin[] = []) {
  const server = new ApolloServer({ gateway: jitExecutor(sampleSchema(), { onRun: (engine) => engines.push(engine) }), plugins });
  await server.start();
  return server;
}

describe('the graphql-jit seam (Apollo Server `gateway`)', () => {
  it('runs every operation through the gateway executor, compiled by graphql-jit', async () => {
    const engines: string[] = [];
    const server = await serverWith(engines);
    try {
      for (const name of ['ada', 'grace']) {
        const response = await server.executeOperation({ query: 'query ($name: String!) { greeting(name: $name) }', variables: { name } });
        expect(response.body.kind === 'single' ? response.body.singleResult : undefined).toEqual({ data: { greeting: `hello ${name}` } });
      }
    } finally {
      await server.stop();
    }
    expect(engines).toEqual(['graphql-jit', 'graphql-jit']);
  });

  it('keeps Apollo\'s own steps around it: validation refuses before the executor, plugins see the execution', async () => {
    const engines: string[] = [];
    const seen: string[] = [];
    const server = await serverWith(engines, [
      { requestDidStart: async () => ({ executionDidStart: async () => void seen.push('executionDidStart'), willSendResponse: async () => void seen.push('willSendResponse') }) },
    ]);
    try {
      const invalid = await server.executeOperation({ query: '{ nothing }' });
      expect(invalid.body.kind === 'single' ? invalid.body.singleResult.errors?.[0]?.extensions?.['code'] : undefined).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(engines).toEqual([]);
      await server.executeOperation({ query: '{ greeting(name: "x") }' });
    } finally {
      await server.stop();
    }
    expect(engines).toEqual(['graphql-jit']);
    expect(seen).toEqual(['willSendResponse', 'executionDidStart', 'willSendResponse']);
  });
});
