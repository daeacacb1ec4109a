// Jest global setup for the previous release's tests in the N-1 job, given to
// its jest with --globalSetup in place of its own test/global-setup.ts.
//
// The old setup would migrate a template with the old migrator, which knows
// none of the new migrations (and Kysely refuses to run beside applied
// migrations it does not know). Here the template already exists, migrated
// by the new head's migrator (.ci/n1/run.ts), and the old code never runs a
// migration: as in a rolling deploy, where the old replicas start with
// MIGRATE_ON_START=false. The old test helpers clone the template per test
// file through TEST_PG_URL and TEST_PG_TEMPLATE, which the workers inherit
// from this process's environment.
export default async function n1GlobalSetup() {
  const missing = ['TEST_PG_URL', 'TEST_PG_TEMPLATE'].filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(`N-1: ${missing.join(' and ')} not set; run the job through .ci/n1/run.ts, which migrates the template with the new code`);
  }
  const server = new URL(process.env.TEST_PG_URL);
  process.stderr.write(`\n[test db] n1 (server ${server.host}); template ${process.env.TEST_PG_TEMPLATE} migrated by the new head\n`);
}
