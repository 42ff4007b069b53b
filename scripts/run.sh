#!/usr/bin/env bash
# Installs what is missing, starts the lab Asterisk on loopback, and runs the daemon
# on its embedded defaults (lab AMI, SQLite file var/callcenter.db). Ctrl-C stops the
# daemon; `.venv/bin/callcenter lab down` stops the lab. Extra arguments go to `run`.
# With --demo first, the living demo instead (`callcenter lab demo`: the daemon, agents on
# softphones and a stream of callers); the arguments after it go to `lab demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-python-env.sh
if [ "${1:-}" = "--demo" ]; then
  shift
  exec .venv/bin/callcenter lab demo "$@"
fi
.venv/bin/callcenter lab up
exec .venv/bin/callcenter run "$@"
