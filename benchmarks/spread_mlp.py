#!/usr/bin/env python3
"""Runs bench_mlp in N separate processes and prints the spread of issue 17's ratios.

A target "holds in every run" only if it holds in each process: thread pools that fight show up as
some runs far slower than others, which one run's median hides.

  benchmarks/spread_mlp.py [--runs 10] [--steps 200] [--bench build/benchmarks/bench_mlp]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile

TARGETS = [  # (column, what, limit): each must be at most limit in every run
    ("bn_2t_vs_gemm", "MLP-BN 2 threads / GEMM-only 2 threads", 1.15),
    ("bn_2t_vs_1t", "MLP-BN 2 threads / xgrad 1 thread", 0.60),
    ("bn_1t_vs_gemm", "MLP-BN 1 thread / GEMM-only 1 thread", 1.10),
    ("small_1t_vs_eigen", "MLP-small 1 thread / Eigen 1 thread", 0.90),
]


def one_run(bench, steps):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mlp.csv")
        subprocess.run([bench, "--threads", "both", "--steps", str(steps), "--csv", path], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(path) as f:
            rows = list(csv.DictReader(f))
    ms = {(r["model"], r["implementation"], int(r["threads"])): float(r["ms_per_step_median"]) for r in rows}
    cpu = {(r["model"], r["implementation"], int(r["threads"])): float(r["cpu_ms_per_step_median"]) for r in rows}
    xgrad = "xgrad-ib"  # what fit runs: the optimizer inside backward
    return {
        "bn_1t": ms[("MLP-BN", xgrad, 1)],
        "bn_2t": ms[("MLP-BN", xgrad, 2)],
        "bn_2t_cpu": cpu[("MLP-BN", xgrad, 2)],
        "gemm_2t": ms[("MLP-BN", "GEMM-only", 2)],
        "bn_2t_vs_gemm": ms[("MLP-BN", xgrad, 2)] / ms[("MLP-BN", "GEMM-only", 2)],
        "bn_2t_vs_1t": ms[("MLP-BN", xgrad, 2)] / ms[("MLP-BN", xgrad, 1)],
        "bn_1t_vs_gemm": ms[("MLP-BN", xgrad, 1)] / ms[("MLP-BN", "GEMM-only", 1)],
        "small_1t_vs_eigen": ms[("MLP-small", xgrad, 1)] / ms[("MLP-small", "Eigen", 1)],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--bench", default="build/benchmarks/bench_mlp")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"{args.runs} runs of {args.bench} --threads both --steps {args.steps} (load average {load} at start)")
    print(f"{'run':>3} {'BN 1t ms':>9} {'BN 2t ms':>9} {'2t cpu ms':>9} {'GEMM 2t':>8} "
          f"{'2t/GEMM':>8} {'2t/1t':>6} {'1t/GEMM':>8} {'small/Eigen':>11}")
    runs = []
    for i in range(args.runs):
        r = one_run(args.bench, args.steps)
        runs.append(r)
        print(f"{i + 1:>3} {r['bn_1t']:9.2f} {r['bn_2t']:9.2f} {r['bn_2t_cpu']:9.2f} {r['gemm_2t']:8.2f} "
              f"{r['bn_2t_vs_gemm']:8.2f} {r['bn_2t_vs_1t']:6.2f} {r['bn_1t_vs_gemm']:8.2f} "
              f"{r['small_1t_vs_eigen']:11.2f}", flush=True)
    print("\ntarget (xgrad = xgrad-ib, what fit runs)       min  median   max   limit  holds in every run")
    failed = False
    for column, what, limit in TARGETS:
        values = [r[column] for r in runs]
        holds = max(values) <= limit
        failed |= not holds
        print(f"{what:<44} {min(values):5.2f} {statistics.median(values):7.2f} {max(values):5.2f} "
              f"{limit:7.2f}  {'yes' if holds else 'no'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
