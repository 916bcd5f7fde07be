#!/usr/bin/env bash
# Install (or reuse) .venv, then run the built-in demo end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/venv.sh requirements.txt
python -m unpicker.commands.demo "$@"
