# bench_mlp's CSV as bars of ms per training step, one panel per model. From the repository root:
#   gnuplot -c benchmarks/plot_mlp.gp [benchmarks/results/mlp.csv] [docs/performance-mlp.svg]
csv = ARG1 eq "" ? "benchmarks/results/mlp.csv" : ARG1
out = ARG2 eq "" ? "docs/performance-mlp.svg" : ARG2
implementations = "Eigen GEMM-only xgrad"

set datafile separator ","
set terminal svg size 960,420 dynamic font "sans,12"
set output out
set style fill solid 0.85 border -1
set boxwidth 0.26
set xrange [0.5:2.5]
set logscale y  # 2-thread figures on a busy machine can be 100x the 1-thread ones
set xtics ("1 thread" 1, "2 threads" 2)
set ylabel "ms per step (median, log scale)"
set key top left
set grid ytics
set multiplot layout 1,2
do for [model in "MLP-BN MLP-small"] {
  set title model." training step"
  # x = threads, each implementation's bar shifted beside the others; other rows are undefined (1/0).
  plot for [i=1:3] csv skip 1 \
    using ($3 + (i - 2) * 0.28):((strcol(1) eq model && strcol(2) eq word(implementations, i)) ? $5 : 1/0) \
    with boxes title word(implementations, i)
}
unset multiplot
