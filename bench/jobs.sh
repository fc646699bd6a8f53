#!/usr/bin/env bash
# The job runner under load (issue 14): how fast one instance drains 10,000 queued no-op jobs
# and 1,000 emails to a local SMTP server (aiosmtpd, tests/smtp/sink.py), and what that does
# to the post page's latency meanwhile (wrk -t2 -c32 against /posts/{slug}, cache off).
#
#   bash bench/jobs.sh          # also run at the end of bench/run.sh
#
# Each batch is drained twice: alone (the rate), then again while wrk reads the post page for
# 10 s (the latency while it runs, and how many jobs were done meanwhile). A batch is queued
# due a second later, so the inserts themselves fall outside the measured window, and nothing
# else runs while wrk measures: polling the queue with psql every 50 ms alone cost the post
# page a third of its p99 on a 2-core machine. Writes bench/results/jobs.md.
set -euo pipefail
cd "$(dirname "$0")/.."

POSTS=${POSTS:-1000}
NOOPS=${NOOPS:-10000}
EMAILS=${EMAILS:-1000}
CONNS=${CONNS:-32}
PORT_=${JOBS_PORT:-18085}
SMTP_PORT_=${SMTP_PORT_:-18025}
DB_NAME=quire_bench_${POSTS}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
TARGET=${CARGO_TARGET_DIR:-target}
QUIRE=$TARGET/release/quire
URL="$PG/$DB_NAME?sslmode=disable"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
SMTP_VENV=$TARGET/aiosmtpd
if [ ! -x "$SMTP_VENV/bin/python" ] || ! "$SMTP_VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m venv "$SMTP_VENV"
  "$SMTP_VENV/bin/pip" install --quiet --disable-pip-version-check aiosmtpd==1.4.6
fi
[ -x "$QUIRE" ] || cargo build --release --bin quire -j2

mkdir -p bench/results
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -q "$URL" -c "DELETE FROM jobs WHERE kind IN ('noop', 'mail.subscribe');
                     DELETE FROM subscribers WHERE email LIKE 'bench-%@example.com';" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export QUIRE_ENV=production DATABASE_URL="$URL" HOST=127.0.0.1 PORT=$PORT_ \
  BASE_URL="http://127.0.0.1:$PORT_" \
  QUIRE__SESSION__SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  QUIRE__CACHE__ENABLED=false SMTP_HOST=127.0.0.1 SMTP_PORT=$SMTP_PORT_ QUIRE__MAIL__TLS=none
"$QUIRE" seed --posts "$POSTS" >/dev/null

"$SMTP_VENV/bin/python" tests/smtp/sink.py "$work/mail" "$SMTP_PORT_" >/dev/null &
pids+=($!)
"$QUIRE" serve >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT_/healthz" >/dev/null && break; sleep 0.1; done
slug=$(curl -fs "http://127.0.0.1:$PORT_/" | grep -o 'href="/posts/[^"]*"' | head -1 | sed 's|href="/posts/||; s|"||')
post="http://127.0.0.1:$PORT_/posts/$slug"

# "rps p99_ms" of one wrk run of $1 seconds.
load() {
  wrk -t2 -c"$CONNS" -d"$1"s --timeout 10s --latency "$post" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f\n", rps, p99 }'
}

# Jobs of kind `$1` not done yet (`$2`: done); stops the run if the database can't be asked.
left() {
  local op=${2:-<>}
  psql -qtA "$URL" -c "SELECT count(*) FROM jobs WHERE kind = '$1' AND state $op 'done'" ||
    { echo "bench/jobs.sh: cannot query the database" >&2; kill $$; }
}

# Queue a batch of `$1` jobs, due in one second; run `$2` (a command) when they are due; wait
# until none is left; print the seconds from due to drained.
drain() {
  local kind=$1 then=${2:-true} start end
  case $kind in
    noop) psql -q "$URL" -c "INSERT INTO jobs (kind, run_at)
                             SELECT 'noop', now() + interval '1 second' FROM generate_series(1, $NOOPS)" ;;
    mail.subscribe) psql -q "$URL" -c "
      WITH s AS (INSERT INTO subscribers (email)
                 SELECT 'bench-' || md5(random()::text) || '@example.com' FROM generate_series(1, $EMAILS)
                 RETURNING id)
      INSERT INTO jobs (kind, payload, run_at)
      SELECT 'mail.subscribe', jsonb_build_object('subscriber', id), now() + interval '1 second' FROM s" ;;
  esac
  due=$(psql -qtA "$URL" -c "SELECT EXTRACT(EPOCH FROM min(run_at)) FROM jobs WHERE kind = '$kind' AND state = 'queued'")
  local before
  before=$(left "$kind" =)
  while awk -v d="$due" -v n="$(date +%s.%N)" 'BEGIN { exit !(n < d) }'; do sleep 0.01; done
  $then
  start=$(date +%s.%N)
  if [ "$then" = start_load ]; then
    # Quiet while wrk measures; then how many were done meanwhile.
    wait "$(cat "$work/wrk.pid")"
    echo $(($(left "$kind" =) - before)) >"$work/during"
  fi
  while [ "$(left "$kind")" != "0" ]; do sleep 0.05; done
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

start_load() { load 10 >"$work/load" & echo $! >"$work/wrk.pid"; }

echo "== the post page alone"
load 3 >/dev/null
read -r idle_rps idle_p99 <<<"$(load 10)"
echo "   $idle_rps req/s, p99 $idle_p99 ms"

declare -A ALONE UNDER DURING RPS P99
for kind in noop mail.subscribe; do
  n=$NOOPS; [ "$kind" = noop ] || n=$EMAILS
  ALONE[$kind]=$(drain "$kind")
  UNDER[$kind]=$(drain "$kind" start_load)
  read -r RPS[$kind] P99[$kind] <"$work/load"
  DURING[$kind]=$(cat "$work/during")
  echo "   $kind x $n: alone ${ALONE[$kind]} s; ${DURING[$kind]} done in the 10 s of load, post page ${RPS[$kind]} req/s p99 ${P99[$kind]} ms"
done
sent=$(find "$work/mail" -name '*.json' | wc -l)
[ "$sent" -eq $((2 * EMAILS)) ] || { echo "expected $((2 * EMAILS)) messages at the SMTP server, got $sent" >&2; exit 1; }

{
  echo "Job runner, measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)): one instance (jobs.concurrency 4, jobs.yield_ms 5), its PostgreSQL, the SMTP server (aiosmtpd, in Python) and wrk on the same cores. Each batch queued, then drained alone, then queued again and drained while wrk -t2 -c$CONNS read the post page (cache off) for 10 s from the moment the jobs fell due, nothing else running meanwhile."
  echo
  echo "| batch | drained alone | jobs/s | done in the 10 s of load | jobs/s | post page req/s meanwhile | post p99 ms meanwhile |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| post page, no jobs | – | – | – | – | $idle_rps | $idle_p99 |"
  for kind in noop mail.subscribe; do
    n=$NOOPS; label="$NOOPS no-op jobs"
    [ "$kind" = noop ] || { n=$EMAILS; label="$EMAILS emails (\`mail.subscribe\`, SMTP)"; }
    awk -v l="$label" -v n="$n" -v a="${ALONE[$kind]}" -v d="${DURING[$kind]}" -v r="${RPS[$kind]}" -v p="${P99[$kind]}" \
      'BEGIN { printf "| %s | %.2f s | %.0f | %d | %.0f | %s | %s |\n", l, a, n / a, d, d / 10, r, p }'
  done
} | tee bench/results/jobs.md
