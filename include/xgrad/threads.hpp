#pragma once
// One thread setting for BLAS and TBB together: two pools spinning at once fight on 2 cores.
#include <optional>
#include <string>

namespace xg {
// Sets the threads BLAS and TBB may use (n >= 1). Until called, each uses every core.
void set_num_threads(int n);
int num_threads();

// The kernel family OpenBLAS chose for this CPU (e.g. "SkylakeX", "Haswell", "Prescott").
std::string blas_kernel();
// A warning when OpenBLAS fell back to kernels far slower than the CPU supports, saying how to
// pick the right ones (scripts/blas-env.sh does it for the scripts); none when all is well.
std::optional<std::string> blas_kernel_warning();
}  // namespace xg
