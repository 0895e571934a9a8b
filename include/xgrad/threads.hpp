#pragma once
// One thread setting for BLAS and TBB together: two pools spinning at once fight on 2 cores.
namespace xg {
// Sets the threads BLAS and TBB may use (n >= 1). Until called, XG_NUM_THREADS or the core count.
void set_num_threads(int n);
int num_threads();
}  // namespace xg
