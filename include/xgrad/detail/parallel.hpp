#pragma once
// The one place element loops go parallel: TBB splits [0, n) into ranges of at least
// parallel_grain elements, so small tensors stay on the calling thread (a task costs more than
// they do) and large ones use every thread set_num_threads allows.
#include <cstddef>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

namespace xg::detail {

inline constexpr std::size_t parallel_grain = std::size_t(1) << 16;

// body(begin, end) for disjoint ranges covering [0, n).
template <class Body>
void parallel_ranges(std::size_t n, Body&& body) {
  if (n < 2 * parallel_grain) {
    body(std::size_t(0), n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, parallel_grain),
                    [&](const tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); });
}

}  // namespace xg::detail
