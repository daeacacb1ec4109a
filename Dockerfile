# syntax=docker/dockerfile:1
#
# marketplace-api: production image.
#
#   docker build -t marketplace-api .
#   docker run --rm -e DATABASE_URL=... marketplace-api node dist/src/db/cli.js migrate   # one-shot
#   docker run --rm -p 127.0.0.1:4000:4000 -e DATABASE_URL=... -e JWT_SIGNING_KEYS=... \
#     -e MIGRATE_ON_START=false marketplace-api
#
# DATABASE_URL (or DATABASE_URL_FILE) is required here: the embedded
# PostgreSQL is a development dependency and is not in this image. Secrets can
# come from files (Docker secrets): DATABASE_URL_FILE, JWT_SIGNING_KEYS_FILE,
# REDIS_URL_FILE, METRICS_TOKEN_FILE.

# Pinned by digest (the tag is documentation; the digest is what is pulled),
# so a rebuild cannot silently change the base. To move to a newer Node 24:
#   docker buildx imagetools inspect node:24-bookworm-slim   # prints the index digest
# and replace both parts. This digest is the multi-platform index of 24.18.0.
# Another base with Node.js 24, npm and a `node` user (uid 1000) can be given
# as a build argument: CI, which pulls nothing, builds on podman from a local
# one (`--build-arg NODE_IMAGE=...`, see .ci/podman.sh).
ARG NODE_IMAGE=node:24.18.0-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

# ---------------------------------------------------------------------------
# base: shared by every stage. bookworm (glibc) rather than alpine (musl):
# the prebuilt native packages (@node-rs/argon2, and in the build stage esbuild
# and embedded-postgres) are resolved for glibc in package-lock.json.
FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---------------------------------------------------------------------------
# deps: every dependency, dev included, for the TypeScript build.
# Only the manifests are copied, so this layer is rebuilt only when they change.
# package.json's `allowScripts` field is npm 11's install-script policy, read
# from package.json at install time (npm 11.19 still runs unlisted scripts, with
# a warning; only entries set to false are skipped).
FROM base AS deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci

# ---------------------------------------------------------------------------
# build: tsc -p tsconfig.build.json compiles src/ and migrations/ into dist/,
# and scripts/copy-ide-assets.mjs copies GraphiQL's browser files to dist/graphiql/
# (rootDir is ".", so the entry point is dist/src/main.js).
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
RUN npm run build

# ---------------------------------------------------------------------------
# prod-deps: production dependencies only, installed from the lockfile: no
# embedded-postgres, tsx, TypeScript or test tooling (`npm ls --omit=dev`).
FROM base AS prod-deps
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev

# ---------------------------------------------------------------------------
# runtime
FROM base AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000

# Files stay owned by root: the `node` user can read but not modify the app.
# package.json must sit at the app root: the server finds schema/*.graphql by
# walking up from dist/src/util/ to the first folder holding a package.json.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY schema ./schema
COPY rest ./rest
COPY --from=build /app/dist ./dist

USER node
EXPOSE 4000

# Readiness, not liveness: healthy means the database answers and its schema is
# at the latest migration. Slim images have no curl, so node's fetch is used.
# The start period covers migrations and, when enabled, demo-data seeding.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]

# node runs as PID 1 directly (no `npm start`), so SIGTERM from `docker stop`
# reaches the app, which serves on for SHUTDOWN_DRAIN_DELAY_MS (5 s), then
# drains requests and closes the pool within SHUTDOWN_TIMEOUT_MS of the signal
# (10 s, the delay included; keep it below the stop timeout: docker's default
# is 10 s, docker-compose.yml gives 15 s).
CMD ["node", "dist/src/main.js"]
