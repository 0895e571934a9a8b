#!/usr/bin/env bash
# One run that times the CNN recipe's training step in xgrad (bench_conv --step-only) and in PyTorch
# 1.13 (torch_recipes.py --model cnn), alternating, with 1 and 2 threads: compare the ratios, never absolute times
# from different runs (docs/performance.md). Needs Debian's python3-torch and a configured build/.
#   benchmarks/compare_cnn.sh [rounds, default 3] [steps per round, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
rounds=${1:-3} steps=${2:-20}
ninja -C build benchmarks/bench_conv >/dev/null
echo "$(lscpu | sed -n 's/^Model name: *//p'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    build/benchmarks/bench_conv --step-only --threads "$threads" --steps "$steps" | grep ms/step
    /usr/bin/python3 benchmarks/torch_recipes.py --model cnn --threads "$threads" --steps "$steps"
  done
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
