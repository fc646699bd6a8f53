#!/usr/bin/env bash
# Every test: unit tests, the integration tests (the real app over HTTP against PostgreSQL and
# Redis), and the browser flow (headless Chromium driven by playwright-core).
# Needs PostgreSQL at 127.0.0.1:5432 (override with DATABASE_URL), Redis at 127.0.0.1:6379,
# RabbitMQ at 127.0.0.1:5672 (guest/guest) and NATS with JetStream at 127.0.0.1:4222 (.ci/run
# starts them).
# Installs what the browser test needs, once: Debian's chromium, and tests/e2e's npm packages;
# and Debian's varnish and varnish-modules for the edge cache tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium for the browser test" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# Varnish with the xkey vmod (Debian's varnish and varnish-modules): the edge cache the
# tests put in front of the app (tests/it/edge.rs, deploy/varnish/default.vcl).
if ! command -v varnishd >/dev/null 2>&1 \
  || ! ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1; then
  echo "== installing Debian's varnish and varnish-modules for the edge cache tests" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq varnish varnish-modules >/dev/null
fi
if [ ! -d tests/e2e/node_modules/playwright-core ] || [ ! -d tests/e2e/node_modules/newman ] \
  || [ ! -d tests/e2e/node_modules/axe-core ] || [ ! -d tests/e2e/node_modules/graphql-ws ]; then
  echo "== installing playwright-core, newman, axe-core and the GraphQL clients (npm ci in tests/e2e)" >&2
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

# schemathesis (PyPI) for the property-based run against /api/openapi.json, in a venv of its own.
ST_VENV=${CARGO_TARGET_DIR:-target}/schemathesis
if [ ! -x "$ST_VENV/bin/st" ]; then
  echo "== installing schemathesis (pip, into $ST_VENV)" >&2
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

# aiosmtpd (PyPI): the real SMTP server the email tests send to (tests/smtp/sink.py).
SMTP_VENV=${CARGO_TARGET_DIR:-target}/aiosmtpd
if [ ! -x "$SMTP_VENV/bin/python" ] || ! "$SMTP_VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  echo "== installing aiosmtpd (pip, into $SMTP_VENV)" >&2
  python3 -m venv "$SMTP_VENV"
  "$SMTP_VENV/bin/pip" install --quiet --disable-pip-version-check aiosmtpd==1.4.6
fi

# s3s-fs (crates.io): the real S3 server the media tests store to (tests/it/harness.rs,
# S3Server); it checks every request's SigV4 signature, presigned addresses included.
# 0.13.0: later versions need a newer rustc.
S3_ROOT=${CARGO_TARGET_DIR:-target}/s3s-fs
if [ ! -x "$S3_ROOT/bin/s3s-fs" ]; then
  echo "== installing s3s-fs (cargo install, into $S3_ROOT)" >&2
  cargo install s3s-fs@0.13.0 --features binary --locked --root "$S3_ROOT"
fi

# The previous release's binary (the newest v* tag below HEAD), built once into
# target/previous/: tests/it/releases.rs runs it against the newest schema, as a rolling
# deploy does (README, "Migrations and rolling deploys").
TARGET=$(mkdir -p "${CARGO_TARGET_DIR:-target}" && cd "${CARGO_TARGET_DIR:-target}" && pwd)
PREVIOUS=$(git describe --tags --abbrev=0 --match 'v*' HEAD^ 2>/dev/null || true)
if [ -z "$PREVIOUS" ]; then
  # A checkout without tags: v0.28.1, the first release that serves a newer schema, by its
  # commit (keep it the newest release's when tagging one).
  PREVIOUS=v0.28.1
  git rev-parse -q --verify "$PREVIOUS^{commit}" >/dev/null \
    || git tag "$PREVIOUS" b7ddf3d1a62c1b3ddfe82d4a9eb754fade12581e 2>/dev/null \
    || { echo "== no previous release: this checkout has neither the tag nor its commit" >&2; exit 1; }
fi
PREV_DIR=$TARGET/previous/$PREVIOUS
if [ ! -x "$PREV_DIR/quire" ]; then
  echo "== building the previous release, $PREVIOUS, into $PREV_DIR" >&2
  rm -rf "$PREV_DIR/src" && mkdir -p "$PREV_DIR/src"
  git archive "$PREVIOUS" | tar -x -C "$PREV_DIR/src"
  (cd "$PREV_DIR/src" && CARGO_TARGET_DIR=$TARGET/previous/target cargo build --locked --bin quire)
  cp "$TARGET/previous/target/debug/quire" "$PREV_DIR/quire"
fi
export QUIRE_PREVIOUS_BIN=$PREV_DIR/quire QUIRE_PREVIOUS_DIR=$PREV_DIR/src

# The crate's layers: no import circle of more than 10 files, at most 20 imports back up.
python3 scripts/imports.py --check

# The deployment files, offline: the Kubernetes manifests rendered (kustomize) and checked
# against the API schemas, the Compose file against its spec, the Dockerfile and scripts
# linted (a venv of its own under ${CARGO_TARGET_DIR:-target}/deploy-venv).
python3 scripts/validate-deploy.py

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  echo "cargo-nextest not found; falling back to cargo test" >&2
  cargo test --workspace --no-fail-fast "$@"
fi
