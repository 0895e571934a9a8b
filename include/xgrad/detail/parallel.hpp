#pragma once
// The one place loops go parallel. Small tensors stay on the calling thread (a task costs more than
// they do); large ones use every thread set_num_threads allows.
#include <algorithm>
#include <cstddef>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
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

// body(begin, end) for disjoint ranges covering [0, n) items of item_size elements each, one range
// per thread, for kernels whose items are strided (a block of batch norm's channels is a piece of
// every row): a narrow block streams far slower than a wide one, so the blocks are as few and wide
// as the threads allow. Every range starts at a multiple of `align` items: a kernel whose SIMD loop
// runs across the items then meets each item in the same lane of the same loop whatever the split,
// so its results do not depend on the number of threads.
template <class Body>
void parallel_blocks(std::size_t n, std::size_t item_size, std::size_t align, Body&& body) {
  using tbb::global_control;
  const std::size_t threads = global_control::active_value(global_control::max_allowed_parallelism);
  const std::size_t blocks = (n + align - 1) / align;
  const std::size_t parts = std::min({threads, blocks, n * item_size / parallel_grain});
  if (parts < 2) {
    body(std::size_t(0), n);
    return;
  }
  const auto bound = [&](std::size_t part) { return std::min(n, blocks * part / parts * align); };
  tbb::parallel_for(std::size_t(0), parts, [&](std::size_t part) { body(bound(part), bound(part + 1)); });
}

}  // namespace xg::detail
