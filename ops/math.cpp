// exp, log, sqrt, abs.
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

#define DECLARE(T)                               \
  template TensorT<T> exp(const TensorT<T>&);    \
  template TensorT<T> log(const TensorT<T>&);    \
  template TensorT<T> sqrt(const TensorT<T>&);   \
  template TensorT<T> abs(const TensorT<T>&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
