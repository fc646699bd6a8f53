#!/usr/bin/env bash
# Authors' renders against readers (issue 24): the post page's latency (wrk -t2 -c32, cache
# off) alone, then while four authors each preview a 1 MiB body of small fenced code blocks
# in a loop (about 1.6 CPU-seconds a render on the issue's machine), once with the default
# render budget (posts.render_ms_per_minute) and once with the budget out of the way, so only
# the render threads' semaphore (half the cores) holds them back.
#
#   bash bench/render.sh        # after a release build; writes bench/results/render.md
set -euo pipefail
cd "$(dirname "$0")/.."

POSTS=${POSTS:-1000}
CONNS=${CONNS:-32}
LOOPS=${LOOPS:-4}
PORT_=${RENDER_PORT:-18086}
DB_NAME=quire_bench_${POSTS}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
TARGET=${CARGO_TARGET_DIR:-target}
QUIRE=$TARGET/release/quire
URL="$PG/$DB_NAME?sslmode=disable"
BASE="http://127.0.0.1:$PORT_"
PASSWORD="bench render passphrase"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
[ -x "$QUIRE" ] || cargo build --release --bin quire -j2

mkdir -p bench/results
work=$(mktemp -d)
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop; rm -rf "$work"' EXIT

export QUIRE_ENV=production DATABASE_URL="$URL" HOST=127.0.0.1 PORT=$PORT_ BASE_URL="$BASE" \
  QUIRE__SESSION__SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  QUIRE__CACHE__ENABLED=false QUIRE__REDIS__KEY_PREFIX="bench-render-$$:"
"$QUIRE" seed --posts "$POSTS" >/dev/null
for n in $(seq "$LOOPS"); do
  QUIRE_PASSWORD=$PASSWORD "$QUIRE" user create --username "renderer$n" \
    --email "renderer$n@example.com" --role author >/dev/null 2>&1 || true
done

# The heavy body: small fenced blocks up to 1 MiB (the highlighter and sanitizer's worst).
python3 -c '
import sys
block = "```rust\nfn f() { let x = 1; }\n```\n\n"
sys.stdout.write(block * ((1 << 20) // len(block)))' >"$work/body.md"

serve() {
  "$QUIRE" serve >"$work/serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
}

# "rps p99_ms" of one wrk run of $1 seconds against the post page.
load() {
  wrk -t2 -c"$CONNS" -d"$1"s --timeout 10s --latency "$post" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f\n", rps, p99 }'
}

# Author n logs in (a cookie jar of its own) and keeps the editor's CSRF token. One at a
# time: logins hash passwords, and a login that finds every hasher busy is 503 at once.
log_in() {
  local n=$1 jar="$work/jar$1" token
  token=$(curl -fs -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"//')
  curl -fs -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
    --data-urlencode "login=renderer$n" --data-urlencode "password=$PASSWORD" "$BASE/login"
  curl -fs -c "$jar" -b "$jar" "$BASE/admin/posts/new" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"//' >"$work/token$n"
}

# Author n previews the heavy body until told to stop, writing one status code a line.
previews() {
  local n=$1 jar="$work/jar$1" token
  token=$(cat "$work/token$n")
  while [ ! -e "$work/stop" ]; do
    curl -s -o /dev/null -w '%{http_code}\n' -b "$jar" --data-urlencode "csrf_token=$token" \
      --data-urlencode "body@$work/body.md" "$BASE/admin/preview"
  done >"$work/previews$n"
}

# One row: the post page for 10 s while $LOOPS authors preview (after a 2 s head start).
with_authors() {
  rm -f "$work/stop" "$work"/previews*
  for n in $(seq "$LOOPS"); do log_in "$n"; done
  local loopers=()
  for n in $(seq "$LOOPS"); do previews "$n" & loopers+=($!); done
  sleep 2
  load 10
  touch "$work/stop"
  wait "${loopers[@]}" 2>/dev/null || true
  cat "$work"/previews* | sort | uniq -c | awk '{ printf "%s×%s ", $1, $2 }' >"$work/codes"
}

serve
slug=$(curl -fs "$BASE/" | grep -o 'href="/posts/[^"]*"' | head -1 | sed 's|href="/posts/||; s|"||')
post="$BASE/posts/$slug"

echo "== the post page alone"
load 3 >/dev/null
read -r idle_rps idle_p99 <<<"$(load 10)"
echo "   $idle_rps req/s, p99 $idle_p99 ms"

echo "== with $LOOPS authors previewing, default budget"
read -r budget_rps budget_p99 <<<"$(with_authors)"
budget_codes=$(cat "$work/codes")
echo "   $budget_rps req/s, p99 $budget_p99 ms; previews: $budget_codes"
stop

echo "== with $LOOPS authors previewing, budget out of the way (the semaphore alone)"
QUIRE__POSTS__RENDER_MS_PER_MINUTE=1000000000 serve
read -r sem_rps sem_p99 <<<"$(with_authors)"
sem_codes=$(cat "$work/codes")
echo "   $sem_rps req/s, p99 $sem_p99 ms; previews: $sem_codes"

{
  echo "Authors' renders against readers, measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)): one instance, its PostgreSQL, Redis, curl and wrk on the same cores. The post page read by wrk -t2 -c$CONNS for 10 s (cache off), alone and while $LOOPS authors each preview a 1 MiB body of small fenced code blocks in a loop."
  echo
  echo "| while | post page req/s | post p99 ms | previews answered (status) |"
  echo "|---|---:|---:|---|"
  echo "| nothing else | $idle_rps | $idle_p99 | – |"
  echo "| $LOOPS authors previewing, default budget | $budget_rps | $budget_p99 | $budget_codes |"
  echo "| $LOOPS authors previewing, semaphore only | $sem_rps | $sem_p99 | $sem_codes |"
} | tee bench/results/render.md
