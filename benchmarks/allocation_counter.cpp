#include "allocation_counter.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> new_calls{0}, malloc_calls{0}, malloc_bytes{0};
}  // namespace

// malloc is interposed by defining it in the executable and forwarding to glibc's own entry points
// (no dlsym, which would itself allocate). free needs no hook.
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer interposes malloc itself
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t size) {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(long(size), std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(long(n * size), std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(long(size), std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(long(size), std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(long(size), std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(long(size), std::memory_order_relaxed);
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

namespace {
void* counted_new(std::size_t size, std::size_t alignment = 0) {
  new_calls.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = alignment > alignof(std::max_align_t) ? aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)
                                                   : malloc(size);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t size) { return counted_new(size); }
void* operator new[](std::size_t size) { return counted_new(size); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_new(size, std::size_t(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_new(size, std::size_t(a)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace xg::bench {

AllocationCounts allocation_counts() {
  return {new_calls.load(std::memory_order_relaxed), malloc_calls.load(std::memory_order_relaxed),
          malloc_bytes.load(std::memory_order_relaxed)};
}

}  // namespace xg::bench
