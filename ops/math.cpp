// exp, log, sqrt, abs, log1p, expm1; minimum, maximum and clamp; the comparisons (masks).
#include <cmath>

#include <xtensor/xoperation.hpp>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {
using detail::Kernel;

template <class T>
TensorT<T> exp(const TensorT<T>& x) {
  return detail::unary_op<Kernel::expressions>(
      "exp", x, [](const auto& v) { return xt::exp(v); }, [](const auto&, const auto& out) { return out; });
}

// At x = 0 the derivative 1/x is +Inf (-Inf for -0), as PyTorch's.
template <class T>
TensorT<T> log(const TensorT<T>& x) {
  return detail::unary_op<Kernel::expressions>(
      "log", x, [](const auto& v) { return xt::log(v); }, [](const auto& in, const auto&) { return T(1) / in; });
}

// At x = 0 the derivative 1/(2 sqrt(x)) is +Inf, as PyTorch's.
template <class T>
TensorT<T> sqrt(const TensorT<T>& x) {
  return detail::unary_op<Kernel::expressions>(
      "sqrt", x, [](const auto& v) { return xt::sqrt(v); }, [](const auto&, const auto& out) { return T(0.5) / out; });
}

// The subgradient 0 at the kink x = 0, as PyTorch.
template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  return detail::unary_op<Kernel::expressions>(
      "abs", x, [](const auto& v) { return xt::abs(v); }, [](const auto& in, const auto&) { return xt::sign(in); });
}

// Accurate near 0, where log(1 + x) and exp(x) - 1 lose every digit of a small x.
template <class T>
TensorT<T> log1p(const TensorT<T>& x) {
  return detail::unary_op<detail::Kernel::loops>(
      "log1p", x, [](T v) { return std::log1p(v); }, [](T in, T) { return T(1) / (T(1) + in); });
}

template <class T>
TensorT<T> expm1(const TensorT<T>& x) {
  return detail::unary_op<detail::Kernel::loops>(
      "expm1", x, [](T v) { return std::expm1(v); }, [](T, T out) { return out + T(1); });
}

namespace {
// binary_op runs the value and the partial derivatives on numbers (plain loops) and on xtensor
// expressions (broadcasting); these helpers are the few pieces that must be spelt differently.
template <class X>
constexpr bool is_expression = xt::is_xexpression<X>::value;

// x is max(x, y) (Max) or min(x, y): it is greater (smaller), or NaN, which both propagate, as in
// PyTorch.
template <bool Max, class X, class Y>
auto wins(const X& x, const Y& y) {
  if constexpr (is_expression<X>) {
    if constexpr (Max) return xt::isnan(x) || xt::greater(x, y);
    else return xt::isnan(x) || xt::less(x, y);
  } else {
    return std::isnan(x) || (Max ? x > y : x < y);
  }
}

template <class C, class X, class Y>
auto select(C&& c, const X& x, const Y& y) {
  if constexpr (is_expression<std::decay_t<C>>) return xt::where(std::forward<C>(c), x, y);
  else return c ? x : y;
}

// d max(x, y)/dx: 1 where x is greater, 0 where it is smaller and 1/2 at a tie: PyTorch's maximum
// and minimum split the gradient evenly between equal inputs (and the numerical derivative agrees).
template <class T, class X, class Y>
auto max_share(const X& x, const Y& y) {
  if constexpr (is_expression<X>) return xt::where(xt::equal(x, y), T(0.5), xt::cast<T>(xt::greater(x, y)));
  else return x == y ? T(0.5) : T(x > y);
}
}  // namespace

template <class T>
TensorT<T> maximum(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "maximum", a, b, [](const auto& x, const auto& y) { return select(wins<true>(x, y), x, y); },
      [](const auto& x, const auto& y, const auto&) { return max_share<T>(x, y); },
      [](const auto& x, const auto& y, const auto&) { return max_share<T>(y, x); });
}

// x's share of min(x, y) is y's share of max(x, y).
template <class T>
TensorT<T> minimum(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "minimum", a, b, [](const auto& x, const auto& y) { return select(wins<false>(x, y), x, y); },
      [](const auto& x, const auto& y, const auto&) { return max_share<T>(y, x); },
      [](const auto& x, const auto& y, const auto&) { return max_share<T>(x, y); });
}

// The gradient passes where lo <= x <= hi, bounds included (PyTorch's rule); NaN stays NaN.
template <class T>
TensorT<T> clamp(const TensorT<T>& x, scalar_of<T> lo, scalar_of<T> hi) {
  if (!(lo <= hi))
    throw value_error("clamp: the bounds [" + std::to_string(lo) + ", " + std::to_string(hi) +
                      "] are not an interval (lo <= hi, neither NaN)");
  return detail::unary_op<detail::Kernel::loops>(
      "clamp", x, [lo, hi](T v) { return std::min(std::max(v, lo), hi); },
      [lo, hi](T in, T) { return in >= lo && in <= hi ? T(1) : T(0); });
}

namespace {
// A constant mask (1 where the comparison holds, else 0) of the broadcast shape.
template <class T, class Compare>
TensorT<T> comparison(const char* op, const TensorT<T>& a, const TensorT<T>& b, Compare compare) {
  array<T> out = detail::new_buffer<T>(detail::broadcast_shapes(op, detail::to_shape(a.shape()), detail::to_shape(b.shape())));
  xt::noalias(out) = xt::cast<T>(compare(a.value(), b.value()));
  return detail::make_result<T>(op, std::move(out), std::initializer_list<const TensorT<T>*>{},
                                [](const array<T>&, const array<T>&) {});
}
}  // namespace

template <class T>
TensorT<T> equal(const TensorT<T>& a, const TensorT<T>& b) {
  return comparison("equal", a, b, [](const auto& x, const auto& y) { return xt::equal(x, y); });
}
template <class T>
TensorT<T> not_equal(const TensorT<T>& a, const TensorT<T>& b) {
  return comparison("not_equal", a, b, [](const auto& x, const auto& y) { return xt::not_equal(x, y); });
}
template <class T>
TensorT<T> less(const TensorT<T>& a, const TensorT<T>& b) {
  return comparison("less", a, b, [](const auto& x, const auto& y) { return xt::less(x, y); });
}
template <class T>
TensorT<T> less_equal(const TensorT<T>& a, const TensorT<T>& b) {
  return comparison("less_equal", a, b, [](const auto& x, const auto& y) { return xt::less_equal(x, y); });
}
template <class T>
TensorT<T> greater(const TensorT<T>& a, const TensorT<T>& b) {
  return comparison("greater", a, b, [](const auto& x, const auto& y) { return xt::greater(x, y); });
}
template <class T>
TensorT<T> greater_equal(const TensorT<T>& a, const TensorT<T>& b) {
  return comparison("greater_equal", a, b, [](const auto& x, const auto& y) { return xt::greater_equal(x, y); });
}

#define DECLARE(T)                                                               \
  template TensorT<T> exp(const TensorT<T>&);                                    \
  template TensorT<T> log(const TensorT<T>&);                                    \
  template TensorT<T> sqrt(const TensorT<T>&);                                   \
  template TensorT<T> abs(const TensorT<T>&);                                    \
  template TensorT<T> log1p(const TensorT<T>&);                                  \
  template TensorT<T> expm1(const TensorT<T>&);                                  \
  template TensorT<T> maximum(const TensorT<T>&, const TensorT<T>&);             \
  template TensorT<T> minimum(const TensorT<T>&, const TensorT<T>&);             \
  template TensorT<T> clamp(const TensorT<T>&, scalar_of<T>, scalar_of<T>);      \
  template TensorT<T> equal(const TensorT<T>&, const TensorT<T>&);               \
  template TensorT<T> not_equal(const TensorT<T>&, const TensorT<T>&);           \
  template TensorT<T> less(const TensorT<T>&, const TensorT<T>&);                \
  template TensorT<T> less_equal(const TensorT<T>&, const TensorT<T>&);          \
  template TensorT<T> greater(const TensorT<T>&, const TensorT<T>&);             \
  template TensorT<T> greater_equal(const TensorT<T>&, const TensorT<T>&);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
