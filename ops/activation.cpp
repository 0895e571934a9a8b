// sigmoid, tanh, relu, leaky_relu, elu and where (the mask op activations are made of).
#include <algorithm>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {
using detail::Kernel;

template <class T>
TensorT<T> sigmoid(const TensorT<T>& x) {
  return detail::unary_op<Kernel::expressions>(
      "sigmoid", x, [](const auto& v) { return T(1) / (T(1) + xt::exp(-v)); },
      [](const auto&, const auto& out) { return out * (T(1) - out); });
}

template <class T>
TensorT<T> tanh(const TensorT<T>& x) {
  return detail::unary_op<Kernel::expressions>(
      "tanh", x, [](const auto& v) { return xt::tanh(v); }, [](const auto&, const auto& out) { return T(1) - out * out; });
}

// std::max(v, 0) keeps a NaN input NaN. The subgradient at the kink x = 0 is 0, as PyTorch's.
template <class T>
TensorT<T> relu(const TensorT<T>& x) {
  return detail::unary_op<Kernel::loops>(
      "relu", x, [](T v) { return std::max(v, T(0)); }, [](T, T out) { return out > T(0) ? T(1) : T(0); });
}

// The slope at x = 0 is `slope`, as PyTorch's.
template <class T>
TensorT<T> leaky_relu(const TensorT<T>& x, scalar_of<T> slope) {
  return detail::unary_op<Kernel::loops>(
      "leaky_relu", x, [slope](T v) { return v > T(0) ? v : slope * v; },
      [slope](T in, T) { return in > T(0) ? T(1) : slope; });
}

// For x <= 0, out = alpha (e^x - 1), so the derivative alpha e^x is out + alpha (alpha at x = 0).
template <class T>
TensorT<T> elu(const TensorT<T>& x, scalar_of<T> alpha) {
  return detail::unary_op<Kernel::expressions>(
      "elu", x, [alpha](const auto& v) { return xt::where(v > T(0), v, alpha * (xt::exp(v) - T(1))); },
      [alpha](const auto& in, const auto& out) { return xt::where(in > T(0), T(1), out + alpha); });
}

template <class T>
TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b) {
  const shape_type ab = detail::broadcast_shapes("where", detail::to_shape(a.shape()), detail::to_shape(b.shape()));
  array<T> out = detail::new_buffer<T>(detail::broadcast_shapes("where", detail::to_shape(mask.shape()), ab));
  xt::noalias(out) = xt::where(xt::not_equal(mask.value(), T(0)), a.value(), b.value());
  return detail::make_result<T>(
      "where", std::move(out), {&a, &b},
      [m = mask.node(), a = a.node(), b = b.node()](const array<T>& g, const array<T>&) {
        detail::add_grad(*a, "where", xt::where(xt::not_equal(m->value, T(0)), g, T(0)));
        detail::add_grad(*b, "where", xt::where(xt::not_equal(m->value, T(0)), T(0), g));
      },
      detail::Reads::nothing);
}

#define DECLARE(T)                                                                    \
  template TensorT<T> sigmoid(const TensorT<T>&);                                     \
  template TensorT<T> tanh(const TensorT<T>&);                                        \
  template TensorT<T> relu(const TensorT<T>&);                                        \
  template TensorT<T> leaky_relu(const TensorT<T>&, scalar_of<T>);                    \
  template TensorT<T> elu(const TensorT<T>&, scalar_of<T>);                           \
  template TensorT<T> where(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
