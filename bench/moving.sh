#!/usr/bin/env bash
# Moving in and out (issue 26): a generated WordPress export (bench/wxr.py) of POSTS posts
# and COMMENTS comments imported into an empty database by the release build, timed, with
# the process's peak resident memory (GNU time); then the same again (a re-import changes
# nothing), then `quire export` (zip and WXR), timed, with the files' sizes.
#
#   bash bench/moving.sh                       # 20,000 posts, 100,000 comments
#   POSTS=2000 COMMENTS=10000 bash bench/moving.sh
#
# Needs PostgreSQL as for the tests, python3 and /usr/bin/time (Debian's `time`, installed
# if missing). Prints a Markdown table and writes it to bench/results/moving.md.
set -euo pipefail
cd "$(dirname "$0")/.."

POSTS=${POSTS:-20000}
COMMENTS=${COMMENTS:-100000}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB_NAME=quire_bench_moving
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x /usr/bin/time ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq time >/dev/null
fi
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/quire

export DATABASE_URL="$PG/$DB_NAME" QUIRE__UPLOADS__DIR="$WORK/uploads"
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null
"$BIN" migrate >/dev/null
QUIRE_PASSWORD='bench-password-long-enough' "$BIN" user create --username admin \
  --email admin@bench.example --role admin >/dev/null

echo "== generating $POSTS posts and $COMMENTS comments" >&2
python3 bench/wxr.py --posts "$POSTS" --comments "$COMMENTS" > "$WORK/export.xml"
WXR_BYTES=$(stat -c %s "$WORK/export.xml")

# One timed run: wall seconds and peak resident memory (MB), from GNU time's own report.
timed() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || {
    cat "$WORK/$name.err" >&2; exit 1; }
  read -r secs kb < "$WORK/$name.time"
  echo "$secs $((kb / 1024))"
}

echo "== importing" >&2
read -r import_s import_mb < <(timed import "$BIN" import wordpress "$WORK/export.xml")
echo "== importing again (nothing changes)" >&2
read -r again_s again_mb < <(timed again "$BIN" import wordpress "$WORK/export.xml")
posts=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM posts")
comments=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM comments")
redirects=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM redirects")
echo "== exporting" >&2
read -r zip_s zip_mb < <(timed zip "$BIN" export --out "$WORK/site.zip")
read -r wxr_s wxr_mb < <(timed wxr "$BIN" export --format wxr --out "$WORK/site.xml")
ZIP_BYTES=$(stat -c %s "$WORK/site.zip")
OUT_WXR_BYTES=$(stat -c %s "$WORK/site.xml")

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
mkdir -p bench/results
{
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), PostgreSQL on the same machine; release build."
  echo
  echo "Source: $(mb "$WXR_BYTES") WXR, $POSTS posts, $COMMENTS comments (bench/wxr.py); imported: $posts posts, $comments comments (spam left out), $redirects redirects."
  echo
  echo "| run | wall time | posts/s | peak resident memory | output |"
  echo "|---|---:|---:|---:|---|"
  echo "| \`quire import wordpress\` (empty database) | ${import_s} s | $(rate "$posts" "$import_s") | ${import_mb} MB | |"
  echo "| the same file again (nothing changes) | ${again_s} s | $(rate "$posts" "$again_s") | ${again_mb} MB | |"
  echo "| \`quire export\` (zip) | ${zip_s} s | $(rate "$posts" "$zip_s") | ${zip_mb} MB | $(mb "$ZIP_BYTES") archive |"
  echo "| \`quire export --format wxr\` | ${wxr_s} s | $(rate "$posts" "$wxr_s") | ${wxr_mb} MB | $(mb "$OUT_WXR_BYTES") WXR |"
} | tee bench/results/moving.md
grep -E '^  ' "$WORK/again.out" | sed 's/^/    /' >&2 || true
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null
