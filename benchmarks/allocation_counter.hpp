#pragma once
// Counts heap allocations: a replaced global operator new, and an interposed malloc/calloc/realloc/
// aligned allocation (which also sees operator new's own calls, and xtensor's aligned buffers).
// Compile allocation_counter.cpp into the executable itself: the replacements must be defined there.
// Under AddressSanitizer, which interposes malloc itself, only operator new is counted.

namespace xg::bench {

struct AllocationCounts {
  long news = 0, mallocs = 0;
  long malloc_bytes = 0;  // requested by the counted mallocs (0 under AddressSanitizer)
};
AllocationCounts allocation_counts();

}  // namespace xg::bench
