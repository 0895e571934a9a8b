#pragma once
// One thread setting for TBB and oneDNN's OpenMP together: two pools spinning at once fight on 2
// cores. BLAS runs single-threaded in each call (loading libxgrad sets OpenBLAS to one thread):
// xgrad cuts a large product into blocks that run on TBB's threads, so BLAS's own pool never spins
// beside TBB's.
#include <optional>
#include <string>

namespace xg {
// Sets the threads TBB (element-wise loops, matrix products) and oneDNN (conv2d, pooling) may use
// (n >= 1). Until called, each uses every core. OpenMP's idle threads wait passively
// (src/openmp_wait_policy.cpp).
void set_num_threads(int n);
int num_threads();

// For n independent tasks that each do their own matrix products (tuning trials in parallel): while
// alive, each product and oneDNN call runs on its task's thread alone and TBB may run n tasks at
// once. It lifts a lower set_num_threads limit meanwhile (a TBB limit caps every arena) and restores
// the previous setting when it goes away.
class TaskParallelism {
 public:
  explicit TaskParallelism(int tasks);
  ~TaskParallelism();
  TaskParallelism(const TaskParallelism&) = delete;
  TaskParallelism& operator=(const TaskParallelism&) = delete;

 private:
  int previous_setting_;
};

// The kernel family OpenBLAS chose for this CPU (e.g. "SkylakeX", "Haswell", "Prescott").
std::string blas_kernel();
// A warning when OpenBLAS fell back to kernels far slower than the CPU supports, saying how to
// pick the right ones (scripts/blas-env.sh does it for the scripts); none when all is well.
std::optional<std::string> blas_kernel_warning();

namespace detail {
// The threads one library call (a matrix product, a oneDNN primitive's OpenMP team) may use from
// the calling thread: the set_num_threads setting, 1 while TaskParallelism is alive, every core
// before either.
int threads_per_call();
}  // namespace detail
}  // namespace xg
