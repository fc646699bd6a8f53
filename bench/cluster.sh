#!/usr/bin/env bash
# The post page through the multi-host test bed (scripts/cluster.sh: nginx in front of three
# app hosts, a primary and a streaming replica, Redis, each in a network namespace) against
# one app host alone, cached and uncached, same run: wrk -t2 -c32, 3 s warm-up, then
# ROUNDS x DURATION, median. Run as root after a release build:
#
#   cargo build --release --bin quire && bash bench/cluster.sh
#
# Every host runs on this one machine: on 2 cores the bed measures what the proxy and the
# network hop cost, not what three machines would serve.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
POSTS=${POSTS:-1000}
QUIRE=${QUIRE_BIN:-${CARGO_TARGET_DIR:-target}/release/quire}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

# One wrk run's requests/s and p99 (ms).
measure() {
  local out
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 10s --latency "$1")
  awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p=$2; if (p ~ /us$/) {sub(/us/,"",p); p/=1000}
       else if (p ~ /ms$/) {sub(/ms/,"",p)} else if (p ~ /s$/) {sub(/s/,"",p); p*=1000}}
       END {printf "%d %.1f\n", rps, p}' <<<"$out"
}

# The median of ROUNDS runs (by requests/s), after a warm-up.
median() {
  wrk -t2 -c"$CONNS" -d3s "$1" >/dev/null
  for _ in $(seq "$ROUNDS"); do measure "$1"; done | sort -n | sed -n "$(((ROUNDS + 1) / 2))p"
}

rows=()
for mode in uncached cached; do
  enabled=false; [ $mode = cached ] && enabled=true
  bash scripts/cluster.sh down >/dev/null 2>&1 || true
  QUIRE_BIN=$QUIRE QUIRE_ENV=production DEMO_POSTS=$POSTS APP_WORKERS=0 \
    QUIRE__SESSION__SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    QUIRE__CACHE__ENABLED=$enabled RUST_LOG=error bash scripts/cluster.sh up
  slug=$(curl -fsS "http://10.77.0.10/api/articles?limit=1" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["articles"][0]["slug"])')
  read -r lb_rps lb_p99 < <(median "http://10.77.0.10/posts/$slug")
  read -r one_rps one_p99 < <(median "http://10.77.0.11:8080/posts/$slug")
  rows+=("| post page, $mode, one app host directly | $one_rps | $one_p99 |")
  rows+=("| post page, $mode, nginx + three app hosts | $lb_rps | $lb_p99 |")
done
bash scripts/cluster.sh down >/dev/null 2>&1 || true

{
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(date -u +%F); $POSTS posts; wrk -t2 -c$CONNS, median of $ROUNDS x $DURATION"
  echo
  echo "| target | req/s | p99 ms |"
  echo "|---|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee bench/results/cluster.md
