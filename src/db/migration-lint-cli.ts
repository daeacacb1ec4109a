/**
 * `npm run lint:migrations`: captures every migration's SQL on a scratch
 * database and lints it with squawk (src/db/migration-lint.ts). The server is
 * a throwaway embedded PostgreSQL (as the test harness starts one when no
 * container runtime answers; no container is tried: the lint must take
 * seconds), or the one `-- --server-url postgres://...` names (any database
 * on it; a scratch database is created and dropped). The captured files stay
 * in .data/migration-sql/ to read.
 */
import path from 'node:path';

import { migrations } from '../../migrations/index.js';
import { createLogger } from '../observability/logger.js';
import { describeFinding, captureMigrationSql, lintCapturedMigrations } from './migration-lint.js';

const OUT_DIR = path.join('.data', 'migration-sql');

async function withServer<T>(work: (serverUrl: string) => Promise<T>): Promise<{ result: T; server: string }> {
  const flag = process.argv.indexOf('--server-url');
  const external = flag >= 0 ? process.argv[flag + 1] : undefined;
  if (external) return { result: await work(external), server: `server ${new URL(external).host}` };
  const { startThrowawayPostgres } = await import('./embedded.js');
  const server = await startThrowawayPostgres({ database: 'postgres', prefix: 'marketplace-miglint-pg-', log: createLogger({ logLevel: 'warn', logFormat: 'json' }) });
  try {
    return { result: await work(server.url), server: `embedded PostgreSQL (port ${server.port})` };
  } finally {
    await server.stop();
  }
}

const started = Date.now();
const { result: report, server } = await withServer(async (url) => lintCapturedMigrations(await captureMigrationSql(url, migrations), OUT_DIR));
const seconds = ((Date.now() - started) / 1000).toFixed(1);

for (const finding of report.failures) console.error(describeFinding(finding, OUT_DIR));
for (const exception of report.unusedExceptions) {
  console.error(`migrations/squawk-exceptions.ts: the exception for ${exception.migration} / ${exception.rule} matches nothing any more: remove it`);
}
const summary = `migration lint: ${report.files} migrations checked by squawk, ${report.skipped.length} excluded, ${report.excused.length} findings excused, ${report.failures.length} failing (${server}, ${seconds}s; SQL in ${OUT_DIR}/)`;
if (report.failures.length > 0 || report.unusedExceptions.length > 0) {
  console.error(summary);
  console.error('Make the migration safe (docs/operations/migrations.md), or add a reasoned exception to migrations/squawk-exceptions.ts.');
  process.exitCode = 1;
} else {
  console.log(summary);
}
