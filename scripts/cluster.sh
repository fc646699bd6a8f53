#!/usr/bin/env bash
# A multi-host Quire on one machine, made of Linux network namespaces joined by a bridge:
#
#   10.77.0.1   this machine (the bridge qbr0): where the load generator and tests run
#   10.77.0.10  lb       nginx with deploy/nginx.conf (only its upstream and paths replaced) on
#                        :80, and Varnish with deploy/varnish/default.vcl in front of it on
#                        :6081 (the edge cache; the app hosts purge it)
#   10.77.0.11  app1  ┐
#   10.77.0.12  app2  ├ `quire serve`, one process each
#   10.77.0.13  app3  ┘
#   10.77.0.20  db       PostgreSQL primary (a cluster of its own, not the machine's)
#   10.77.0.21  replica  its streaming replica (pg_basebackup -R)
#   10.77.0.30  redis    Redis
#
# Usage (as root):
#   scripts/cluster.sh up         build nothing, start everything, wait until nginx serves
#   scripts/cluster.sh down       stop everything and remove the namespaces and files
#   scripts/cluster.sh status     one line per host
#   scripts/cluster.sh kill N     kill -9 app host N's process
#   scripts/cluster.sh start N    start app host N (again)
#   scripts/cluster.sh stop N     SIGTERM app host N and wait for it to exit
#   scripts/cluster.sh link N down|up     cut or restore a host's link (N: 1-3, db, replica, redis, lb)
#   scripts/cluster.sh drain N | undrain N   take app host N out of nginx's rotation, or back
#   scripts/cluster.sh roll       rolling restart of the app hosts, one at a time, as a deploy
#   scripts/cluster.sh replica stop|start   stop (immediate) or start the replica
#   scripts/cluster.sh redis restart        restart Redis (it keeps nothing)
#   scripts/cluster.sh cli ARGS...          run `quire ARGS...` against the bed's database
#
# Environment: QUIRE_BIN (default target/debug/quire), CLUSTER_DIR (/tmp/quire-cluster),
# DEMO_POSTS (seed this many demo posts at `up`; 0: none), and any QUIRE__* variable, which
# every app host gets. Every host shares this machine's CPUs, so under a test's load a
# database connection or a Redis answer can take seconds: the hosts wait longer for them
# (DB_CONNECTIONS, DB_ACQUIRE_SECS, REDIS_TIMEOUT_MS) than a real host would need to.
# Installs Debian's nginx if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# The hosts' processes outlive this script: they must not hold what its caller opened (a
# build lock held by `flock`, a test runner's pipes).
for fd in $(ls /proc/$$/fd); do
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

DIR=${CLUSTER_DIR:-/tmp/quire-cluster}
BIN=$(realpath "${QUIRE_BIN:-target/debug/quire}" 2>/dev/null || echo "${QUIRE_BIN:-target/debug/quire}")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
NET=10.77.0
BRIDGE=qbr0
HOSTS="lb:10 app1:11 app2:12 app3:13 db:20 replica:21 redis:30"
DB_URL="postgres://postgres@$NET.20:5432/quire?sslmode=disable"
REPLICA_URL="postgres://postgres@$NET.21:5432/quire?sslmode=disable"

ns() { echo "q$1"; }
addr() { for h in $HOSTS; do if [ "${h%%:*}" = "$1" ]; then echo "$NET.${h##*:}"; fi; done; }
app_name() { case "$1" in [1-3]) echo "app$1" ;; *) echo "$1" ;; esac; }
log() { echo "cluster: $*" >&2; }

wait_for() { # what, seconds, command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "timed out waiting for $what"; return 1
}

net_up() {
  ip link add $BRIDGE type bridge 2>/dev/null || true
  ip addr add $NET.1/24 dev $BRIDGE 2>/dev/null || true
  ip link set $BRIDGE up
  for h in $HOSTS; do
    local name=${h%%:*} n; n=$(ns "$name")
    ip netns add "$n" 2>/dev/null || true
    ip link add "v-$name" type veth peer name eth0 netns "$n" 2>/dev/null || true
    ip link set "v-$name" master $BRIDGE up
    ip -n "$n" addr add "$(addr "$name")/24" dev eth0 2>/dev/null || true
    ip -n "$n" link set eth0 up
    ip -n "$n" link set lo up
  done
}

pg_up() {
  install -d -o postgres -g postgres "$DIR/pg"
  if [ ! -d "$DIR/pg/primary" ]; then
    runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/pg/primary" -U postgres --auth=trust \
      -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$DIR/pg/primary/postgresql.conf" <<EOF
listen_addresses = '$NET.20'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
hot_standby = on
max_connections = 200
shared_buffers = 256MB
synchronous_commit = on
EOF
    echo "host all,replication all $NET.0/24 trust" >>"$DIR/pg/primary/pg_hba.conf"
  fi
  ip netns exec qdb runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/primary" \
    -l "$DIR/pg/primary.log" -w start >/dev/null
  if [ ! -d "$DIR/pg/replica" ]; then
    ip netns exec qreplica runuser -u postgres -- "$PGBIN/pg_basebackup" -h $NET.20 -U postgres \
      -D "$DIR/pg/replica" -R -X stream -c fast
  fi
  replica_start
}

replica_start() {
  ip netns exec qreplica runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/replica" \
    -l "$DIR/pg/replica.log" -o "-c listen_addresses=$NET.21" -w start >/dev/null
}

replica_stop() {
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/replica" -m immediate -w stop >/dev/null
}

redis_start() {
  ip netns exec qredis redis-server --bind $NET.30 --port 6379 --save "" --appendonly no \
    --protected-mode no --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  wait_for redis 10 redis-cli -h $NET.30 ping
}

redis_stop() {
  if [ -f "$DIR/redis.pid" ]; then kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true; fi
  wait_for "redis to stop" 10 bash -c "! redis-cli -h $NET.30 ping"
}

# Every app host's settings: the shared database, replica and Redis, this host's address.
app_env() {
  local name=$1
  env | grep -E '^QUIRE__' || true
  # Reads from the replica, unless told not to (REPLICA=0).
  [ "${REPLICA:-1}" = 0 ] || echo "QUIRE__DATABASE__REPLICA_URL=$REPLICA_URL"
  cat <<EOF
QUIRE_ENV=${QUIRE_ENV:-development}
DATABASE_URL=$DB_URL
REDIS_URL=redis://$NET.30:6379
QUIRE__HTTP__HOST=$(addr "$name")
QUIRE__HTTP__PORT=8080
QUIRE__HTTP__WORKERS=${APP_WORKERS:-2}
BASE_URL=${BASE_URL:-http://$NET.10}
QUIRE__HTTP__TRUSTED_PROXIES=["$NET.10/32"]
QUIRE__METRICS__ALLOW=["127.0.0.0/8","$NET.0/24"]
QUIRE__UPLOADS__DIR=$DIR/uploads
QUIRE__DATABASE__MAX_CONNECTIONS=${DB_CONNECTIONS:-32}
QUIRE__DATABASE__ACQUIRE_TIMEOUT_SECS=${DB_ACQUIRE_SECS:-10}
QUIRE__REDIS__TIMEOUT_MS=${REDIS_TIMEOUT_MS:-5000}
QUIRE__EDGE__PURGE_URL=http://$NET.10:6081/
RUST_LOG=${RUST_LOG:-warn}
EOF
}

app_start() {
  local name; name=$(app_name "$1")
  mkdir -p "$DIR/uploads"
  local vars; mapfile -t vars < <(app_env "$name")
  # setsid: the host's process outlives this script, like a service.
  env -i PATH="$PATH" HOME="${HOME:-/root}" "${vars[@]}" \
    setsid ip netns exec "q$name" "$BIN" serve >>"$DIR/$name.log" 2>&1 </dev/null &
  wait_for "$name to be ready" 60 curl -fsS "http://$(addr "$name"):8080/readyz"
}

# The host's one process: whatever runs in its namespace.
app_pid() { ip netns pids "q$(app_name "$1")" 2>/dev/null | head -1; }

app_stop() { # SIGTERM, as a deploy does, then wait for a clean exit
  local pid; pid=$(app_pid "$1")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

app_kill() {
  local pid; pid=$(app_pid "$1")
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
}

# nginx: deploy/nginx.conf as written, with the three app hosts for its upstream and this
# test bed's files for its paths. Hosts listed in $DIR/drained are marked `down`.
nginx_conf() {
  local servers="" i
  for i in 1 2 3; do
    if grep -qx "$i" "$DIR/drained" 2>/dev/null; then
      servers+="        server $NET.1$i:8080 down;\\n"
    else
      servers+="        server $NET.1$i:8080 max_fails=3 fail_timeout=10s;\\n"
    fi
  done
  mkdir -p "$DIR/nginx/cache"
  sed -e "s#^\(\s*\)server app:8080.*#${servers}#" \
    -e "s#/var/cache/nginx/static#$DIR/nginx/cache#" \
    -e "s#/var/log/nginx/access.log#$DIR/nginx/access.log#" \
    -e "s#^\(\s*\)listen 80;#\1listen $NET.10:80;#" \
    deploy/nginx.conf >"$DIR/nginx/nginx.conf"
  sed -i "1i pid $DIR/nginx/nginx.pid;\nerror_log $DIR/nginx/error.log warn;\nuser root;" \
    "$DIR/nginx/nginx.conf"
}

nginx_up() {
  if ! command -v nginx >/dev/null; then
    log "installing Debian's nginx"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  fi
  nginx_conf
  ip netns exec qlb nginx -c "$DIR/nginx/nginx.conf"
  wait_for nginx 30 curl -fsS "http://$NET.10/readyz"
}

nginx_reload() {
  nginx_conf
  ip netns exec qlb nginx -c "$DIR/nginx/nginx.conf" -s reload
  sleep 0.5
}

# Varnish: deploy/varnish/default.vcl as written, with nginx as its one backend.
varnish_up() {
  mkdir -p "$DIR/varnish"
  cat >"$DIR/varnish/backends.vcl" <<EOF
backend nginx {
    .host = "$NET.10";
    .port = "80";
    .probe = quire_ready;
    .connect_timeout = 2s;
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 10s;
}
sub vcl_init {
    quire.add_backend(nginx);
}
EOF
  ip netns exec qlb varnishd -j none -n "$DIR/varnish/work" -a "$NET.10:6081" \
    -T "127.0.0.1:6082" -f "$PWD/deploy/varnish/default.vcl" \
    -p "vcl_path=$DIR/varnish:$PWD/deploy/varnish" -s malloc,128m -P "$DIR/varnish/varnishd.pid"
  wait_for varnish 30 curl -fsS "http://$NET.10:6081/healthz"
}

up() {
  [ -x "$BIN" ] || { log "no quire binary at $BIN (cargo build first)"; exit 1; }
  mkdir -p "$DIR"
  net_up
  pg_up
  redis_start
  wait_for "the database" 30 bash -c "pg_isready -q -h $NET.20 && pg_isready -q -h $NET.21"
  local vars; mapfile -t vars < <(app_env app1)
  env -i PATH="$PATH" HOME="${HOME:-/root}" "${vars[@]}" "$BIN" migrate >/dev/null
  if [ "${DEMO_POSTS:-0}" -gt 0 ]; then
    env -i PATH="$PATH" HOME="${HOME:-/root}" "${vars[@]}" "$BIN" seed --posts "$DEMO_POSTS" >/dev/null
  fi
  for i in 1 2 3; do app_start $i; done
  nginx_up
  varnish_up
  log "up: http://$NET.10:6081/ (Varnish), http://$NET.10/ (3 app hosts, primary $NET.20, replica $NET.21, redis $NET.30)"
}

down() {
  for i in 1 2 3; do app_kill $i; done
  [ -f "$DIR/nginx/nginx.pid" ] && kill "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null || true
  [ -f "$DIR/varnish/varnishd.pid" ] && kill "$(cat "$DIR/varnish/varnishd.pid")" 2>/dev/null || true
  redis_stop 2>/dev/null || true
  for c in replica primary; do
    [ -d "$DIR/pg/$c" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg/$c" -m immediate \
      stop >/dev/null 2>&1 || true
  done
  for h in $HOSTS; do
    ip link del "v-${h%%:*}" 2>/dev/null || true
    ip netns del "$(ns "${h%%:*}")" 2>/dev/null || true
  done
  ip link del $BRIDGE 2>/dev/null || true
  rm -rf "$DIR"
}

status() {
  for h in $HOSTS; do
    local name=${h%%:*} a; a=$(addr "$name")
    case $name in
      lb) printf '%-8s %-11s nginx %s, varnish %s\n' lb "$a" \
        "$(curl -s -o /dev/null -w '%{http_code}' "http://$a/healthz")" \
        "$(curl -s -o /dev/null -w '%{http_code}' "http://$a:6081/healthz")" ;;
      app*) printf '%-8s %-11s %s\n' "$name" "$a" "$(curl -s -m 2 "http://$a:8080/readyz" | head -1)" ;;
      db|replica) printf '%-8s %-11s %s\n' "$name" "$a" "$(pg_isready -h "$a" 2>&1 | cut -d- -f2)" ;;
      redis) printf '%-8s %-11s %s\n' redis "$a" "$(redis-cli -h "$a" ping 2>&1)" ;;
    esac
  done
}

drain() { echo "$1" >>"$DIR/drained"; nginx_reload; }
undrain() { sed -i "/^$1\$/d" "$DIR/drained" 2>/dev/null || true; nginx_reload; }

# A deploy: each host leaves nginx's rotation, finishes what it serves, restarts, is ready,
# and comes back before the next one goes.
roll() {
  for i in 1 2 3; do
    drain $i
    app_stop $i
    app_start $i
    undrain $i
  done
}

cmd=${1:-}
case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  kill) app_kill "$2" ;;
  start) app_start "$2" ;;
  stop) app_stop "$2" ;;
  drain) drain "$2" ;;
  undrain) undrain "$2" ;;
  roll) roll ;;
  link) ip link set "v-$(app_name "$2")" "$3" ;;
  replica) "replica_$2" ;;
  redis) case "$2" in restart) redis_stop; redis_start ;; *) "redis_$2" ;; esac ;;
  cli) shift; mapfile -t vars < <(app_env app1)
    env -i PATH="$PATH" HOME="${HOME:-/root}" "${vars[@]}" "$BIN" "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
