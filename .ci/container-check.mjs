// Container check: builds the image from the Dockerfile and runs the services
// of docker-compose.yml with plain `docker`/`podman` commands generated from
// the file (network, named volume, file secrets, environment, command,
// depends_on conditions, replicas, loopback ports), then expects every API
// replica to answer /health/ready 200 and the catalog query with products,
// to run as a non-root user, and to stop cleanly on SIGTERM; and the worker
// service to be running, to run a job added to the queue, and to stop
// cleanly too (.ci/container-worker.mjs).
//
//   node .ci/container-check.mjs                 # Docker: official images
//   .ci/podman.sh node .ci/container-check.mjs   # podman: local images (CI)
//
// Why not `docker compose` / podman-compose: CI has podman 4.3 without
// systemd, where health checks never run, so `condition: service_healthy`
// would never be met; the command runs them itself. Deviations from compose,
// on purpose: each replica's port is a free port of 127.0.0.1 (the file's
// fixed 4000-4001 may be taken on a shared machine), restart policies are
// not applied, and the secrets are throw-away files made for the run.
//
// Settings (environment): CONTAINER_CLI (docker, else podman), CI_NODE_IMAGE
// (the Dockerfile's NODE_IMAGE build argument), CI_POSTGRES_IMAGE and
// CI_REDIS_IMAGE (images for the postgres and redis services instead of the
// file's pinned ones), CI_LABEL (label on everything created). .ci/podman.sh
// sets them for its local images.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { parse } from 'yaml';

import { checkWorker } from './container-worker.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const READY_TIMEOUT_MS = 90_000;
const CATALOG_QUERY = '{ products(first: 5) { totalCount nodes { id title } } }';

function hasCli(name) {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
}
const cli = process.env.CONTAINER_CLI ?? (hasCli('docker') ? 'docker' : 'podman');
const label = process.env.CI_LABEL ?? 'marketplace-api.ci';
const project = `marketplace-check-${process.pid}`;
const apiImage = `localhost/marketplace-api:ci-check`;
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(0);

/** Runs the container CLI; returns its trimmed stdout, throws with its stderr. */
function run(args, { allowFailure = false, quiet = false } = {}) {
  const result = spawnSync(cli, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0 && !allowFailure) {
    throw new Error(`${cli} ${args.join(' ')} exited with ${result.status ?? result.signal}${quiet ? `: ${result.stderr}` : ''}`);
  }
  return { status: result.status, out: (result.stdout ?? '').trim() };
}

const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
const devOverride = parse(readFileSync(path.join(root, 'docker-compose.dev.yml'), 'utf8'));
const services = compose.services;

// Images: the Dockerfile for services with `build`, else the pinned image or the local stand-in.
const imageFor = {
  postgres: process.env.CI_POSTGRES_IMAGE,
  redis: process.env.CI_REDIS_IMAGE,
};
function image(name) {
  const service = services[name];
  if (service.build !== undefined) return apiImage;
  return imageFor[name] ?? service.image;
}

/** Compose's `$$` is a literal `$`; any other interpolation is not supported here. */
function literal(value, where) {
  const text = String(value);
  if (/\$(?!\$)/.test(text.replaceAll('$$', ''))) throw new Error(`${where}: variable interpolation is not supported by this check`);
  return text.replaceAll('$$', '$');
}

// Throw-away secrets, in the files the compose file names.
const secretsDir = mkdtempSync(path.join(tmpdir(), 'marketplace-check-secrets-'));
chmodSync(secretsDir, 0o755);
const pg = services.postgres.environment;
const password = randomBytes(18).toString('hex');
const secretContent = {
  './.secrets/postgres-password': password,
  './.secrets/database-url': `postgres://${pg.POSTGRES_USER}:${password}@postgres:5432/${pg.POSTGRES_DB}`,
  './.secrets/jwt-signing-keys.json': execFileSync('npm', ['run', '-s', 'keys:generate'], { cwd: root, encoding: 'utf8' }).trim(),
};
const secretFile = {};
for (const [name, { file }] of Object.entries(compose.secrets)) {
  if (!(file in secretContent)) throw new Error(`secret ${name}: no content for ${file}`);
  secretFile[name] = path.join(secretsDir, path.basename(file));
  // Readable by the services' unprivileged users; the directory is removed at the end.
  writeFileSync(secretFile[name], secretContent[file], { mode: 0o644 });
}

const network = `${project}_default`;
const volumes = Object.keys(compose.volumes ?? {}).map((name) => `${project}_${name}`);
const containers = [];

/** `run -d` arguments for one container of a service, per the compose file. */
function runArgs(name, container, { publish = true, command = services[name].command ?? [] } = {}) {
  const service = services[name];
  const args = ['run', '-d', '--name', container, '--label', label, '--network', network, '--network-alias', name];
  for (const [key, value] of Object.entries(service.environment ?? {})) args.push('-e', `${key}=${literal(value, `${name}.environment.${key}`)}`);
  for (const secret of service.secrets ?? []) args.push('-v', `${secretFile[secret]}:/run/secrets/${secret}:ro`);
  for (const volume of service.volumes ?? []) {
    const [source, target] = volume.split(':');
    if (!(source in (compose.volumes ?? {}))) throw new Error(`${name}: only named volumes are supported (${volume})`);
    args.push('-v', `${project}_${source}:${target}`);
  }
  if (publish) {
    for (const port of service.ports ?? []) {
      const match = /^(127\.0\.0\.1):[\d-]+:(\d+)$/.exec(port);
      if (!match) throw new Error(`${name}: port ${port} is not bound to 127.0.0.1`);
      args.push('-p', `${match[1]}::${match[2]}`);
    }
  }
  // The worker's: the image's HEALTHCHECK asks the API's /health/ready.
  if (service.healthcheck?.disable === true) args.push('--no-healthcheck');
  if (service.stop_grace_period) args.push('--stop-timeout', String(parseInt(service.stop_grace_period, 10)));
  args.push(image(name), ...command.map((part) => literal(part, `${name}.command`)));
  return args;
}

async function sleep(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the service's health check test in its container until it passes (the runtime may never run it). */
async function waitHealthy(name, container) {
  const check = services[name].healthcheck;
  const test = check.test[0] === 'CMD-SHELL' ? ['sh', '-c', literal(check.test[1], `${name}.healthcheck`)] : check.test.slice(1);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (run(['exec', container, ...test], { allowFailure: true, quiet: true }).status === 0) return;
    if (Date.now() > deadline) throw new Error(`${name} did not become healthy within ${READY_TIMEOUT_MS} ms`);
    await sleep(1000);
  }
}

/** Starts the services in depends_on order, honouring each condition. */
async function up() {
  const state = {};
  const pending = new Set(Object.keys(services));
  while (pending.size > 0) {
    const ready = [...pending].filter((name) => Object.keys(services[name].depends_on ?? {}).every((dep) => dep in state));
    if (ready.length === 0) throw new Error(`depends_on cycle among ${[...pending].join(', ')}`);
    for (const name of ready) {
      for (const [dep, { condition }] of Object.entries(services[name].depends_on ?? {})) {
        if (state[dep].satisfied.has(condition)) continue;
        if (condition === 'service_healthy') await waitHealthy(dep, state[dep].containers[0]);
        else if (condition === 'service_completed_successfully') {
          const code = run(['wait', state[dep].containers[0]]).out;
          if (code !== '0') {
            throw new Error(`${dep} exited with ${code}`);
          }
        } else if (condition !== 'service_started') throw new Error(`${name}: unknown depends_on condition ${condition}`);
        state[dep].satisfied.add(condition);
      }
      const replicas = services[name].deploy?.replicas ?? 1;
      const names = Array.from({ length: replicas }, (_, i) => `${project}-${name}-${i + 1}`);
      for (const container of names) {
        containers.push(container);
        run(runArgs(name, container), { quiet: true });
      }
      state[name] = { containers: names, satisfied: new Set(['service_started']) };
      pending.delete(name);
    }
  }
  return state;
}

async function waitForReady(base) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/health/ready`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error(`${base}/health/ready did not answer 200 within ${READY_TIMEOUT_MS} ms`);
}

function cleanup() {
  if (containers.length > 0) run(['rm', '-f', ...containers], { allowFailure: true, quiet: true });
  run(['network', 'rm', network], { allowFailure: true, quiet: true });
  if (volumes.length > 0) run(['volume', 'rm', '-f', ...volumes], { allowFailure: true, quiet: true });
  rmSync(secretsDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

let failure;
try {
  const buildArgs = ['build', '-q', '--label', label, '-t', apiImage];
  // podman: keep the HEALTHCHECK (OCI images have none), and build the two `npm ci` stages side by side.
  if (cli === 'podman') buildArgs.push('--format', 'docker', '--jobs', '2');
  if (process.env.CI_NODE_IMAGE) buildArgs.push('--build-arg', `NODE_IMAGE=${process.env.CI_NODE_IMAGE}`);
  run([...buildArgs, '.'], { quiet: true });
  const built = seconds();

  run(['network', 'create', '--label', label, network], { quiet: true });
  for (const volume of volumes) run(['volume', 'create', '--label', label, volume], { quiet: true });
  const state = await up();

  // The demo data, with the development override's one-shot command: the production file seeds nothing.
  containers.push(`${project}-seed`);
  const seed = run(runArgs('migrate', `${project}-seed`, { command: devOverride.services.migrate.command }), { quiet: true }).out;
  if (run(['wait', seed]).out !== '0') throw new Error('the seed command failed');

  const results = [];
  for (const container of state.api.containers) {
    const address = run(['port', container, '4000/tcp']).out.split('\n')[0];
    if (!address.startsWith('127.0.0.1:')) throw new Error(`${container} published on ${address}, not on 127.0.0.1`);
    const base = `http://${address}`;
    await waitForReady(base);
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: CATALOG_QUERY }),
    });
    const body = await response.json();
    if (response.status !== 200 || body.errors || !(body.data?.products?.nodes?.length > 0)) {
      throw new Error(`${container}: catalog query answered ${response.status}: ${JSON.stringify(body)}`);
    }
    const uid = run(['exec', container, 'id', '-u']).out;
    if (uid === '0') throw new Error(`${container} runs as root`);
    results.push(`${address} ready, ${body.data.products.totalCount} products, uid ${uid}`);
  }
  const worker = await checkWorker({
    run,
    worker: state.worker.containers[0],
    postgres: state.postgres.containers[0],
    login: { user: pg.POSTGRES_USER, database: pg.POSTGRES_DB },
  });
  // SIGTERM reaches node as PID 1, which drains and exits 0.
  const last = state.api.containers.at(-1);
  run(['stop', last], { quiet: true });
  const exitCode = run(['inspect', '--format', '{{.State.ExitCode}}', last]).out;
  if (exitCode !== '0') throw new Error(`${last} exited with ${exitCode} on SIGTERM`);

  console.log(
    `container check (${cli}): image built in ${built}s; migrate exited 0; ` +
      `${state.api.containers.length} api replicas: ${results.join('; ')}; stop exits 0; ` +
      `worker: ${worker}; ${seconds()}s in all`,
  );
} catch (error) {
  failure = error;
  for (const container of containers) {
    console.error(`--- ${container} ---`);
    spawnSync(cli, ['logs', '--tail', '40', container], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
} finally {
  cleanup();
}
if (failure) {
  console.error(`container check failed: ${failure.message}`);
  process.exit(1);
}
