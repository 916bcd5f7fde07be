#!/usr/bin/env bash
# Install (or reuse) .venv with the test requirements, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/venv.sh requirements-test.txt
python -m pytest -q "$@"
