#!/usr/bin/env bash
# One command for each everyday job:
#   scripts/dev.sh run    Redis + Postgres (started if none answers), migrations, serve on 127.0.0.1:8080
#   scripts/dev.sh test   the same services, then fmt, clippy and every test
#   scripts/dev.sh stop   stop the Redis/Postgres this script started
#   scripts/dev.sh cluster   a local Redis Cluster (3 masters + 3 replicas, ports 17000-17005)
#   scripts/dev.sh drill     the failover drills (a Cluster master, a node, Postgres killed mid-traffic)
#
# Services: if nothing answers on REDIS_PORT/PG_PORT, Docker Compose is used when a Docker
# engine answers; otherwise Debian's redis-server and postgresql packages (installed when
# missing, as root) run from .data/ on those ports, so nothing else on the machine is touched.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DATA="$ROOT/.data"
REDIS_PORT=${REDIS_PORT:-16379}
PG_PORT=${PG_PORT:-15432}
PG_USER=voxmatch

log() { printf '\033[1mdev.sh:\033[0m %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

redis_up() {
  (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
}

pg_up() { (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; }

wait_for() {
  local what=$1 check=$2
  for _ in $(seq 1 60); do
    if $check; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up on its port"
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $* from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  # the packages' own service scripts must not start system-wide servers
  as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  as_root rm -f /usr/sbin/policy-rc.d
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# Postgres refuses to run as root: as root, it runs as the `postgres` user.
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_local_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$DATA/redis"
  log "starting redis-server on 127.0.0.1:$REDIS_PORT"
  # AOF, fsynced every second: a restart keeps sessions and live state; rewritten only
  # once it passed 1 GB (docs/production.md, "What the log costs")
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA/redis" --daemonize yes \
    --save '' --appendonly yes --appendfsync everysec --auto-aof-rewrite-min-size 1gb \
    --logfile "$DATA/redis.log" --pidfile "$DATA/redis.pid"
  wait_for redis redis_up
}

start_local_postgres() {
  [ -n "$(pg_bin)" ] || apt_install postgresql postgresql-client
  local bin; bin=$(pg_bin)
  local pgdata="$DATA/pg"
  mkdir -p "$DATA"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    # the data folder must be reachable by the postgres user; a private home is not
    if ! runuser -u postgres -- test -x "$DATA"; then
      pgdata="/var/lib/voxmatch/$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)/pg"
      log "$DATA is not reachable by the postgres user; using $pgdata"
    fi
    mkdir -p "$pgdata" && chown -R postgres "$pgdata" && chmod 700 "$pgdata"
  fi
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    log "initialising a Postgres cluster in $pgdata"
    pg_run "$bin/initdb" -D "$pgdata" -U "$PG_USER" --auth=trust -E UTF8 --locale=C >/dev/null
  fi
  log "starting postgres on 127.0.0.1:$PG_PORT"
  pg_run "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $pgdata -c max_connections=400 -c synchronous_commit=off" >/dev/null
  wait_for postgres pg_up
}

ensure_services() {
  if redis_up && pg_up; then
    log "Redis and Postgres already answer on $REDIS_PORT/$PG_PORT"
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    log "starting Redis and Postgres with Docker Compose"
    docker compose up -d redis postgres
    wait_for redis redis_up
    wait_for postgres pg_up
  else
    redis_up || start_local_redis
    pg_up || start_local_postgres
  fi
  export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}
}

# moto's S3 server, for the tests of the S3 media backend, and openapi-python-client,
# for the test that generates a client from /api/openapi.json: a venv under .data/.
ensure_moto() {
  local opc=0.29.1
  if [ ! -x "$DATA/venv/bin/moto_server" ]; then
    log "installing moto's S3 server (PyPI) into $DATA/venv"
    mkdir -p "$DATA"
    python3 -m venv "$DATA/venv"
    "$DATA/venv/bin/pip" install -q 'moto[server]'
  fi
  if [ "$("$DATA/venv/bin/pip" show openapi-python-client 2>/dev/null | sed -n 's/^Version: //p')" != "$opc" ]; then
    log "installing openapi-python-client $opc (PyPI) into $DATA/venv"
    "$DATA/venv/bin/pip" install -q "openapi-python-client==$opc"
  fi
}

CLUSTER_PORTS="17000 17001 17002 17003 17004 17005"
CLUSTER_URL="redis-cluster://127.0.0.1:17000?node=127.0.0.1:17001&node=127.0.0.1:17002"

cluster_ok() { redis-cli -p 17000 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

# A local Redis Cluster from Debian's redis-server (no Docker): 3 masters, 3 replicas.
start_cluster() {
  command -v redis-server >/dev/null || apt_install redis-server
  if cluster_ok; then
    log "the local Redis Cluster answers on 17000-17005"
    return 0
  fi
  for port in $CLUSTER_PORTS; do
    mkdir -p "$DATA/cluster/$port"
    redis-cli -p "$port" ping >/dev/null 2>&1 && continue
    redis-server --port "$port" --bind 127.0.0.1 --dir "$DATA/cluster/$port" --daemonize yes \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --save '' --appendonly yes --appendfsync everysec --auto-aof-rewrite-min-size 1gb \
      --logfile "$DATA/cluster/$port/redis.log" --pidfile "$DATA/cluster/$port/redis.pid"
  done
  for port in $CLUSTER_PORTS; do
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  # nodes that know each other from a previous run form the cluster again by themselves
  for _ in $(seq 1 30); do cluster_ok && break; sleep 0.2; done
  if ! cluster_ok; then
    log "creating the local Redis Cluster"
    for port in $CLUSTER_PORTS; do redis-cli -p "$port" flushall >/dev/null; redis-cli -p "$port" cluster reset hard >/dev/null; done
    # shellcheck disable=SC2046
    redis-cli --cluster create $(for p in $CLUSTER_PORTS; do printf '127.0.0.1:%s ' "$p"; done) \
      --cluster-replicas 1 --cluster-yes >/dev/null
    for _ in $(seq 1 100); do cluster_ok && break; sleep 0.2; done
  fi
  cluster_ok || die "the local Redis Cluster did not form"
}

stop_cluster() {
  for port in $CLUSTER_PORTS; do
    [ -f "$DATA/cluster/$port/redis.pid" ] && kill "$(cat "$DATA/cluster/$port/redis.pid")" 2>/dev/null || true
  done
}

restart_postgres() {
  if [ -f "$DATA/pg/PG_VERSION" ] || ls /var/lib/voxmatch/*/pg/PG_VERSION >/dev/null 2>&1; then
    local bin; bin=$(pg_bin)
    for d in "$DATA/pg" /var/lib/voxmatch/*/pg; do
      if [ -s "$d/PG_VERSION" ]; then pg_run "$bin/pg_ctl" -D "$d" -m fast -w restart >/dev/null; fi
    done
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    docker compose restart postgres
  else
    die "no Postgres this script started"
  fi
}

# Debian's Chromium and ChromeDriver, for the test of the web demo (two pages in a real call).
ensure_chromium() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return 0
  apt_install chromium chromium-driver
}

psql_admin() {
  local bin; bin=$(pg_bin)
  local psql=psql
  command -v psql >/dev/null || psql="$bin/psql"
  "$psql" -q -v ON_ERROR_STOP=1 "postgres://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/postgres" "$@"
}

# Creates database $1 when missing (or anew with `fresh`).
ensure_database() {
  local name=$1 fresh=${2:-}
  for _ in $(seq 1 30); do psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
  if [ "$fresh" = fresh ]; then
    psql_admin -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  fi
  if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
    psql_admin -c "CREATE DATABASE $name" >/dev/null
  fi
}

stop_services() {
  [ -f "$DATA/redis.pid" ] && kill "$(cat "$DATA/redis.pid")" 2>/dev/null || true
  local bin; bin=$(pg_bin)
  for d in "$DATA/pg" /var/lib/voxmatch/*/pg; do
    [ -s "$d/PG_VERSION" ] && pg_run "$bin/pg_ctl" -D "$d" -m fast stop >/dev/null 2>&1 || true
  done
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then docker compose stop || true; fi
}

case "${1:-}" in
  run)
    ensure_services
    ensure_database voxmatch
    export DATABASE_URL=${DATABASE_URL:-postgres://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/voxmatch}
    exec cargo run --release --bin voxmatch
    ;;
  test)
    ensure_services
    ensure_moto
    ensure_chromium
    ensure_database voxmatch_test fresh
    export DATABASE_URL=${TEST_DATABASE_URL:-postgres://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/voxmatch_test}
    cargo fmt --check
    cargo clippy --all-targets --quiet -- -D warnings
    # Chromium and the client generator were installed above: their tests must run, not skip
    VOXMATCH_REQUIRE_CHROMIUM=1 VOXMATCH_REQUIRE_TOOLS=1 RUST_TEST_THREADS=${RUST_TEST_THREADS:-6} cargo test --all-targets
    # no Docker engine on the build machines: the deployment files are checked here
    "$DATA/venv/bin/python" scripts/check_deploy.py target/debug/voxmatch
    # the domains that live in Redis, once more against a Redis Cluster
    start_cluster
    log "matching, queue, realtime, events, calls and auth against the local Redis Cluster"
    REDIS_URL=$CLUSTER_URL RUST_TEST_THREADS=${RUST_TEST_THREADS:-6} \
      cargo test --test api -- matching:: queue:: realtime:: events:: calls:: auth::
    exec "$0" drill
    ;;
  cluster)
    start_cluster
    log "REDIS_URL=$CLUSTER_URL"
    ;;
  drill)
    ensure_services
    start_cluster
    export DATABASE_URL=${TEST_DATABASE_URL:-postgres://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/voxmatch_test}
    export VOXMATCH_PG_RESTART="$ROOT/scripts/dev.sh pg-restart"
    log "failover drills (one at a time)"
    RUST_LOG=${RUST_LOG:-error,warp::filters::trace=off} cargo test --test drills -- --ignored --test-threads=1 --nocapture
    ;;
  pg-restart)
    restart_postgres
    ;;
  stop)
    stop_cluster
    stop_services
    ;;
  *)
    echo "usage: scripts/dev.sh run|test|cluster|drill|stop" >&2
    exit 2
    ;;
esac
