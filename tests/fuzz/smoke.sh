#!/usr/bin/env bash
# A bounded fuzz run: smoke.sh FUZZER SEED_CORPUS WORK_DIR SECONDS. New inputs go to WORK_DIR, never
# into the committed corpus; a crash leaves its input in WORK_DIR and fails the run.
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 seconds=$4
mkdir -p "$work/new"
rm -f "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*  # an earlier run's findings
if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$work/" "$work/new" "$corpus"; then
  echo "fuzz: $(basename "$fuzzer") crashed; the input is in $work/ (crash-*, timeout-*, oom-*)." >&2
  echo "Copy it into $corpus/ so that the replay tests keep it as a regression test, then fix the bug." >&2
  exit 1
fi
