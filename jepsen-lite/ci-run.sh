#!/bin/sh
# CI's jepsen-lite run: about 30 s of workload against 5 real fedctl nodes with partition and
# kill nemeses. Exits 0 only if every checker passed. The run directory (history.jsonl,
# results.json, report.html, node logs) is kept for the CI artifacts.
#   jepsen-lite/ci-run.sh [OUT_DIR] [SEED]
set -eu
cd "$(dirname "$0")/.."
OUT="${1:-jepsen-lite-runs/ci-$(date +%Y%m%dT%H%M%S)}"
SEED="${2:-$(node -e 'console.log(Math.floor(Math.random() * 4294967296))')}"
exec node --import tsx jepsen-lite/main.ts run --nodes 5 --time 30 --rate 20 --concurrency 10 \
  --nemesis partition,kill --seed "$SEED" --out "$OUT"
