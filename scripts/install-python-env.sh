#!/usr/bin/env bash
# Creates .venv with the project and its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# setuptools >= 77 reads the SPDX license string; tests/packaging builds the wheel with this
# venv's own setuptools (no build isolation, so no network during the tests).
.venv/bin/python -m pip install -q --upgrade pip 'setuptools>=77' >/dev/null
.venv/bin/python -m pip install -q -e '.[dev,bench]'
