// exp, log, sqrt, abs.
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {
using detail::accumulate;

template <class T>
TensorT<T> exp(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "exp", x, [](const auto& v) { return xt::exp(v); },
      [](Node<T>& in, const array<T>& g, const array<T>& out) { accumulate(in, g * out, "exp"); });
}

template <class T>
TensorT<T> log(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "log", x, [](const auto& v) { return xt::log(v); },
      [](Node<T>& in, const array<T>& g, const array<T>&) { accumulate(in, g / in.value, "log"); });
}

template <class T>
TensorT<T> sqrt(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "sqrt", x, [](const auto& v) { return xt::sqrt(v); },
      [](Node<T>& in, const array<T>& g, const array<T>& out) {
        accumulate(in, g / (T(2) * out), "sqrt");
      });
}

template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "abs", x, [](const auto& v) { return xt::abs(v); },
      [](Node<T>& in, const array<T>& g, const array<T>&) {
        accumulate(in, g * xt::sign(in.value), "abs");  // 0 at the kink, like PyTorch
      });
}

#define DECLARE(T)                               \
  template TensorT<T> exp(const TensorT<T>&);    \
  template TensorT<T> log(const TensorT<T>&);    \
  template TensorT<T> sqrt(const TensorT<T>&);   \
  template TensorT<T> abs(const TensorT<T>&);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
