#include "xgrad/threads.hpp"

#include <cblas.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <oneapi/tbb/global_control.h>

#include "xgrad/errors.hpp"

namespace xg {

namespace {
std::unique_ptr<tbb::global_control> tbb_limit;
int current = 0;
std::atomic<int> openmp_team{0};  // read by oneDNN calls on any thread
}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw value_error("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  openblas_set_num_threads(n);
  tbb_limit.reset();  // only one global_control of a kind should be alive
  tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, n);
  current = n;
  openmp_team = n;
}

std::string blas_kernel() { return openblas_get_corename(); }

std::optional<std::string> blas_kernel_warning() {
  const std::string kernel = blas_kernel();
  const bool slow_kernel = kernel == "Prescott" || kernel == "Core2" || kernel == "Nehalem";
  if (!slow_kernel || !__builtin_cpu_supports("avx2")) return std::nullopt;
  const char* better = __builtin_cpu_supports("avx512bw") ? "SkylakeX" : "Haswell";
  return "OpenBLAS uses its " + kernel + " kernels on this CPU, which supports far faster ones (it does not "
         "recognise the CPU); matrix products run about 4x slower. Set OPENBLAS_CORETYPE=" + better +
         " before starting the program (scripts/blas-env.sh does).";
}

int num_threads() {
  return current ? current : openblas_get_num_threads();
}

TaskParallelism::TaskParallelism(int tasks) : previous_setting_(current), previous_blas_threads_(openblas_get_num_threads()) {
  if (tasks < 1) throw value_error("TaskParallelism: need at least 1 task at a time, got " + std::to_string(tasks));
  openblas_set_num_threads(1);
  openmp_team = 1;
  tbb_limit.reset();
  tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, tasks);
}

TaskParallelism::~TaskParallelism() {
  if (previous_setting_) {
    set_num_threads(previous_setting_);
  } else {
    openblas_set_num_threads(previous_blas_threads_);
    openmp_team = 0;
    tbb_limit.reset();
  }
}

namespace detail {
int openmp_threads() { return openmp_team.load(std::memory_order_relaxed); }
}  // namespace detail

}  // namespace xg
