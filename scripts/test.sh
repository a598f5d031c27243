#!/usr/bin/env bash
# Set up with the test tools and run the whole test suite.
# Real recordings are read from ../shared/data (or $DBRAIN_SHARED_DATA);
# tests that need them skip with a message when they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check dbrain benchmarks scripts examples
.venv/bin/ruff format --check dbrain benchmarks scripts examples
.venv/bin/python -m pytest "$@"
