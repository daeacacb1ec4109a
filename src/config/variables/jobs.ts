/** The job worker (src/jobs/, docs/operations/worker.md): where it runs and how it connects. */
import { integer, oneOf, postgresUrl } from '../coerce.js';
import { WORKER_MODES } from '../types.js';
import { optional, setting } from '../variable.js';

export const JOB_VARIABLES = {
  WORKER: setting({
    section: 'Job worker',
    schema: oneOf(WORKER_MODES),
    default: 'on',
    about:
      '`on`: this process runs the job queue (jobs and crontab) beside the API, so one `npm start` does everything. `off`: it only enqueues; run `npm run worker` (or `npm run start:worker` for the build) as its own process.',
  }),
  WORKER_DATABASE_URL: optional({
    section: 'Job worker',
    schema: postgresUrl(),
    fromFile: true,
    example: 'postgres://marketplace:marketplace@db:5432/marketplace',
    about:
      'A direct connection to the same database for the worker, when `DATABASE_URL` goes through a transaction pooler (PgBouncer): the worker listens for new jobs (LISTEN) and holds its lease (a session advisory lock), which a transaction pooler does not keep. Unset: `DATABASE_DIRECT_URL`, else `DATABASE_URL` (or the embedded PostgreSQL).',
  }),
  WORKER_CONCURRENCY: setting({
    section: 'Job worker',
    schema: integer(1, 100),
    default: 4,
    about: 'Jobs one worker runs at once. The worker opens up to this many connections plus two of its own, besides its scopes\' pool.',
  }),
  WORKER_POLL_INTERVAL_MS: setting({
    section: 'Job worker',
    schema: integer(100, 60_000),
    default: 2_000,
    about: 'How often the worker looks for jobs that became due (scheduled and retried ones); new jobs wake it at once through LISTEN/NOTIFY.',
  }),
  WORKER_SHUTDOWN_TIMEOUT_MS: setting({
    section: 'Job worker',
    schema: integer(0, 600_000),
    default: 10_000,
    about:
      'On SIGINT/SIGTERM the worker takes no new job and waits this long, in ms, for running jobs to finish; the ones still running are then released (failed with a retry) and run again later, by this worker or another.',
  }),
  WORKER_RECOVERY_INTERVAL_MS: setting({
    section: 'Job worker',
    schema: integer(1_000, 600_000),
    default: 15_000,
    about:
      'How often each worker looks for jobs still locked by a worker process that died (SIGKILL, a crash) and releases them to run again; a worker also looks once when it starts. A worker is dead when its lease (a session advisory lock) is gone; jobs locked in the last 10 s are left alone.',
  }),
} as const;
