/**
 * Database commands: `npm run db:migrate | db:rollback | db:status | db:seed`.
 * They use DATABASE_URL, or the embedded PostgreSQL when it is not set;
 * migrations run on DATABASE_DIRECT_URL behind a transaction pooler.
 */
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { openDatabase, withSessionDatabase } from './bootstrap.js';
import { migrateToLatest, migrationRunOptions, migrationStatus, rollbackOne } from './migrator.js';
import { describeStartupError } from '../startup/startup-errors.js';
import { seedDemoData } from './seed.js';

const COMMANDS = ['migrate', 'rollback', 'status', 'seed'] as const;
type Command = (typeof COMMANDS)[number];

/** The database the command used (from DATABASE_URL or DATABASE_URL_FILE), for the error message; unset means the embedded one. */
let databaseUrl: string | undefined = process.env['DATABASE_URL'];

async function run(command: Command): Promise<void> {
  const config = loadConfig();
  databaseUrl = config.databaseUrl;
  const log = createLogger({ ...config, logFormat: config.logFormat });
  const database = await openDatabase(config, log);
  try {
    switch (command) {
      case 'migrate': {
        const { results, waiting } = await withSessionDatabase(config, database, (session) => migrateToLatest(session, migrationRunOptions(config)));
        const applied = results?.map((r) => r.migrationName) ?? [];
        if (applied.length > 0) console.log(`Applied: ${applied.join(', ')}`);
        if (waiting) console.log(`Waiting: ${waiting.migration} (and any after it): ${waiting.reason}`);
        else if (applied.length === 0) console.log('Already at the latest migration.');
        break;
      }
      case 'rollback': {
        const { results } = await withSessionDatabase(config, database, (session) => rollbackOne(session, migrationRunOptions(config)));
        const undone = results?.map((r) => r.migrationName) ?? [];
        console.log(undone.length > 0 ? `Rolled back: ${undone.join(', ')}` : 'Nothing to roll back.');
        break;
      }
      case 'status': {
        for (const m of await migrationStatus(database.db)) {
          console.log(`${m.executedAt ? `applied ${m.executedAt.toISOString()}` : 'pending                          '}  ${m.name}`);
        }
        break;
      }
      case 'seed': {
        await withSessionDatabase(config, database, (session) => migrateToLatest(session, migrationRunOptions(config)));
        const result = await seedDemoData(database.db, log);
        console.log(result.seeded ? `Seeded: ${JSON.stringify(result)}` : 'Database already has users; nothing seeded.');
        break;
      }
    }
  } finally {
    await database.close();
  }
}

const command = process.argv[2];
if (!COMMANDS.includes(command as Command)) {
  console.error(`Usage: npm run db:<${COMMANDS.join('|')}> (compiled: node dist/src/db/cli.js <${COMMANDS.join('|')}>)`);
  process.exit(2);
}
run(command as Command).catch((error: unknown) => {
  console.error(describeStartupError(error, { databaseUrl }));
  process.exit(1);
});
