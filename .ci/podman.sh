#!/usr/bin/env bash
# Runs a command next to a podman that serves the Docker API, on a machine
# with no Docker engine and no access to any image registry (this CI's
# machines), then removes everything it started:
#
#   .ci/podman.sh npm test               # the suite on the Testcontainers path
#   .ci/podman.sh node .ci/container-check.mjs
#
# Set-up, each step skipped when already done:
#   1. apt-get install podman, runc and debootstrap (Debian packages), and
#      the dnsname plugin where podman networks through CNI (Debian 12);
#   2. images built locally, reused while their recipe is unchanged (a label
#      holds a hash of their inputs): a Debian base imported from a
#      `debootstrap --variant=minbase` root filesystem; on it PostgreSQL 17
#      (.ci/podman/postgres.Containerfile), tagged with the name the test
#      harness asks for (docker.io/library/postgres:17-alpine, the name
#      podman's Docker API gives `postgres:17-alpine`); Redis; and Node.js 24
#      (the npm package `node`) as a local base for the Dockerfile;
#   3. `podman system service` on a private socket.
#
# The command runs with the settings that podman on these machines needs, and
# nothing that chooses the test database: the harness finds the runtime
# itself (DOCKER_HOST) and takes the Testcontainers path.
#   CONTAINERS_CONF      a private containers.conf (no system-wide change):
#                        root here lacks CAP_SYS_RESOURCE, so podman's default
#                        rlimits fail every container ("error setting rlimit
#                        type 7"): the limits are set to what the host allows;
#                        and runc, because crun refuses the host's hybrid
#                        cgroup hierarchy ("cgroups in hybrid mode not supported").
#   DOCKER_HOST          unix:// socket of `podman system service`.
#   TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
#                        the machine has /.dockerenv, so testcontainers would
#                        believe it runs in a container and use the bridge
#                        gateway instead of the published loopback ports.
#   TESTCONTAINERS_RYUK_DISABLED=true
#                        the reaper image cannot be pulled; the harness stops
#                        its container, and this script removes what is left.
#   CI_NODE_IMAGE, CI_POSTGRES_IMAGE, CI_REDIS_IMAGE, CI_BASE_IMAGE
#                        the local images, for .ci/container-check.mjs (the
#                        last is the Debian base on which it builds the load
#                        balancer and PgBouncer of deploy/compose/).
# podman without systemd runs no HEALTHCHECK; the harness waits for
# PostgreSQL's log line instead (test/global-setup.ts).
#
# Teardown (also on failure or interrupt): every container started during the
# command (testcontainers' label, or this script's), the socket and the
# service. conmon processes of `podman exec` end after their own 300 s timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -eq 0 ]]; then
  echo "usage: $0 command [args...]" >&2
  exit 2
fi

CI_LABEL=marketplace-api.ci
BASE_IMAGE=localhost/marketplace-ci/debian:trixie
DEBIAN_SUITE=trixie # carries PostgreSQL 17
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
POSTGRES_IMAGE=docker.io/library/postgres:17-alpine
REDIS_IMAGE=localhost/marketplace-ci/redis:7
NODE_IMAGE=localhost/marketplace-ci/node:24
NODE_PACKAGE=${NODE24_PACKAGE:-node@24}

log() { echo "== podman: $*" >&2; }

# 1. Packages.
missing=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "$0: ${missing[*]} missing, and this is not a Debian machine where root can apt-get them" >&2
    exit 1
  fi
  log "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc debootstrap >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"
# Containers find each other by name (the compose services' `postgres`, `redis`)
# only through a DNS plugin. Debian 12's podman 4.3 networks through CNI, and
# its name server is the `dnsname` plugin, which podman only recommends: without
# it the container check's migrate fails with ENOTFOUND for `postgres`.
if [[ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" == cni && ! -x /usr/lib/cni/dnsname ]]; then
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "$0: podman's CNI networks have no dnsname plugin (/usr/lib/cni/dnsname), and root cannot apt-get it here" >&2
    exit 1
  fi
  log "installing the dnsname CNI plugin (container names on podman networks)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-github-containernetworking-plugin-dnsname >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/marketplace-podman-XXXXXX")
service_pid=
cleanup() {
  local status=$?
  set +e
  local id ids=()
  # Containers of testcontainers and of the command that were not there before.
  for id in $(podman ps -aq --no-trunc --filter label=org.testcontainers=true; podman ps -aq --no-trunc --filter "label=$CI_LABEL"); do
    grep -qx "$id" "$work/containers-before" 2>/dev/null || ids+=("$id")
  done
  if [[ ${#ids[@]} -gt 0 ]]; then
    log "removing ${#ids[@]} container(s) left behind"
    podman rm -f -t 5 "${ids[@]}" >/dev/null
  fi
  podman network ls -q --filter "label=$CI_LABEL" | xargs -r podman network rm -f >/dev/null
  podman volume ls -q --filter "label=$CI_LABEL" | xargs -r podman volume rm -f >/dev/null
  if [[ -n "$service_pid" ]]; then
    kill "$service_pid" 2>/dev/null
    wait "$service_pid" 2>/dev/null
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nofile=$(ulimit -Hn)
[[ "$nofile" == unlimited ]] && nofile=1048576
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$work/containers.conf"

# Builds image $1 from Containerfile $2 with context $3 (and extra build
# arguments) unless an image of that name carries the same input hash.
hash_of() { cat - "$@" | sha256sum | cut -c1-16; }
ensure_image() {
  local image=$1 hash=$2 containerfile=$3 context=$4
  shift 4
  if [[ "$(podman image inspect --format "{{index .Labels \"$CI_LABEL.hash\"}}" "$image" 2>/dev/null)" == "$hash" ]]; then
    return
  fi
  log "building $image"
  podman build -q --format docker --label "$CI_LABEL.hash=$hash" --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" \
    -t "$image" -f "$containerfile" "$context" >/dev/null
}

# 2. Images.
if ! podman image exists "$BASE_IMAGE"; then
  log "debootstrap $DEBIAN_SUITE (minbase) for $BASE_IMAGE"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/sh"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$work/rootfs"
fi
base_id=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE")

ensure_image "$POSTGRES_IMAGE" "$(hash_of .ci/podman/postgres.Containerfile .ci/podman/postgres-entrypoint.sh <<<"$base_id")" \
  .ci/podman/postgres.Containerfile .ci/podman
ensure_image "$REDIS_IMAGE" "$(hash_of .ci/podman/redis.Containerfile <<<"$base_id")" .ci/podman/redis.Containerfile .ci/podman

# Node.js 24 from the npm package (as .ci/run's Node 24 leg), npm from this
# machine, and the certificate authorities this machine trusts.
node24_bin=$(npx --yes --package "$NODE_PACKAGE" -c 'dirname "$(command -v node)"')
mkdir -p "$work/node"
cp -L "$node24_bin/node" "$work/node/node"
# The npm package this machine's `npm` runs from (`npm root -g` would follow the node on PATH).
cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$work/node/npm"
ca_bundle=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
if [[ -f "$ca_bundle" ]]; then cp "$ca_bundle" "$work/node/ca-certificates.crt"; else : >"$work/node/ca-certificates.crt"; fi
node_hash=$(hash_of .ci/podman/node.Containerfile "$work/node/ca-certificates.crt" <<<"$base_id $("$work/node/node" --version) $(npm --version)")
ensure_image "$NODE_IMAGE" "$node_hash" .ci/podman/node.Containerfile "$work/node"
rm -rf "$work/node"

# 3. The Docker-compatible API.
socket="$work/podman.sock"
podman system service --time=0 "unix://$socket" >"$work/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 100); do
  [[ -S "$socket" ]] && break
  if ! kill -0 "$service_pid" 2>/dev/null; then
    cat "$work/service.log" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -S "$socket" ]] || { echo "podman system service did not create $socket" >&2; exit 1; }

podman ps -aq --no-trunc >"$work/containers-before"
export DOCKER_HOST="unix://$socket"
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED=true
export CONTAINER_CLI=podman CI_LABEL CI_NODE_IMAGE=$NODE_IMAGE CI_POSTGRES_IMAGE=$POSTGRES_IMAGE CI_REDIS_IMAGE=$REDIS_IMAGE CI_BASE_IMAGE=$BASE_IMAGE
log "serving the Docker API on $DOCKER_HOST"
"$@"
