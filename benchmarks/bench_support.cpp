#include "bench_support.hpp"

#include <omp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <thread>

#include <Eigen/Core>
#include <xgrad/threads.hpp>

extern "C" char* openblas_get_corename();
extern "C" void openblas_set_num_threads(int);

namespace xg::bench {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

void use_threads(int n) {
  xg::set_num_threads(n);     // TBB (xgrad's loops and products) and oneDNN's OpenMP
  openblas_set_num_threads(1);  // xgrad's setting, which the GEMM-only floor raises for itself
  omp_set_num_threads(n);
  Eigen::setNbThreads(n);
  // OpenBLAS's workers spin ~2^28 cycles (~0.1 s) after their last job, libgomp's ~300k spins.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

void ensure_benchmark_environment(char** argv) {
  bool changed = false;
  auto set_if_unset = [&](const char* name, const char* value) {
    if (std::getenv(name)) return;
    std::fprintf(stderr, "bench: setting %s=%s\n", name, value);
    setenv(name, value, 1);
    changed = true;
  };
  if (std::string_view(blas_kernel_name()) == "Prescott" && __builtin_cpu_supports("avx512f"))
    set_if_unset("OPENBLAS_CORETYPE", "SkylakeX");
  set_if_unset("OMP_WAIT_POLICY", "passive");
  if (!changed) return;
  std::fprintf(stderr, "bench: re-running with the settings above\n");
  execv("/proc/self/exe", argv);
  std::perror("execv /proc/self/exe");  // only reached if the re-execution failed: carry on
}

const char* blas_kernel_name() { return openblas_get_corename(); }

double StepTimes::quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[std::size_t(q * double(values.size() - 1) + 0.5)];
}

namespace {
double cpu_now_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
}  // namespace

StepTimes time_steps(const std::function<void()>& step, int warmup, int steps) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup; ++i) step();
  StepTimes result;
  result.ms.reserve(steps);
  result.cpu_ms.reserve(steps);
  const AllocationCounts before = allocation_counts();
  for (int i = 0; i < steps; ++i) {
    const double cpu0 = cpu_now_ms();
    const auto t0 = clock::now();
    step();
    result.ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    result.cpu_ms.push_back(cpu_now_ms() - cpu0);
  }
  const AllocationCounts after = allocation_counts();
  result.news_per_step = double(after.news - before.news) / steps;
  result.mallocs_per_step = double(after.mallocs - before.mallocs) / steps;
  return result;
}

}  // namespace xg::bench
