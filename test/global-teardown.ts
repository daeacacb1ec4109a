/**
 * Jest global teardown: drops the template database (and any per-file
 * database a crashed test file left behind), then stops the container or
 * embedded server that test/global-setup.ts started. A server given through
 * TEST_DATABASE_URL is left running.
 */
import type {} from './global-setup.js';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__marketplaceTestDatabaseServer;
  if (!state) return;
  globalThis.__marketplaceTestDatabaseServer = undefined;
  await state.teardown();
}
