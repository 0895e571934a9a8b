#include "xgrad/threads.hpp"

#include <cblas.h>

#include <atomic>
#include <memory>
#include <string>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include "xgrad/errors.hpp"

namespace xg {

namespace {
std::unique_ptr<tbb::global_control> tbb_limit;
int current = 0;
std::atomic<int> call_threads{0};  // read by products and oneDNN calls on any thread

// Every core this process may run on, as TBB counts them (the affinity mask included).
int all_cores() { return tbb::info::default_concurrency(); }

// OpenBLAS's own pool stays idle: products share the cores through TBB (ops/linalg.cpp). Set when
// the library loads, before any product runs.
[[maybe_unused]] const bool blas_single_threaded = [] {
  openblas_set_num_threads(1);
  return true;
}();
}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw value_error("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  tbb_limit.reset();  // only one global_control of a kind should be alive
  tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, n);
  current = n;
  call_threads = n;
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

int num_threads() { return current ? current : all_cores(); }

TaskParallelism::TaskParallelism(int tasks) : previous_setting_(current) {
  if (tasks < 1) throw value_error("TaskParallelism: need at least 1 task at a time, got " + std::to_string(tasks));
  call_threads = 1;
  tbb_limit.reset();
  tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, tasks);
}

TaskParallelism::~TaskParallelism() {
  if (previous_setting_) {
    set_num_threads(previous_setting_);
  } else {
    call_threads = 0;
    tbb_limit.reset();
  }
}

namespace detail {
int threads_per_call() {
  const int n = call_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : all_cores();
}
}  // namespace detail

}  // namespace xg
