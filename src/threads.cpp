#include "xgrad/threads.hpp"

#include <cblas.h>

#include <memory>
#include <string>
#include <thread>

#include <oneapi/tbb/global_control.h>

#include "xgrad/errors.hpp"

namespace xg {

namespace {
std::unique_ptr<tbb::global_control> tbb_limit;
int current = 0;
}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw value_error("set_num_threads: need at least 1 thread, got " + std::to_string(n));
  openblas_set_num_threads(n);
  tbb_limit.reset();  // only one global_control of a kind should be alive
  tbb_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, n);
  current = n;
}

int num_threads() {
  return current ? current : openblas_get_num_threads();
}

}  // namespace xg
