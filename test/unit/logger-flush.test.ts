/**
 * The production logger writes asynchronously (buffered); every line logged
 * before the process ends must still reach stdout, whether the process
 * exits on purpose (shutdown calls process.exit) or crashes.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

const LOGGER = new URL('../../src/observability/logger.ts', import.meta.url).href;

/** Runs a script that logs `lines` lines with the production logger, then ends as `ending` says. */
function run(ending: string, lines = 2000) {
  const script = `
    import { createLogger } from ${JSON.stringify(LOGGER)};
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' });
    for (let i = 0; i < ${lines}; i += 1) logger.info({ i, padding: 'x'.repeat(200) }, 'line');
    ${ending}
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const logged = result.stdout.split('\n').filter((line) => line.includes('"msg":"line"'));
  return { status: result.status, logged, stderr: result.stderr };
}

describe('asynchronous logging', () => {
  it('flushes every line when the process calls process.exit right after logging', () => {
    const { status, logged } = run('process.exit(0);');
    expect(status).toBe(0);
    expect(logged).toHaveLength(2000);
    expect(JSON.parse(logged[1999] as string)).toMatchObject({ i: 1999 });
  });

  it('flushes every line when the process crashes with an uncaught exception', () => {
    const { status, logged, stderr } = run("setImmediate(() => { throw new Error('boom'); });");
    expect(status).not.toBe(0);
    expect(stderr).toContain('boom');
    expect(logged).toHaveLength(2000);
  });

  it('flushes every line when the event loop simply runs out', () => {
    const { status, logged } = run('');
    expect(status).toBe(0);
    expect(logged).toHaveLength(2000);
  });
});
