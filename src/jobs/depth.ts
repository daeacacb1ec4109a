import type { Kysely } from 'kysely';

import type { Database } from '../db/database.js';
import { observeQueueDepth } from '../observability/job-metrics.js';
import { countJobsByState } from './jobs.repository.js';

/** Reports the queue's depth (jobs_queue_depth) from `db` at each scrape, until the returned function is called. */
export function watchQueueDepth(db: Kysely<Database>): () => void {
  return observeQueueDepth(() => countJobsByState(db));
}
