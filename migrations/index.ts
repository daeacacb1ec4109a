import type { Migration } from 'kysely';

import * as m0001 from './2026_11_24_0001_users.js';
import * as m0002 from './2026_11_24_0002_categories.js';
import * as m0003 from './2026_11_24_0003_products.js';
import * as m0004 from './2026_11_24_0004_orders.js';
import * as m0005 from './2026_11_24_0005_reviews.js';
import * as m0006 from './2026_11_24_0006_auth.js';
import * as m0007 from './2026_11_25_0007_idempotency.js';
import * as m0008 from './2026_12_02_0008_review_writes.js';
import * as m0009 from './2026_12_07_0009_idempotency_credential.js';

/**
 * Every migration, by name. Listed statically (not discovered by readdir)
 * so the same code runs under tsx, compiled JS and jest's ESM loader; a test
 * fails when a file in this folder is missing here.
 */
export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_users': m0001,
  '2026_11_24_0002_categories': m0002,
  '2026_11_24_0003_products': m0003,
  '2026_11_24_0004_orders': m0004,
  '2026_11_24_0005_reviews': m0005,
  '2026_11_24_0006_auth': m0006,
  '2026_11_25_0007_idempotency': m0007,
  '2026_12_02_0008_review_writes': m0008,
  '2026_12_07_0009_idempotency_credential': m0009,
};
