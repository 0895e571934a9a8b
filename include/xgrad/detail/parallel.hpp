#pragma once
// The one place loops go parallel. Small tensors stay on the calling thread (a task costs more than
// they do); large ones use every thread set_num_threads allows.
#include <algorithm>
#include <cstddef>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

namespace xg::detail {

inline constexpr std::size_t parallel_grain = std::size_t(1) << 16;

// body(begin, end) for disjoint ranges covering [0, n) elements, each of at least parallel_grain
// elements; TBB balances them between the threads.
template <class Body>
void parallel_ranges(std::size_t n, Body&& body) {
  if (n < 2 * parallel_grain) {
    body(std::size_t(0), n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, parallel_grain),
                    [&](const tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); });
}

// How many parts of at least parallel_grain elements n elements make, at least one and at most
// `units` (the pieces that may not be split). For kernels whose parts are fixed by the shape alone,
// so that partial results combined in part order are the same whatever the number of threads.
inline std::size_t parallel_part_count(std::size_t n, std::size_t units) {
  return std::clamp(n / parallel_grain, std::size_t(1), std::max(units, std::size_t(1)));
}

// body(part) for every part in [0, parts), in parallel.
template <class Body>
void parallel_parts(std::size_t parts, Body&& body) {
  if (parts < 2) {
    body(std::size_t(0));
    return;
  }
  tbb::parallel_for(std::size_t(0), parts, [&](std::size_t part) { body(part); });
}

}  // namespace xg::detail
