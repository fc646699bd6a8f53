#!/usr/bin/env bash
# Load test: Quire's release build against a minimal actix-web "ceiling" serving a fixed body
# of the same size, measured in the same run on the same machine. The method follows
# shared/research/peers.md: 3 s warm-up, then `wrk -t2 -c32 -d10s --timeout 10s --latency`,
# 3 rounds, median.
#
#   bash bench/run.sh            # 1,000 posts (the default)
#   POSTS=100000 bash bench/run.sh
#
# Needs PostgreSQL as for the tests; installs wrk from Debian if missing. Writes the table to
# bench/results/latest.md. Everything runs on loopback and stops by itself.
#
# Writes too (issue 9): the seed's wall time (a real figure only when the database is new:
# later runs find every post there), and the cost of saving a post through the editor's
# use-cases (bench/save.rs, SAVES of them) in the blog's two biggest tags.
set -euo pipefail
cd "$(dirname "$0")/.."

POSTS=${POSTS:-1000}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
QUIRE_PORT=${QUIRE_PORT:-18080}
CEILING_PORT=${CEILING_PORT:-18081}
FORTUNES_PORT=${FORTUNES_PORT:-18082}
# A second Quire with the hot-page cache on (the first runs with it off: "uncached").
CACHED_PORT=${CACHED_PORT:-18083}
# A third, cached too, that counts no views (stats.enabled = false): the reader statistics'
# cost is the cached post page read as a browser, here and on the second (issue 13).
NOSTATS_PORT=${NOSTATS_PORT:-18084}
# wrk sends no User-Agent, which the statistics take for a bot; these rows send a browser's.
BROWSER_UA="Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
# The TechEmpower Fortunes program (actix-web + sqlx 0.9 + askama: one query, a template),
# the yardstick for an uncached page. Skipped, with a note, where it isn't there.
FORTUNES_DIR=${FORTUNES_DIR:-../shared/bench/fortunes}
SAVES=${SAVES:-200}
DB_NAME=quire_bench_${POSTS}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}

if ! command -v wrk >/dev/null || ! command -v jq >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk jq >/dev/null
fi

cargo build --release --bin quire --example ceiling --example save --example sql -j2
TARGET=${CARGO_TARGET_DIR:-target}
QUIRE=$TARGET/release/quire
CEILING=$TARGET/release/examples/ceiling
SAVE=$TARGET/release/examples/save
SQL=$TARGET/release/examples/sql
mkdir -p bench/results
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export QUIRE_ENV=production DATABASE_URL="$PG/$DB_NAME?sslmode=disable" \
  HOST=127.0.0.1 PORT=$QUIRE_PORT BASE_URL="http://127.0.0.1:$QUIRE_PORT" \
  QUIRE__SESSION__SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  QUIRE__SEARCH__REQUESTS_PER_MINUTE=1000000000 \
  QUIRE__API__REQUESTS_PER_MINUTE=1000000000  # one client address: wrk

echo "== seeding $POSTS posts into $DB_NAME (kept between runs; seeding is idempotent)"
seed_start=$(date +%s.%N)
# Production logs go to stdout too; the report is the last line.
seeded=$("$QUIRE" seed --posts "$POSTS" | tail -n1)
seed_s=$(awk -v a="$seed_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "   $seeded in $seed_s s"

echo "== saving $SAVES new posts, then editing each (bench/save.rs)"
saves=$("$SAVE" "$SAVES")
read -r create_p50 create_p90 update_p50 update_p90 <<<"$saves"
echo "   create: p50 $create_p50 ms, p90 $create_p90 ms; update: p50 $update_p50 ms, p90 $update_p90 ms"

# Production settings: JSON logs, one line per request, written (to /dev/null) as in production.
QUIRE__CACHE__ENABLED=false "$QUIRE" serve >/dev/null 2>&1 &
pids+=($!)
PORT=$CACHED_PORT "$QUIRE" serve >/dev/null 2>&1 &
pids+=($!)
PORT=$NOSTATS_PORT QUIRE__STATS__ENABLED=false "$QUIRE" serve >/dev/null 2>&1 &
pids+=($!)
for port in "$QUIRE_PORT" "$CACHED_PORT" "$NOSTATS_PORT"; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done

slug=$(curl -fs "http://127.0.0.1:$QUIRE_PORT/" | grep -o 'href="/posts/[^"]*"' | head -1 | sed 's|href="/posts/||; s|"||')
tag=$(curl -fs "http://127.0.0.1:$QUIRE_PORT/posts/$slug" | grep -o 'href="/tags/[^"]*"' | head -1 | sed 's|href="/tags/||; s|"||')
author=$(curl -fs "http://127.0.0.1:$QUIRE_PORT/posts/$slug" | grep -o 'href="/authors/[^"]*"' | head -1 | sed 's|href="/authors/||; s|"||')
curl -fs "http://127.0.0.1:$QUIRE_PORT/posts/$slug" >"$work/body.html"
size=$(wc -c <"$work/body.html")

"$CEILING" "$work/body.html" "$CEILING_PORT" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$CEILING_PORT/" >/dev/null && break; sleep 0.1; done

fortunes=""
if [ -x "$FORTUNES_DIR/run.sh" ]; then
  echo "== starting the Fortunes program ($FORTUNES_DIR)"
  fortunes_pid=$(CEILING_BIND="127.0.0.1:$FORTUNES_PORT" CEILING_STATIC_BYTES="$size" \
    bash "$FORTUNES_DIR/run.sh" "$(realpath "$TARGET")/fortunes")
  pids+=("$fortunes_pid")
  fortunes="http://127.0.0.1:$FORTUNES_PORT/fortunes"
else
  echo "== no Fortunes program at $FORTUNES_DIR: measuring without it" >&2
fi

# Print "rps p50_ms p99_ms" for one wrk run; a second argument is a User-Agent to send, a
# third a wrk script (bench/graphql.lua POSTs $GRAPHQL_BODY).
measure() {
  local out
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 10s --latency ${2:+-H "User-Agent: $2"} ${3:+-s "$3"} "$1")
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers from $1" >&2; echo "$out" >&2; exit 1; fi
  echo "$out" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A RPS P50 P99
run() {
  local name=$1 url=$2 agent=${3:-} script=${4:-} rounds=()
  wrk -t2 -c"$CONNS" -d3s ${agent:+-H "User-Agent: $agent"} ${script:+-s "$script"} "$url" >/dev/null  # warm-up
  for _ in $(seq "$ROUNDS"); do rounds+=("$(measure "$url" "$agent" "$script")"); done
  RPS[$name]=$(printf '%s\n' "${rounds[@]}" | cut -d' ' -f1 | median)
  P50[$name]=$(printf '%s\n' "${rounds[@]}" | cut -d' ' -f2 | median)
  P99[$name]=$(printf '%s\n' "${rounds[@]}" | cut -d' ' -f3 | median)
  echo "   $name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms" >&2
}

echo "== measuring (post page $size bytes; $ROUNDS x $DURATION per target, c=$CONNS)"
run ceiling "http://127.0.0.1:$CEILING_PORT/"
targets=(ceiling)
if [ -n "$fortunes" ]; then run fortunes "$fortunes"; targets+=(fortunes); fi
run healthz "http://127.0.0.1:$QUIRE_PORT/healthz"
run post "http://127.0.0.1:$QUIRE_PORT/posts/$slug"
run home "http://127.0.0.1:$QUIRE_PORT/"
run tag "http://127.0.0.1:$QUIRE_PORT/tags/$tag"
run author "http://127.0.0.1:$QUIRE_PORT/authors/$author"
# A word in many posts: the tag's name.
run search "http://127.0.0.1:$QUIRE_PORT/search?q=$tag"
C="http://127.0.0.1:$CACHED_PORT"
curl -fs -o /dev/null -D - "$C/posts/$slug" | grep -qi '^x-cache' || { echo "the cached server sends no X-Cache" >&2; exit 1; }
run post_cached "$C/posts/$slug"
run home_cached "$C/"
run tag_cached "$C/tags/$tag"
run author_cached "$C/authors/$author"
run search_cached "$C/search?q=$tag"
# Reader statistics: a browser's views counted (stats on), and not (stats off), same run.
run post_cached_counted "$C/posts/$slug" "$BROWSER_UA"
run post_cached_uncounted "http://127.0.0.1:$NOSTATS_PORT/posts/$slug" "$BROWSER_UA"
# The JSON API (issue 12): a page of 20 articles and one article, anonymous.
run api_list "http://127.0.0.1:$QUIRE_PORT/api/articles"
run api_article "http://127.0.0.1:$QUIRE_PORT/api/articles/$slug"
run api_list_cached "$C/api/articles"
run api_article_cached "$C/api/articles/$slug"
# GraphQL (issue 30): what the post page shows (the post, its author, tags and first 20
# comments) in one query, against the uncached HTML page above; by POST (never cached),
# and by GET from the cached server.
GRAPHQL_QUERY='query($slug: String!) { post(slug: $slug) { title bodyHtml publishedAt readingMinutes author { username name bio avatarUrl } tags { name slug } comments(first: 20) { totalCount edges { node { id bodyHtml authorName createdAt author { username } } } } } }'
GRAPHQL_BODY=$(jq -cn --arg q "$GRAPHQL_QUERY" --arg s "$slug" '{query: $q, variables: {slug: $s}}')
export GRAPHQL_BODY
answer=$(curl -fs -H 'Content-Type: application/json' -d "$GRAPHQL_BODY" "http://127.0.0.1:$QUIRE_PORT/graphql")
echo "$answer" | jq -e '.data.post.title and (.errors | not)' >/dev/null || { echo "the GraphQL post query failed: $answer" >&2; exit 1; }
run graphql_post "http://127.0.0.1:$QUIRE_PORT/graphql" "" bench/graphql.lua
graphql_get="$C/graphql?$(jq -rn --arg q "$GRAPHQL_QUERY" --arg v "{\"slug\":\"$slug\"}" '"query=\($q|@uri)&variables=\($v|@uri)"')"
run graphql_post_cached "$graphql_get"

rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/${pids[0]}/status")
rss_cached_kb=$(awk '/VmRSS/ { print $2 }' "/proc/${pids[1]}/status")

# What bounds a page: its one query, run alone by pgbench (prepared statements, 8 clients, as
# the servers do), against the Fortunes query in the same way. If everything but the query
# cost what the Fortunes program's does, a page would serve
#   1 / (1/fortunes_rps - 1/fortunes_query_tps + 1/page_query_tps)  requests per second.
declare -A QTPS
if [ -n "$fortunes" ] && command -v pgbench >/dev/null; then
  echo "== each page's query alone (pgbench -M prepared -c8 -j2 -T5)"
  qtps() { pgbench -M prepared -n -c8 -j2 -T5 -f "$2" "$1" 2>/dev/null | awk '/^tps/ { printf "%.0f", $3 }'; }
  echo "SELECT id, message FROM fortune;" >"$work/fortunes.sql"
  "$SQL" post "$slug" >"$work/post.sql"
  "$SQL" home >"$work/home.sql"
  "$SQL" tag "$tag" >"$work/tag.sql"
  QTPS[fortunes]=$(qtps "${DATABASE_URL_CEILING:-postgres://ceiling:ceiling@127.0.0.1:5432/ceiling}" "$work/fortunes.sql")
  for name in post home tag; do QTPS[$name]=$(qtps "$PG/$DB_NAME" "$work/$name.sql"); done
  for name in fortunes post home tag; do echo "   $name query: ${QTPS[$name]} tps" >&2; done
fi
{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $POSTS posts, wrk -t2 -c$CONNS -d$DURATION, median of $ROUNDS; wrk, Quire, the ceiling and PostgreSQL share the cores. Quire uncached (cache.enabled = false) unless the row says cached."
  echo
  echo "| target | req/s | share of ceiling | share of Fortunes | p50 ms | p99 ms |"
  echo "|---|---:|---:|---:|---:|---:|"
  for name in "${targets[@]}" healthz post home tag author search post_cached home_cached tag_cached author_cached search_cached post_cached_counted post_cached_uncounted api_list api_article api_list_cached api_article_cached graphql_post graphql_post_cached; do
    share=$(awk -v a="${RPS[$name]}" -v b="${RPS[ceiling]}" 'BEGIN { printf "%.0f%%", 100 * a / b }')
    vs_fortunes="–"
    if [ -n "$fortunes" ]; then
      vs_fortunes=$(awk -v a="${RPS[$name]}" -v b="${RPS[fortunes]}" 'BEGIN { printf "%.0f%%", 100 * a / b }')
    fi
    case $name in
      ceiling) label="ceiling: fixed $size-byte body";;
      fortunes) label="Fortunes (one query, a template)";;
      healthz) label="\`/healthz\` (no work)";;
      post) label="\`/posts/{slug}\`";;
      home) label="\`/\`";;
      tag) label="\`/tags/{slug}\`";;
      author) label="\`/authors/{username}\`";;
      author_cached) label="\`/authors/{username}\`, cached";;
      search) label="\`/search?q=$tag\`";;
      post_cached) label="\`/posts/{slug}\`, cached";;
      home_cached) label="\`/\`, cached";;
      tag_cached) label="\`/tags/{slug}\`, cached";;
      search_cached) label="\`/search?q=$tag\`, cached";;
      post_cached_counted) label="\`/posts/{slug}\`, cached, a browser's view counted";;
      post_cached_uncounted) label="\`/posts/{slug}\`, cached, statistics off";;
      api_list) label="\`GET /api/articles\` (20)";;
      api_article) label="\`GET /api/articles/{slug}\`";;
      api_list_cached) label="\`GET /api/articles\` (20), cached";;
      api_article_cached) label="\`GET /api/articles/{slug}\`, cached";;
      graphql_post) label="GraphQL: the post page's query (POST \`/graphql\`)";;
      graphql_post_cached) label="GraphQL: the post page's query, GET, cached";;
    esac
    echo "| $label | ${RPS[$name]} | $share | $vs_fortunes | ${P50[$name]} | ${P99[$name]} |"
  done
  if [ -n "${QTPS[fortunes]:-}" ]; then
    echo
    echo "Each page's query alone (pgbench, prepared, 8 clients), and the page's bound: its rate if"
    echo "everything but the query cost what the Fortunes program's does."
    echo
    echo "| query | tps | bound req/s | bound, share of Fortunes |"
    echo "|---|---:|---:|---:|"
    echo "| Fortunes | ${QTPS[fortunes]} | – | – |"
    for name in post home tag; do
      awk -v n="$name" -v f="${RPS[fortunes]}" -v qf="${QTPS[fortunes]}" -v qp="${QTPS[$name]}" 'BEGIN {
        b = 1 / (1 / f - 1 / qf + 1 / qp); printf "| %s | %d | %.0f | %.0f%% |\n", n, qp, b, 100 * b / f }'
    done
  fi
  echo
  echo "Quire resident memory after the run: $((rss_kb / 1024)) MiB uncached, $((rss_cached_kb / 1024)) MiB with the cache."
  echo
  echo "Seeding: $seeded in $seed_s s."
  echo
  echo "Saving a post in the two biggest tags (bench/save.rs, $SAVES saves each, before the load test):"
  echo
  echo "| save | p50 ms | p90 ms |"
  echo "|---|---:|---:|"
  echo "| new post (\`posts::create\`) | $create_p50 | $create_p90 |"
  echo "| edit (\`posts::update\`) | $update_p50 | $update_p90 |"
} | tee bench/results/latest.md

# The job runner under load (issue 14): its own script, its own table (bench/results/jobs.md).
if [ "${JOBS:-1}" = 1 ]; then
  echo "== the job runner (bench/jobs.sh)"
  # Its own server: the ones above let go of their database connections first.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pids=()
  sleep 1
  POSTS=$POSTS bash bench/jobs.sh
fi
