#!/usr/bin/env bash
# Quick start: set up, then analyse the bundled real seizure recording.
# Writes dbrain-sample-report/ with report.html, report.pdf, events.tsv,
# annotations.edf and summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/dbrain analyze dbrain/data/sample/iiic_seizure_sample.edf --out dbrain-sample-report --overwrite
echo "open dbrain-sample-report/report.html (or report.pdf)"
