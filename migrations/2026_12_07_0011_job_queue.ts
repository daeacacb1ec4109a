import { sql, type Kysely } from 'kysely';
// graphile-worker's own migration files (its package has no exports map; this is the text its runner applies).
import { migrations as workerMigrations } from 'graphile-worker/dist/generated/sql.js';

/**
 * The job queue's schema: graphile-worker's tables and functions in the
 * `graphile_worker` schema, installed by the project's migration command
 * (`npm run db:migrate`, `npm start`'s MIGRATE_ON_START, the test template,
 * the container's migrate step), so a fresh database needs nothing else.
 *
 * graphile-worker's own runner applies its migrations each on its own
 * transaction; here they run in the migrator's transaction instead, and are
 * recorded in `graphile_worker.migrations` exactly as the runner records
 * them, so the worker finds its schema current when it starts. A later
 * graphile-worker version with new migration files needs a project
 * migration calling `applyWorkerMigrations` again (it applies only the files
 * not yet recorded); the worker would apply them at start too.
 */
export async function applyWorkerMigrations(db: Kysely<any>): Promise<string[]> {
  await sql`CREATE SCHEMA IF NOT EXISTS graphile_worker`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS graphile_worker.migrations (id int PRIMARY KEY, ts timestamptz DEFAULT now() NOT NULL)`.execute(db);
  await sql`ALTER TABLE graphile_worker.migrations ADD COLUMN IF NOT EXISTS breaking boolean NOT NULL DEFAULT false`.execute(db);
  const done = await sql<{ id: number }>`SELECT id FROM graphile_worker.migrations`.execute(db);
  const applied = new Set(done.rows.map((row) => row.id));
  const files = Object.entries(workerMigrations as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1));
  const ran: string[] = [];
  for (const [file, text] of files) {
    const id = Number.parseInt(file.slice(0, 6), 10);
    if (applied.has(id)) continue;
    await sql`INSERT INTO graphile_worker.migrations (id, breaking) VALUES (${id}, ${text.startsWith('--! breaking')})`.execute(db);
    await sql.raw(text.replace(/:GRAPHILE_WORKER_SCHEMA\b/g, 'graphile_worker')).execute(db);
    ran.push(file);
  }
  return ran;
}

export async function up(db: Kysely<any>): Promise<void> {
  await applyWorkerMigrations(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP SCHEMA graphile_worker CASCADE`.execute(db);
}
