import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { baseLoggerOptions, REDACT_MAX_DEPTH, redactSecrets } from '../../src/observability/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: pino(baseLoggerOptions('info'), stream) };
}

describe('log redaction', () => {
  it('redacts credentials at any usual depth', () => {
    const { lines, log } = capture();
    log.info(
      {
        authorization: 'Bearer top-level',
        req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1' } },
        variables: { input: { password: 'hunter22', email: 'a@b.c' } },
        refreshToken: 'rt',
      },
      'request',
    );
    const line = lines.join('');
    for (const secret of ['top-level', 'Bearer abc', 'sid=1', 'hunter22', '"rt"']) expect(line).not.toContain(secret);
    expect(line).toContain('a@b.c');
    expect(line).toContain('"password":"[redacted]"');
  });

  it('redacts deeper than the old four levels, inside arrays too', () => {
    const { lines, log } = capture();
    log.info({ a: { b: { c: { d: { e: [{ apiKey: 'k-deep' }, { token: 't-deep', keep: 'visible' }] } } } } }, 'deep');
    const line = lines.join('');
    expect(line).not.toContain('k-deep');
    expect(line).not.toContain('t-deep');
    expect(line).toContain('visible');
  });

  it('never changes the object the caller logged', () => {
    const { log } = capture();
    const input = { headers: { authorization: 'Bearer keep-me' }, list: [{ password: 'p' }] };
    log.info(input, 'not mutated');
    expect(input.headers.authorization).toBe('Bearer keep-me');
    expect(input.list[0]?.password).toBe('p');
  });

  it('returns the very same object when there is nothing to censor', () => {
    const line = { requestId: 'r', status: 200, nested: { operationName: 'Catalog', tags: ['a', 'b'] } };
    expect(redactSecrets(line)).toBe(line);
  });

  it('redacts secrets carried by logged errors and by child bindings', () => {
    const { lines, log } = capture();
    const error = Object.assign(new Error('connect failed'), { databaseUrl: 'postgres://u:pw-in-url@db/x' });
    log.child({ secret: 'bound-secret', requestId: 'req-1' }).error({ err: error }, 'failed');
    const line = lines.join('');
    expect(line).not.toContain('pw-in-url');
    expect(line).not.toContain('bound-secret');
    expect(line).toContain('connect failed');
    expect(line).toContain('req-1');
  });

  it('redacts an error logged under any key, keeping its message for the error serializer', () => {
    const { lines, log } = capture();
    const failure = Object.assign(new Error('upstream refused'), { token: 'leaked-token' });
    log.warn({ cause: failure, err: failure }, 'two ways');
    const line = lines.join('');
    expect(line).not.toContain('leaked-token');
    expect(line).toContain('upstream refused');
    expect(failure.token).toBe('leaked-token');
  });

  it('cuts structures nested deeper than the bound instead of walking them', () => {
    let nested: Record<string, unknown> = { password: 'bottom' };
    for (let i = 0; i < REDACT_MAX_DEPTH + 5; i++) nested = { next: nested };
    const { lines, log } = capture();
    log.info({ nested }, 'deep');
    const line = lines.join('');
    expect(line).not.toContain('bottom');
    expect(line).toContain('[too deep]');
  });
});
