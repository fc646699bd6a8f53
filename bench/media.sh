#!/usr/bin/env bash
# Media (issue 28): what a phone downloads for a post with five 12-megapixel photos, against
# the photos as uploaded, and how long the job takes to make their files.
#
# Five photo-like 4000×3000 JPEGs (quality 92, as phones save them: gradients, soft shapes,
# edges and sensor-like noise, made with Pillow in a venv of the bench's own) are uploaded
# through the JSON API (`POST /api/uploads`), a post shows them, and headless Chromium at
# 390 px wide (device pixel ratio 3, as an iPhone 12–16; then 2) scrolls it to the end while
# every image response's body is counted (bench/phone-bytes.mjs).
#
#   bash bench/media.sh        # after a release build; writes bench/results/media.md
set -euo pipefail
cd "$(dirname "$0")/.."

PORT_=${MEDIA_PORT:-18087}
DB_NAME=quire_bench_media
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
TARGET=${CARGO_TARGET_DIR:-target}
QUIRE=${QUIRE:-$TARGET/release/quire}
URL="$PG/$DB_NAME?sslmode=disable"
BASE="http://127.0.0.1:$PORT_"
PASSWORD="bench media passphrase"

[ -x "$QUIRE" ] || cargo build --release --bin quire -j2
PILLOW=$TARGET/bench-pillow
if [ ! -x "$PILLOW/bin/python" ] || ! "$PILLOW/bin/python" -c 'import PIL' 2>/dev/null; then
  python3 -m venv "$PILLOW"
  "$PILLOW/bin/pip" install --quiet --disable-pip-version-check pillow==11.3.0
fi

mkdir -p bench/results
work=$(mktemp -d)
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop; rm -rf "$work"' EXIT

# Five different photos (a seed each).
"$PILLOW/bin/python" - "$work" <<'PY'
import random, sys
from PIL import Image, ImageDraw, ImageFilter
out = sys.argv[1]
W, H = 4000, 3000
for n in range(5):
    rnd = random.Random(n)
    # A sky-to-ground gradient, small and scaled up: smooth as light is.
    small = Image.new("RGB", (40, 30))
    top = [rnd.randrange(80, 220) for _ in range(3)]
    bottom = [rnd.randrange(20, 140) for _ in range(3)]
    for y in range(30):
        t = y / 29
        for x in range(40):
            small.putpixel((x, y), tuple(int(a + (b - a) * t + rnd.randrange(-12, 12)) for a, b in zip(top, bottom)))
    img = small.resize((W, H), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    # Soft shapes (hills, trees, people out of focus)...
    for _ in range(60):
        x, y = rnd.randrange(W), rnd.randrange(H)
        r = rnd.randrange(60, 700)
        draw.ellipse((x - r, y - r // 2, x + r, y + r // 2), fill=tuple(rnd.randrange(256) for _ in range(3)))
    img = img.filter(ImageFilter.GaussianBlur(40))
    draw = ImageDraw.Draw(img)
    # ...and sharp detail in focus (branches, edges, text on signs).
    for _ in range(4000):
        x, y = rnd.randrange(W), rnd.randrange(H)
        draw.line((x, y, x + rnd.randrange(-120, 120), y + rnd.randrange(-120, 120)),
                  fill=tuple(rnd.randrange(256) for _ in range(3)), width=rnd.randrange(1, 4))
    # Sensor noise.
    noise = Image.effect_noise((W, H), 28).convert("RGB")
    img = Image.blend(img, noise, 0.10)
    img.save(f"{out}/photo-{n + 1}.jpg", quality=92)
PY
originals=$(cat "$work"/photo-*.jpg | wc -c)

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null
export QUIRE_ENV=production DATABASE_URL="$URL" HOST=127.0.0.1 PORT=$PORT_ BASE_URL="$BASE" \
  QUIRE__SESSION__SECRET="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  QUIRE__REDIS__KEY_PREFIX="bench-media-$$:" QUIRE__UPLOADS__DIR="$work/uploads"
"$QUIRE" migrate >/dev/null
QUIRE_PASSWORD=$PASSWORD "$QUIRE" user create --username photographer \
  --email photographer@example.com --role author >/dev/null
"$QUIRE" serve >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

token=$(curl -fs "$BASE/api/users/login" -H 'content-type: application/json' \
  -d "{\"user\":{\"email\":\"photographer@example.com\",\"password\":\"$PASSWORD\"}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["token"])')

start=$(date +%s.%N)
names=()
for n in 1 2 3 4 5; do
  names+=("$(curl -fs "$BASE/api/uploads" -H "Authorization: Token $token" \
    -F "file=@$work/photo-$n.jpg;type=image/jpeg" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["upload"]["name"])')")
done
answered=$(date +%s.%N)
# Wait until the job has made every file.
for _ in $(seq 600); do
  pending=0
  for name in "${names[@]}"; do
    state=$(curl -fs "$BASE/api/uploads/$name" -H "Authorization: Token $token" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["upload"]["state"])')
    [ "$state" = ready ] || pending=$((pending + 1))
  done
  [ "$pending" = 0 ] && break
  sleep 0.5
done
processed=$(date +%s.%N)

body=$(printf 'A day out, in five photos.\n\n'; for name in "${names[@]}"; do printf '![A photo](/uploads/%s)\n\nSome words about it.\n\n' "$name"; done)
slug=$(python3 -c 'import json,sys; print(json.dumps({"article":{"title":"Five photos","description":"A day out","body":sys.argv[1],"tagList":[]}}))' "$body" |
  curl -fs "$BASE/api/articles" -H "Authorization: Token $token" -H 'content-type: application/json' -d @- |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["article"]["slug"])')

dpr3=$(node bench/phone-bytes.mjs "$BASE/posts/$slug" 3)
dpr2=$(node bench/phone-bytes.mjs "$BASE/posts/$slug" 2)
stop

python3 - "$originals" "$start" "$answered" "$processed" "$dpr3" "$dpr2" <<'PY' | tee bench/results/media.md
import json, sys
originals = int(sys.argv[1])
start, answered, processed = map(float, sys.argv[2:5])
runs = [json.loads(a) for a in sys.argv[5:7]]
print("| what | figure |")
print("|---|---:|")
print(f"| five 4000×3000 JPEGs as uploaded | {originals / 1e6:.1f} MB |")
print(f"| five uploads answered (POST /api/uploads) | {answered - start:.2f} s |")
print(f"| until the job made every file of all five | {processed - start:.1f} s |")
for r in runs:
    share = 100 * r["bytes"] / originals
    print(f"| a 390 px phone at DPR {r['dpr']} downloads ({r['images']} images) | {r['bytes'] / 1e3:.0f} kB = {share:.1f}% of the originals |")
for r in runs:
    print()
    print(f"DPR {r['dpr']}: " + ", ".join(f"{f['url'].rsplit('/', 1)[-1][-16:]} {f['bytes'] / 1e3:.0f} kB" for f in r["files"]))
PY
