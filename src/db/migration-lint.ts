/**
 * The migration lint (`npm run lint:migrations`): every migration's SQL, as
 * it really runs, checked by squawk (npm `squawk-cli`).
 *
 * A migration is TypeScript that builds its SQL with Kysely, raw `sql`
 * templates and helpers, so its SQL is captured rather than compiled: the
 * migrations run in order on a scratch database, each the way the runner
 * runs it (in a transaction unless it exports `transaction = false`), with
 * Kysely's query log recording every statement. Each migration becomes one
 * file that starts with the runner's session settings (lock_timeout and
 * statement_timeout, src/db/migrator.ts) and wraps its statements in
 * BEGIN/COMMIT when they run in a transaction; squawk then runs once over all
 * files, and what it reports is matched against the reasoned exceptions in
 * migrations/squawk-exceptions.ts. An exception nothing matches any more is
 * reported too, so the list stays true.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Kysely, PostgresDialect, type Migration } from 'kysely';
import pg from 'pg';

import { SQUAWK_EXCEPTIONS, SQUAWK_EXCLUDED_RULES, type SquawkException } from '../../migrations/squawk-exceptions.js';
import { dropDatabase, ensureDatabase } from './admin.js';
import { withDatabaseName } from './connection.js';
import { DEFAULT_MIGRATION_RUN_OPTIONS, runsInTransaction } from './migrator.js';

export interface CapturedMigration {
  name: string;
  inTransaction: boolean;
  /** Each statement as run, parameters written in as literals. */
  statements: string[];
}

/** `$1` ... written as SQL literals (statements built without parameters are left alone: `$` may mean anything there). */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  if (parameters.length === 0) return text;
  return text.replace(/\$(\d+)\b/g, (whole, digits: string) => {
    const index = Number(digits) - 1;
    if (index < 0 || index >= parameters.length) return whole;
    const value = parameters[index];
    if (value === null || value === undefined) return 'NULL';
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
    const literal = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
    return `'${literal.replace(/'/g, "''")}'`;
  });
}

const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback|start transaction|savepoint|release savepoint)\b/i;

/**
 * Runs `set` (every migration, in name order) on a new scratch database of
 * the server at `serverUrl` and returns each one's statements; the database
 * is dropped afterwards.
 */
export async function captureMigrationSql(serverUrl: string, set: Record<string, Migration>): Promise<CapturedMigration[]> {
  const name = `mp_miglint_${process.pid}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(serverUrl, name);
  const captured: CapturedMigration[] = [];
  let current: CapturedMigration | undefined;
  const pool = new pg.Pool({ connectionString: withDatabaseName(serverUrl, name), max: 1, application_name: 'marketplace-migration-lint' });
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (current === undefined || TRANSACTION_CONTROL.test(event.query.sql)) return;
      current.statements.push(inlineParameters(event.query.sql, event.query.parameters));
    },
  });
  try {
    for (const migrationName of Object.keys(set).sort()) {
      const migration = set[migrationName]!;
      current = { name: migrationName, inTransaction: runsInTransaction(migration), statements: [] };
      captured.push(current);
      if (current.inTransaction) await db.transaction().execute((trx) => migration.up(trx));
      else await migration.up(db);
    }
  } finally {
    current = undefined;
    await db.destroy();
    await dropDatabase(serverUrl, name);
  }
  return captured;
}

export interface SqlFile {
  migration: string;
  text: string;
  /** Per statement: its text and its first and last line in the file (0-based, as squawk's JSON counts). */
  statements: { text: string; firstLine: number; lastLine: number }[];
}

/** The file squawk reads for one migration. */
export function migrationSqlFile(captured: CapturedMigration): SqlFile {
  const lines = [
    `-- ${captured.name}: captured by \`npm run lint:migrations\` (src/db/migration-lint.ts); not run from here.`,
    '-- The session settings every migration runs with (src/db/migrator.ts, MIGRATION_*_TIMEOUT_MS defaults):',
    `SET lock_timeout = '${DEFAULT_MIGRATION_RUN_OPTIONS.lockTimeoutMs}ms';`,
    `SET statement_timeout = '${DEFAULT_MIGRATION_RUN_OPTIONS.statementTimeoutMs}ms';`,
  ];
  if (captured.inTransaction) lines.push('BEGIN;');
  const statements: SqlFile['statements'] = [];
  for (const statement of captured.statements) {
    const body = statement.trim().replace(/;\s*$/, '');
    const firstLine = lines.length;
    lines.push(...`${body};`.split('\n'));
    statements.push({ text: body, firstLine, lastLine: lines.length - 1 });
  }
  if (captured.inTransaction) lines.push('COMMIT;');
  return { migration: captured.name, text: `${lines.join('\n')}\n`, statements };
}

export interface SquawkViolation {
  file: string;
  line: number;
  column: number;
  level: string;
  message: string;
  help: string | null;
  rule_name: string;
}

function squawkBinary(): string {
  const require = createRequire(import.meta.url);
  // squawk-cli resolves the binary of this platform's optional dependency (@squawk-cli/<os>-<cpu>).
  const { getBinaryPath } = require('squawk-cli/js/index.js') as { getBinaryPath: () => string };
  return getBinaryPath();
}

/** Runs squawk once over `files`; its findings (an empty list when it found none). */
export async function runSquawk(files: string[], excludedRules: readonly string[]): Promise<SquawkViolation[]> {
  if (files.length === 0) return [];
  const args = ['--reporter', 'json', '--pg-version', '17.0', ...(excludedRules.length > 0 ? ['--exclude', excludedRules.join(',')] : []), ...files];
  const child = spawn(squawkBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const output = stdout.trim();
  // Exit 1 with a report means findings; anything else without one is squawk failing.
  if (output.startsWith('[')) return JSON.parse(output) as SquawkViolation[];
  if (code === 0) return [];
  throw new Error(`squawk exited with ${code}: ${(stderr || stdout).trim()}`);
}

export interface Finding {
  migration: string;
  rule: string;
  message: string;
  help: string | null;
  /** The statement it is about, and its line in the captured file (1-based). */
  statement: string;
  line: number;
}

export interface LintReport {
  /** Findings no exception covers: the lint fails. */
  failures: Finding[];
  /** Findings an exception covers. */
  excused: { finding: Finding; exception: SquawkException }[];
  /** Exceptions that matched nothing: the lint fails too (the migration or rule changed). */
  unusedExceptions: SquawkException[];
  /** Migrations not given to squawk at all (an exception for every rule). */
  skipped: string[];
  files: number;
}

function covers(exception: SquawkException, finding: Finding): boolean {
  return exception.migration === finding.migration && exception.rule === finding.rule && (exception.statement === undefined || exception.statement.test(finding.statement));
}

/**
 * Writes one file per captured migration into `dir`, runs squawk over them
 * and sorts its findings by the exceptions.
 */
export async function lintCapturedMigrations(
  captured: CapturedMigration[],
  dir: string,
  exceptions: readonly SquawkException[] = SQUAWK_EXCEPTIONS,
): Promise<LintReport> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const wholesale = new Set(exceptions.filter((e) => e.rule === '*').map((e) => e.migration));
  const byPath = new Map<string, SqlFile>();
  for (const migration of captured) {
    const file = migrationSqlFile(migration);
    const filePath = path.join(dir, `${migration.name}.sql`);
    await writeFile(filePath, file.text);
    if (!wholesale.has(migration.name)) byPath.set(filePath, file);
  }
  const violations = await runSquawk([...byPath.keys()], SQUAWK_EXCLUDED_RULES.map((r) => r.rule));

  const used = new Set<SquawkException>(exceptions.filter((e) => e.rule === '*' && captured.some((m) => m.name === e.migration)));
  const report: LintReport = { failures: [], excused: [], unusedExceptions: [], skipped: [...wholesale].filter((name) => captured.some((m) => m.name === name)), files: byPath.size };
  for (const violation of violations) {
    const file = byPath.get(violation.file) ?? byPath.get(path.resolve(violation.file));
    const statement = file?.statements.find((s) => violation.line >= s.firstLine && violation.line <= s.lastLine);
    const finding: Finding = {
      migration: file?.migration ?? violation.file,
      rule: violation.rule_name,
      message: violation.message,
      help: violation.help,
      statement: statement?.text ?? '(the session settings or transaction control)',
      line: violation.line + 1,
    };
    const exception = exceptions.find((e) => covers(e, finding));
    if (exception) {
      used.add(exception);
      report.excused.push({ finding, exception });
    } else {
      report.failures.push(finding);
    }
  }
  report.unusedExceptions = exceptions.filter((e) => !used.has(e));
  return report;
}

/** One finding for the terminal: where, which rule, why, and the statement (shortened). */
export function describeFinding(finding: Finding, dir: string): string {
  const statement = finding.statement.replace(/\s+/g, ' ');
  const shown = statement.length > 160 ? `${statement.slice(0, 159)}…` : statement;
  const help = finding.help ? `\n    help: ${finding.help}` : '';
  return `${path.join(dir, `${finding.migration}.sql`)}:${finding.line}: ${finding.rule}: ${finding.message}\n    ${shown}${help}`;
}
