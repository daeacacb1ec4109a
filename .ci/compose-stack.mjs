// Runs the services of docker-compose.yml (plus optional override files) with
// plain `docker`/`podman` commands generated from the files: network, named
// volumes, file secrets and configs, environment, entrypoint, user, command,
// the depends_on conditions (health checks run here, by `exec`, since podman
// without systemd never runs them), replicas, ports bound to 127.0.0.1 (each
// on a free port), and the images: the pinned ones, or built from each
// service's `build` (the Dockerfile, deploy/compose/*/Containerfile).
//
// Used by .ci/container-check.mjs. Why not `docker compose` / podman-compose:
// see docs/operations/production.md ("The container check").
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { parse } from 'yaml';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const READY_TIMEOUT_MS = 120_000;

function hasCli(name) {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function sleep(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Compose's merge of an override into a file: maps merge key by key, lists of names are joined, the rest is replaced. */
export function mergeCompose(base, override) {
  if (Array.isArray(base) && Array.isArray(override)) return [...new Set([...base, ...override])];
  if (base && override && typeof base === 'object' && typeof override === 'object' && !Array.isArray(base)) {
    const merged = { ...base };
    for (const [key, value] of Object.entries(override)) merged[key] = key in base ? mergeCompose(base[key], value) : value;
    return merged;
  }
  return override;
}

export function readCompose(files) {
  return files.map((file) => parse(readFileSync(path.join(root, file), 'utf8'))).reduce((base, next) => mergeCompose(base, next));
}

/** Compose's `$$` is a literal `$`; any other interpolation is not supported here. */
export function literal(value, where) {
  const text = String(value);
  if (/\$(?!\$)/.test(text.replaceAll('$$', ''))) throw new Error(`${where}: variable interpolation is not supported by this check`);
  return text.replaceAll('$$', '$');
}

/**
 * @param {object} options
 * @param {string[]} options.files compose files, the first the base
 * @param {Record<string, Record<string, string>>} [options.extraEnv] more environment per service (the drill's)
 */
export function createStack({ files, extraEnv = {} }) {
  const cli = process.env.CONTAINER_CLI ?? (hasCli('docker') ? 'docker' : 'podman');
  const label = process.env.CI_LABEL ?? 'marketplace-api.ci';
  const project = `marketplace-check-${process.pid}`;
  const compose = readCompose(files);
  const services = compose.services;
  const network = `${project}_default`;
  const volumes = Object.keys(compose.volumes ?? {}).map((name) => `${project}_${name}`);
  const containers = [];
  const builtImages = {};

  /** Runs the container CLI; returns its status and trimmed stdout, throws with its stderr. */
  function run(args, { allowFailure = false, quiet = false } = {}) {
    const result = spawnSync(cli, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'], maxBuffer: 64 * 1024 * 1024 });
    if (result.status !== 0 && !allowFailure) {
      throw new Error(`${cli} ${args.join(' ')} exited with ${result.status ?? result.signal}${quiet ? `: ${result.stderr}` : ''}`);
    }
    return { status: result.status, out: (result.stdout ?? '').trim() };
  }

  /** The same without blocking the event loop (for commands issued under load). */
  function runAsync(args) {
    return new Promise((resolve, reject) => {
      const child = spawn(cli, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (err += chunk));
      child.on('error', reject);
      child.on('close', (status) => (status === 0 ? resolve(out.trim()) : reject(new Error(`${cli} ${args.join(' ')} exited with ${status}: ${err}`))));
    });
  }

  // Images of pulled services on machines that pull nothing: the local stand-ins.
  const imageFor = { postgres: process.env.CI_POSTGRES_IMAGE, 'postgres-replica': process.env.CI_POSTGRES_IMAGE, redis: process.env.CI_REDIS_IMAGE };
  function image(name) {
    const service = services[name];
    if (service.build !== undefined) return builtImages[name];
    return imageFor[name] ?? service.image;
  }

  /** Builds every distinct `build` of the file once; the Dockerfile gets NODE_IMAGE, the others BASE_IMAGE (CI's local bases). */
  function build() {
    const byRecipe = new Map();
    for (const [name, service] of Object.entries(services)) {
      if (service.build === undefined) continue;
      const spec = typeof service.build === 'string' ? { context: service.build } : service.build;
      const context = path.join(root, spec.context ?? '.');
      const dockerfile = path.join(context, spec.dockerfile ?? 'Dockerfile');
      const key = `${context}\n${dockerfile}`;
      if (!byRecipe.has(key)) {
        const tag = `localhost/${(service.image ?? name).replace(/:.*$/, '')}:ci-check`;
        const args = ['build', '-q', '--label', label, '-t', tag, '-f', dockerfile];
        // podman: keep HEALTHCHECK (OCI images have none), build stages side by side.
        if (cli === 'podman') args.push('--format', 'docker', '--jobs', '2');
        const isApp = path.relative(root, context) === '';
        if (isApp && process.env.CI_NODE_IMAGE) args.push('--build-arg', `NODE_IMAGE=${process.env.CI_NODE_IMAGE}`);
        if (!isApp && process.env.CI_BASE_IMAGE) args.push('--build-arg', `BASE_IMAGE=${process.env.CI_BASE_IMAGE}`);
        run([...args, context], { quiet: true });
        byRecipe.set(key, tag);
      }
      builtImages[name] = byRecipe.get(key);
    }
  }

  // Throw-away secrets, in the files the compose file names.
  const secretsDir = mkdtempSync(path.join(tmpdir(), 'marketplace-check-secrets-'));
  chmodSync(secretsDir, 0o755);
  const pg = services.postgres.environment;
  const password = randomBytes(18).toString('hex');
  const url = (host, port) => `postgres://${pg.POSTGRES_USER}:${password}@${host}:${port}/${pg.POSTGRES_DB}`;
  const secretContent = {
    './.secrets/postgres-password': password,
    './.secrets/database-url': url('pgbouncer', 6432),
    './.secrets/database-direct-url': url('postgres', 5432),
    './.secrets/read-database-url': url('postgres-replica', 5432),
    './.secrets/jwt-signing-keys.json': execFileSync('npm', ['run', '-s', 'keys:generate'], { cwd: root, encoding: 'utf8' }).trim(),
  };
  const secretFile = {};
  for (const [name, { file }] of Object.entries(compose.secrets ?? {})) {
    if (!(file in secretContent)) throw new Error(`secret ${name}: no content for ${file}`);
    secretFile[name] = path.join(secretsDir, path.basename(file));
    // Readable by the services' unprivileged users; the directory is removed at the end.
    writeFileSync(secretFile[name], secretContent[file], { mode: 0o644 });
  }

  /** `run -d` arguments for one container of a service, per the compose file. */
  function runArgs(name, container, { command = services[name].command ?? [] } = {}) {
    const service = services[name];
    const args = ['run', '-d', '--name', container, '--label', label, '--network', network, '--network-alias', name];
    const environment = { ...(service.environment ?? {}), ...(extraEnv[name] ?? {}) };
    for (const [key, value] of Object.entries(environment)) args.push('-e', `${key}=${literal(value, `${name}.environment.${key}`)}`);
    for (const secret of service.secrets ?? []) args.push('-v', `${secretFile[secret]}:/run/secrets/${secret}:ro`);
    for (const { source, target } of service.configs ?? []) {
      const file = compose.configs?.[source]?.file;
      if (!file || !target) throw new Error(`${name}: config ${source} needs a file and a target`);
      args.push('-v', `${path.join(root, file)}:${target}:ro`);
    }
    for (const volume of service.volumes ?? []) {
      const [source, target] = volume.split(':');
      if (!(source in (compose.volumes ?? {}))) throw new Error(`${name}: only named volumes are supported (${volume})`);
      args.push('-v', `${project}_${source}:${target}`);
    }
    for (const port of service.ports ?? []) {
      const match = /^(127\.0\.0\.1):[\d-]+:(\d+)$/.exec(port);
      if (!match) throw new Error(`${name}: port ${port} is not bound to 127.0.0.1`);
      args.push('-p', `${match[1]}::${match[2]}`);
    }
    if (service.user) args.push('--user', String(service.user));
    // The worker's: the image's HEALTHCHECK asks the API's /health/ready.
    if (service.healthcheck?.disable === true) args.push('--no-healthcheck');
    if (service.stop_grace_period) args.push('--stop-timeout', String(parseInt(service.stop_grace_period, 10)));
    const entrypoint = service.entrypoint ?? [];
    if (entrypoint.length > 0) args.push('--entrypoint', entrypoint[0]);
    args.push(image(name), ...[...entrypoint.slice(1), ...command].map((part) => literal(part, `${name}.command`)));
    return args;
  }

  /** Runs the service's health check test in its container until it passes. */
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

  /** Starts the services in depends_on order, honouring each condition; returns each service's containers. */
  async function up() {
    run(['network', 'create', '--label', label, network], { quiet: true });
    for (const volume of volumes) run(['volume', 'create', '--label', label, volume], { quiet: true });
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
            if (code !== '0') throw new Error(`${dep} exited with ${code}`);
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

  /** Runs a one-shot container of a service with another command; returns its exit code. */
  function runOnce(name, suffix, command) {
    const container = `${project}-${suffix}`;
    containers.push(container);
    run(runArgs(name, container, { command }), { quiet: true });
    return run(['wait', container]).out;
  }

  /** The 127.0.0.1 address a container publishes its port on. */
  function published(container, port) {
    const address = run(['port', container, `${port}/tcp`]).out.split('\n')[0];
    if (!address.startsWith('127.0.0.1:')) throw new Error(`${container} published on ${address}, not on 127.0.0.1`);
    return address;
  }

  /** The container's address on the stack's network. */
  async function address(container) {
    const out = await runAsync(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', container]);
    return out.split(/\s+/).find(Boolean) ?? '';
  }

  /** An HTTP request made from inside a container (its own node), for services that publish nothing. */
  function fetchInside(container, url, init = {}) {
    const script =
      'const [url, init] = JSON.parse(process.argv[1]);' +
      'fetch(url, { ...init, signal: AbortSignal.timeout(10000) }).then(async (r) => console.log(JSON.stringify({ status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() })))' +
      '.catch((e) => { console.error(String(e)); process.exit(1); });';
    const { out } = run(['exec', container, 'node', '-e', script, JSON.stringify([url, init])], { quiet: true });
    return JSON.parse(out);
  }

  /** psql in a PostgreSQL container, over its trusted Unix socket; returns the unaligned output. */
  function psql(container, query) {
    return run(['exec', container, 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-U', pg.POSTGRES_USER, '-d', pg.POSTGRES_DB, '-c', query], { quiet: true }).out;
  }

  function logs(tail = 40) {
    for (const container of containers) {
      console.error(`--- ${container} ---`);
      spawnSync(cli, ['logs', '--tail', String(tail), container], { stdio: ['ignore', 'inherit', 'inherit'] });
    }
  }

  function cleanup() {
    if (containers.length > 0) run(['rm', '-f', ...containers], { allowFailure: true, quiet: true });
    run(['network', 'rm', network], { allowFailure: true, quiet: true });
    if (volumes.length > 0) run(['volume', 'rm', '-f', ...volumes], { allowFailure: true, quiet: true });
    rmSync(secretsDir, { recursive: true, force: true });
  }

  return { cli, compose, services, login: { user: pg.POSTGRES_USER, database: pg.POSTGRES_DB }, run, runAsync, build, up, runOnce, published, address, fetchInside, psql, logs, cleanup };
}
