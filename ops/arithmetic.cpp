// add, sub, mul, div, neg, pow, affine: broadcasting arithmetic, and arithmetic with a number.
#include <cmath>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {
using detail::Kernel;
using detail::Reads;

// The partial derivatives take (x, y, out) and work on numbers and on whole arrays alike.
template <class T>
TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "add", a, b, [](const auto& x, const auto& y) { return x + y; },
      [](const auto&, const auto&, const auto&) { return T(1); },
      [](const auto&, const auto&, const auto&) { return T(1); }, Reads::nothing);
}

template <class T>
TensorT<T> sub(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "sub", a, b, [](const auto& x, const auto& y) { return x - y; },
      [](const auto&, const auto&, const auto&) { return T(1); },
      [](const auto&, const auto&, const auto&) { return T(-1); }, Reads::nothing);
}

template <class T>
TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "mul", a, b, [](const auto& x, const auto& y) { return x * y; },
      [](const auto&, const auto& y, const auto&) -> const auto& { return y; },
      [](const auto& x, const auto&, const auto&) -> const auto& { return x; });
}

template <class T>
TensorT<T> div(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "div", a, b, [](const auto& x, const auto& y) { return x / y; },
      [](const auto&, const auto& y, const auto&) { return T(1) / y; },
      [](const auto&, const auto& y, const auto& out) { return -out / y; });  // d(x/y)/dy = -(x/y)/y
}

template <class T>
TensorT<T> neg(const TensorT<T>& x) {
  return detail::unary_op<Kernel::loops>(
      "neg", x, [](T v) { return -v; }, [](T, T) { return T(-1); }, Reads::nothing);
}

// d(x^p)/dx = p x^(p-1), and 0 for p = 0 everywhere, x = 0 included (where p * 0^-1 would be NaN),
// as PyTorch. For 0 < p < 1 the derivative at x = 0 is +Inf, as PyTorch's.
template <class T>
TensorT<T> pow(const TensorT<T>& x, scalar_of<T> p) {
  // Plain loops with std::pow: xsimd's pow trips GCC 12's -Wuninitialized inside the AVX-512
  // intrinsics, and pow is rare in hot paths.
  return detail::unary_op<Kernel::loops>(
      "pow", x, [p](T v) { return std::pow(v, p); },
      [p](T in, T) { return p == T(0) ? T(0) : p * std::pow(in, p - T(1)); });
}

template <class T>
TensorT<T> affine(const TensorT<T>& x, scalar_of<T> scale, scalar_of<T> shift) {
  return detail::unary_op<Kernel::loops>(
      "affine", x, [scale, shift](T v) { return scale * v + shift; }, [scale](T, T) { return scale; },
      Reads::nothing);
}

#define DECLARE(T)                                                    \
  template TensorT<T> add(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> sub(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> mul(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> div(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> neg(const TensorT<T>&);                         \
  template TensorT<T> pow(const TensorT<T>&, scalar_of<T>);         \
  template TensorT<T> affine(const TensorT<T>&, scalar_of<T>, scalar_of<T>);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
