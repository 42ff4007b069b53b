#!/usr/bin/env bash
# Installs what is missing, starts the lab Asterisk on loopback, and runs the daemon
# on its embedded defaults (lab AMI, SQLite file var/callcenter.db). Ctrl-C stops the
# daemon; `.venv/bin/callcenter lab down` stops the lab. Extra arguments go to `run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-python-env.sh
.venv/bin/callcenter lab up
exec .venv/bin/callcenter run "$@"
