#!/usr/bin/env bash
# Builds every wheel a site without internet needs: the project's own and one for each
# runtime dependency (downloaded as a wheel, or built here when a dependency ships none),
# into one folder. Run it where pip can reach the package index, on the same Debian release,
# CPU and Python minor version as the site (psycopg-binary and pydantic-core are compiled
# wheels). Then, on the site:
#
#   python3 -m venv /opt/callcenter
#   /opt/callcenter/bin/pip install --no-index --find-links wheelhouse callcenter
#
# Usage: scripts/build-wheelhouse.sh [DIR]    (default: wheelhouse/ in the current folder)
# PYTHON picks the interpreter (default: this checkout's .venv, else python3).
set -euo pipefail
out=$(realpath -m "${1:-wheelhouse}")
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
[ -x "$python" ] || python=python3
mkdir -p "$out"
# Built from a copy of what an sdist holds: setuptools builds in the source folder, and a
# stale build/ there can carry deleted modules into the wheel.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/LICENSE" "$repo/callcenter" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
# pip wheel resolves the dependencies exactly as `pip install` would and keeps a wheel of
# each (the dev and bench extras are not asked for, so none of theirs).
"$python" -m pip wheel --quiet --wheel-dir "$out" "$src"
# The folder must be whole: resolve the site's install from it alone, installing nothing.
"$python" -m pip install --quiet --dry-run --ignore-installed --no-index \
  --find-links "$out" callcenter
echo "build-wheelhouse: $(find "$out" -name '*.whl' | wc -l) wheels in $out"
