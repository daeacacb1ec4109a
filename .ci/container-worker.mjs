// The worker part of the container check (.ci/container-check.mjs): the
// compose file's `worker` service, started by the check like the others, must
// be running, run a job enqueued in the database, and exit 0 on SIGTERM.
//
// The job is added with graphile-worker's own SQL function, through psql in
// the postgres container, so nothing but the worker can run it (the API
// replicas run with WORKER=off): `idempotency.purgeKeys`, the hourly purge of
// expired idempotency records (src/idempotency/idempotency.tasks.ts), which is
// harmless at any time. graphile-worker deletes a job when its task succeeds
// and keeps it with `last_error` when it fails; with max_attempts 1 a failure
// is final at once instead of waiting for a retry's backoff.

const JOB_TIMEOUT_MS = 60_000;
const TASK = 'idempotency.purgeKeys';
const PAYLOAD = { batchSize: 100 };

/**
 * @param {object} options
 * @param {(args: string[], options?: { allowFailure?: boolean, quiet?: boolean }) => { status: number | null, out: string }} options.run the container CLI
 * @param {string} options.worker the worker's container
 * @param {string} options.postgres the postgres container
 * @param {{ user: string, database: string }} options.login psql's user and database (trusted on the container's Unix socket)
 * @returns {Promise<string>} the summary, e.g. "running, ran job 3 (idempotency.purgeKeys) in 1s, stop exits 0 in 1s"
 */
export async function checkWorker({ run, worker, postgres, login }) {
  const psql = (query) =>
    run(['exec', postgres, 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-U', login.user, '-d', login.database, '-c', query], { quiet: true }).out;

  expectRunning(run, worker, 'after the start and the seed');

  const started = Date.now();
  const payload = JSON.stringify(PAYLOAD).replaceAll("'", "''");
  const id = psql(`select (graphile_worker.add_job('${TASK}', '${payload}'::json, max_attempts := 1)).id`);
  if (!/^\d+$/.test(id)) throw new Error(`add_job returned ${JSON.stringify(id)}, not a job id`);
  const deadline = started + JOB_TIMEOUT_MS;
  for (;;) {
    const row = psql(`select json_build_object('attempts', attempts, 'max', max_attempts, 'error', last_error) from graphile_worker.jobs where id = ${id}`);
    if (row === '') break; // completed: graphile-worker deleted it
    const job = JSON.parse(row);
    if (job.error !== null && job.attempts >= job.max) throw new Error(`job ${id} (${TASK}) failed in the worker: ${job.error}`);
    if (Date.now() > deadline) throw new Error(`job ${id} (${TASK}) was not run within ${JOB_TIMEOUT_MS} ms (${row})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const ran = ((Date.now() - started) / 1000).toFixed(1);
  // The worker's own account of it: its JSON log line for this job.
  const done = run(['logs', worker], { quiet: true })
    .out.split('\n')
    .map(parseLine)
    .some((line) => line?.msg === 'job done' && String(line.jobId) === id && line.task === TASK);
  if (!done) throw new Error(`job ${id} left the queue, but ${worker} logged no "job done" for it`);
  expectRunning(run, worker, 'after the job');

  // SIGTERM: no new jobs, the running ones finish, connections close, exit 0 (before the stop timeout's SIGKILL).
  const stopping = Date.now();
  run(['stop', worker], { quiet: true });
  const stopped = ((Date.now() - stopping) / 1000).toFixed(1);
  const exitCode = run(['inspect', '--format', '{{.State.ExitCode}}', worker]).out;
  if (exitCode !== '0') throw new Error(`${worker} exited with ${exitCode} on SIGTERM`);
  return `running, ran job ${id} (${TASK}) in ${ran}s, stop exits 0 in ${stopped}s`;
}

/** Throws unless the container is running and was never restarted. */
function expectRunning(run, container, when) {
  const [status, restarts] = run(['inspect', '--format', '{{.State.Status}} {{.RestartCount}}', container]).out.split(' ');
  if (status !== 'running' || restarts !== '0') throw new Error(`${container}: status ${status}, ${restarts} restarts ${when} (expected running, 0)`);
}

function parseLine(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not a JSON log line
  }
}
