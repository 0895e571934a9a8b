#pragma once
// A move-only function object that keeps its callable inline. std::function allocates for any
// capture bigger than two pointers, and every op's backward closure is bigger (it holds its
// inputs' nodes), so a step would allocate once per op. Callables larger than Capacity bytes still
// work: they go to the heap.
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace xg::detail {

template <class Signature, std::size_t Capacity>
class InlineFunction;

template <class R, class... Args, std::size_t Capacity>
class InlineFunction<R(Args...), Capacity> {
 public:
  InlineFunction() = default;
  InlineFunction(std::nullptr_t) {}  // NOLINT: as std::function

  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, InlineFunction> && std::is_invocable_r_v<R, F&, Args...>)
  InlineFunction(F&& f) {  // NOLINT: implicit, as std::function
    using Callable = std::remove_cvref_t<F>;
    if constexpr (fits_inline<Callable>) {
      ::new (static_cast<void*>(storage_)) Callable(std::forward<F>(f));
      ops_ = &inline_ops<Callable>;
    } else {
      ::new (static_cast<void*>(storage_)) Callable*(new Callable(std::forward<F>(f)));
      ops_ = &heap_ops<Callable>;
    }
  }

  InlineFunction(InlineFunction&& other) noexcept { take(other); }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  InlineFunction& operator=(std::nullptr_t) {
    reset();
    return *this;
  }
  ~InlineFunction() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

 private:
  struct Ops {
    R (*invoke)(void* storage, Args&&... args);
    void (*move)(void* from, void* to);  // move-constructs at `to` and destroys `from`
    void (*destroy)(void* storage);
  };

  template <class C>
  static constexpr bool fits_inline = sizeof(C) <= Capacity && alignof(C) <= alignof(std::max_align_t) &&
                                      std::is_nothrow_move_constructible_v<C>;

  template <class C>
  static constexpr Ops inline_ops{
      [](void* s, Args&&... args) -> R { return (*static_cast<C*>(s))(std::forward<Args>(args)...); },
      [](void* from, void* to) {
        ::new (to) C(std::move(*static_cast<C*>(from)));
        static_cast<C*>(from)->~C();
      },
      [](void* s) { static_cast<C*>(s)->~C(); }};

  template <class C>
  static constexpr Ops heap_ops{
      [](void* s, Args&&... args) -> R { return (**static_cast<C**>(s))(std::forward<Args>(args)...); },
      [](void* from, void* to) { ::new (to) C*(*static_cast<C**>(from)); },
      [](void* s) { delete *static_cast<C**>(s); }};

  void take(InlineFunction& other) noexcept {
    if (!other.ops_) return;
    other.ops_->move(other.storage_, storage_);
    ops_ = std::exchange(other.ops_, nullptr);
  }
  void reset() {
    if (ops_) std::exchange(ops_, nullptr)->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[Capacity];
  const Ops* ops_ = nullptr;
};

}  // namespace xg::detail
