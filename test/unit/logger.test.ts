import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { REDACT_PATHS } from '../../src/observability/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream) };
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
  });
});
