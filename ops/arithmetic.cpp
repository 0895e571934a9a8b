// add, sub, mul, div, neg, pow: broadcasting arithmetic.
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {
using detail::accumulate;

template <class T>
TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "add", a, b, [](const auto& x, const auto& y) { return x + y; },
      [](Node<T>& x, Node<T>& y, const array<T>& g, const array<T>&) {
        accumulate(x, g, "add");
        accumulate(y, g, "add");
      });
}

template <class T>
TensorT<T> sub(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "sub", a, b, [](const auto& x, const auto& y) { return x - y; },
      [](Node<T>& x, Node<T>& y, const array<T>& g, const array<T>&) {
        accumulate(x, g, "sub");
        accumulate(y, -g, "sub");
      });
}

template <class T>
TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "mul", a, b, [](const auto& x, const auto& y) { return x * y; },
      [](Node<T>& x, Node<T>& y, const array<T>& g, const array<T>&) {
        accumulate(x, g * y.value, "mul");
        accumulate(y, g * x.value, "mul");
      });
}

template <class T>
TensorT<T> div(const TensorT<T>& a, const TensorT<T>& b) {
  return detail::binary_op<T>(
      "div", a, b, [](const auto& x, const auto& y) { return x / y; },
      [](Node<T>& x, Node<T>& y, const array<T>& g, const array<T>& out) {
        accumulate(x, g / y.value, "div");
        accumulate(y, -g * out / y.value, "div");  // d(x/y)/dy = -(x/y)/y
      });
}

template <class T>
TensorT<T> neg(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "neg", x, [](const auto& v) { return -v; },
      [](Node<T>& in, const array<T>& g, const array<T>&) { accumulate(in, -g, "neg"); });
}

template <class T>
TensorT<T> pow(const TensorT<T>& x, scalar_of<T> p) {
  return detail::unary_op<T>(
      "pow", x, [p](const auto& v) { return xt::pow(v, p); },
      [p](Node<T>& in, const array<T>& g, const array<T>&) {
        accumulate(in, g * p * xt::pow(in.value, p - T(1)), "pow");
      });
}

#define DECLARE(T)                                                    \
  template TensorT<T> add(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> sub(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> mul(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> div(const TensorT<T>&, const TensorT<T>&);      \
  template TensorT<T> neg(const TensorT<T>&);                         \
  template TensorT<T> pow(const TensorT<T>&, scalar_of<T>);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
