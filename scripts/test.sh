#!/usr/bin/env bash
# Installs everything the tests need (system packages, Python env), then runs the
# linters, the type checker and every test: unit and integration (real lab Asterisk,
# real sipp calls, real PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-python-env.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import-linter"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
