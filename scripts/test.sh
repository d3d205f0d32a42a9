#!/usr/bin/env bash
# Runs every check and test of drivegate: installs the system packages the tests need when missing
# (Debian, as root), builds, type-checks, lints, checks formatting, then runs node's test runner
# over every *.test.js that the build produced. Services the tests need are started by
# scripts/services.sh on loopback and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh

bin=node_modules/.bin

echo "== build + typecheck (tsc, strict; a clean dist/ so no stale test survives)"
rm -rf dist
"$bin/tsc" -p tsconfig.json

echo "== format (prettier --check)"
"$bin/prettier" --check . >/dev/null || { "$bin/prettier" --check . ; exit 1; }

echo "== lint (eslint)"
"$bin/eslint" .

echo "== PostgreSQL for the registry tests (scripts/pg.sh, loopback)"
pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/drivegate-pg.XXXXXX")"
trap 'bash scripts/pg.sh stop "$pg_dir"' EXIT
DRIVEGATE_TEST_PG_URL="$(bash scripts/pg.sh start "$pg_dir")"
export DRIVEGATE_TEST_PG_URL
echo "PostgreSQL at $DRIVEGATE_TEST_PG_URL"

echo "== tests (node --test)"
mapfile -t files < <(find dist/src dist/bench -name '*.test.js' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
node --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
