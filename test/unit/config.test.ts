import { describe, expect, it } from '@jest/globals';

import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('has development defaults that need no variables', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      databaseUrl: undefined,
      graphqlSandbox: true,
      graphqlIntrospection: true,
      seedDemoData: true,
      logFormat: 'pretty',
    });
  });

  it('turns development conveniences off in production', () => {
    expect(loadConfig({ NODE_ENV: 'production' })).toMatchObject({
      graphqlSandbox: false,
      graphqlIntrospection: false,
      seedDemoData: false,
      logFormat: 'json',
    });
  });

  it('names every bad variable at once and never echoes a database URL', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: '99999', NODE_ENV: 'staging', GRAPHQL_SANDBOX: 'maybe', DATABASE_URL: 'mysql://root:hunter2@db/x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'NODE_ENV', 'GRAPHQL_SANDBOX', 'DATABASE_URL']) expect(message).toContain(name);
    expect(message).not.toContain('hunter2');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('accepts a postgres URL and numeric limits', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', DATABASE_POOL_MAX: '25', PORT: '0' });
    expect(config).toMatchObject({ databaseUrl: 'postgres://u:p@db:5432/app', databasePoolMax: 25, port: 0 });
  });
});
