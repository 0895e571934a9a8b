#pragma once
// What every benchmark program needs: allocation counters (allocation_counter.hpp), peak RSS,
// per-step timing and one thread setting for all pools. Compile bench_support.cpp and
// allocation_counter.cpp into each program.
#include <cstddef>
#include <functional>
#include <vector>

#include "allocation_counter.hpp"

namespace xg::bench {

double peak_rss_mb();

// Two settings that libraries read only when they load, so this sets them and re-executes the
// program (once; values already in the environment are kept). Call first thing in main.
// - OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise some AVX-512 CPUs under KVM (Intel model 207
//   here) and falls back to its SSE3 "Prescott" kernels, ~5x slower: OPENBLAS_CORETYPE=SkylakeX.
// - libgomp's threads spin after a parallel region; on a busy 2-core machine a spinning thread
//   holds a core the other one needs (a 2-thread Adam update took 20 ms instead of 0.6 ms):
//   OMP_WAIT_POLICY=passive, as DESIGN.md's libtorch measurements advise.
void ensure_benchmark_environment(char** argv);
const char* blas_kernel_name();  // the process's high-water mark so far (getrusage), not this step's

// Sets BLAS, TBB, OpenMP and Eigen to n threads together, then waits for pools that were just busy
// to stop spinning, so that two pools never spin at once across benchmark cases.
void use_threads(int n);

struct StepTimes {
  std::vector<double> ms;  // wall-clock, one per timed step, in run order
  // Process CPU time (all threads) per step: on a shared machine a 1-thread figure that excludes
  // the time the thread waited for a core.
  std::vector<double> cpu_ms;
  double news_per_step = 0, mallocs_per_step = 0;
  double median_ms() const { return quantile(ms, 0.5); }
  double quantile_ms(double q) const { return quantile(ms, q); }
  double median_cpu_ms() const { return quantile(cpu_ms, 0.5); }
  static double quantile(std::vector<double> values, double q);
};
// `warmup` untimed steps, then `steps` steps each timed on their own.
StepTimes time_steps(const std::function<void()>& step, int warmup, int steps);

}  // namespace xg::bench
