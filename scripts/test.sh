#!/usr/bin/env bash
# Every test: unit tests and the integration tests (the real app over HTTP against PostgreSQL).
# Needs PostgreSQL at 127.0.0.1:5432 (override with DATABASE_URL) and Redis at 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  echo "cargo-nextest not found; falling back to cargo test" >&2
  cargo test --workspace --no-fail-fast "$@"
fi
