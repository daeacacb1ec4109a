// Container check: builds the images and runs the services of
// docker-compose.yml with plain `docker`/`podman` commands generated from the
// file (.ci/compose-stack.mjs), then expects:
//   - every API replica to answer /health/ready 200 and the catalog query with
//     products (asked from inside the replica: only the load balancer is
//     published), and to run as a non-root user;
//   - the load balancer to answer the catalog query on its 127.0.0.1 port;
//   - the replica to stream from the primary (in recovery; the primary lists it);
//   - the worker to run a job added to the queue (.ci/container-worker.mjs);
//   - the scale drill (.ci/drill.mjs) to pass: mixed load through the load
//     balancer, one replica SIGKILLed and restarted, nothing lost or doubled;
//   - every API replica and the worker to exit 0 on SIGTERM.
//
//   node .ci/container-check.mjs                          # Docker: official images
//   .ci/podman.sh node .ci/container-check.mjs            # podman: local images (CI)
//   ... node .ci/container-check.mjs --drill-seconds 120  # the full drill (npm run drill:scale)
//
// Settings (environment): CONTAINER_CLI (docker, else podman), CI_NODE_IMAGE
// (the Dockerfile's NODE_IMAGE build argument), CI_BASE_IMAGE (the Debian
// base of deploy/compose/*/Containerfile), CI_POSTGRES_IMAGE and
// CI_REDIS_IMAGE (images for the postgres and redis services instead of the
// file's pinned ones), CI_LABEL (label on everything created). .ci/podman.sh
// sets them for its local images.
import { parseArgs } from 'node:util';

import { createStack, readCompose, sleep } from './compose-stack.mjs';
import { checkWorker } from './container-worker.mjs';
import { runDrill } from './drill.mjs';

const CATALOG_QUERY = '{ products(first: 5) { totalCount nodes { id title } } }';
const READY_TIMEOUT_MS = 120_000;

const { values: options } = parseArgs({ options: { 'drill-seconds': { type: 'string', default: '30' } } });
const drillSeconds = Number(options['drill-seconds']);
if (!Number.isInteger(drillSeconds) || drillSeconds < 0) throw new Error('--drill-seconds must be a whole number of seconds (0: no drill)');

const files = ['docker-compose.yml'];

const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
// The drill reads which replica answered from the load balancer's x-upstream header.
const stack = createStack({ files, extraEnv: { lb: { LB_UPSTREAM_HEADER: '1' } } });
const { run } = stack;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stack.cleanup();
    process.exit(130);
  });
}

/** Asks until /health/ready answers 200 from inside the container. */
async function waitReadyInside(container) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      if (stack.fetchInside(container, 'http://127.0.0.1:4000/health/ready').status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${container}: /health/ready did not answer 200 within ${READY_TIMEOUT_MS} ms`);
    await sleep(1000);
  }
}

function expectCatalog(where, response) {
  const body = JSON.parse(response.body);
  if (response.status !== 200 || body.errors || !(body.data?.products?.nodes?.length > 0)) {
    throw new Error(`${where}: catalog query answered ${response.status}: ${response.body.slice(0, 500)}`);
  }
  return body.data.products.totalCount;
}

const graphqlInit = (query) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query }),
});

let failure;
try {
  stack.build();
  const built = seconds();
  const state = await stack.up();

  // The demo data, with the development override's one-shot command: the production file seeds nothing.
  const devOverride = readCompose(['docker-compose.dev.yml']);
  if (stack.runOnce('migrate', 'seed', devOverride.services.migrate.command) !== '0') throw new Error('the seed command failed');

  const results = [];
  for (const container of state.api.containers) {
    await waitReadyInside(container);
    const total = expectCatalog(container, stack.fetchInside(container, 'http://127.0.0.1:4000/graphql', graphqlInit(CATALOG_QUERY)));
    const uid = run(['exec', container, 'id', '-u']).out;
    if (uid === '0') throw new Error(`${container} runs as root`);
    results.push(`${total} products, uid ${uid}`);
  }

  // Through the load balancer, from this machine.
  const lbAddress = stack.published(state.lb.containers[0], 8080);
  const lb = `http://${lbAddress}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lbTotal;
  for (;;) {
    try {
      const response = await fetch(`${lb}/graphql`, graphqlInit(CATALOG_QUERY));
      lbTotal = expectCatalog('load balancer', { status: response.status, body: await response.text() });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(1000);
    }
  }

  // The replica streams from the primary.
  const primary = state.postgres.containers[0];
  const replica = state['postgres-replica'].containers[0];
  if (stack.psql(replica, 'select pg_is_in_recovery()') !== 't') throw new Error('postgres-replica is not in recovery (not a standby)');
  const streaming = stack.psql(primary, "select count(*) from pg_stat_replication where state = 'streaming'");
  if (streaming !== '1') throw new Error(`the primary lists ${streaming} streaming replicas, not 1`);

  const worker = await checkWorker({ run, worker: state.worker.containers[0], postgres: primary, login: stack.login });

  let drill = 'skipped (--drill-seconds 0)';
  if (drillSeconds > 0) {
    const report = await runDrill({ stack, state, lb, seconds: drillSeconds });
    drill = report.summary;
  }

  // SIGTERM reaches node as PID 1, which drains and exits 0.
  for (const container of state.api.containers) {
    run(['stop', container], { quiet: true });
    const exitCode = run(['inspect', '--format', '{{.State.ExitCode}}', container]).out;
    if (exitCode !== '0') throw new Error(`${container} exited with ${exitCode} on SIGTERM`);
  }

  console.log(
    `container check (${stack.cli}): images built in ${built}s; ${files.join(' + ')}; migrate exited 0; ` +
      `${state.api.containers.length} api replicas: ${results.join('; ')}; load balancer on ${lbAddress}: ${lbTotal} products; ` +
      `replica streaming; worker: ${worker}; drill: ${drill}; every replica's stop exits 0; ${seconds()}s in all`,
  );
} catch (error) {
  failure = error;
  stack.logs();
} finally {
  stack.cleanup();
}
if (failure) {
  console.error(`container check failed: ${failure.stack ?? failure.message}`);
  process.exit(1);
}
