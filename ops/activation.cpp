// sigmoid, tanh, relu, leaky_relu, elu and where (the mask op activations are made of).
#include <algorithm>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {
using detail::accumulate;

template <class T>
TensorT<T> sigmoid(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "sigmoid", x, [](const auto& v) { return T(1) / (T(1) + xt::exp(-v)); },
      [](Node<T>& in, const array<T>& g, const array<T>& out) {
        accumulate(in, g * out * (T(1) - out), "sigmoid");
      });
}

template <class T>
TensorT<T> tanh(const TensorT<T>& x) {
  return detail::unary_op<T>(
      "tanh", x, [](const auto& v) { return xt::tanh(v); },
      [](Node<T>& in, const array<T>& g, const array<T>& out) {
        accumulate(in, g * (T(1) - out * out), "tanh");
      });
}

// std::max(v, 0) keeps a NaN input NaN.
template <class T>
TensorT<T> relu(const TensorT<T>& x) {
  return detail::map_op<T>(
      "relu", x, [](T v) { return std::max(v, T(0)); },
      [](T g, T, T out) { return out > T(0) ? g : T(0); });
}

template <class T>
TensorT<T> leaky_relu(const TensorT<T>& x, scalar_of<T> slope) {
  return detail::map_op<T>(
      "leaky_relu", x, [slope](T v) { return v > T(0) ? v : slope * v; },
      [slope](T g, T in, T) { return in > T(0) ? g : slope * g; });
}

template <class T>
TensorT<T> elu(const TensorT<T>& x, scalar_of<T> alpha) {
  return detail::unary_op<T>(
      "elu", x, [alpha](const auto& v) { return xt::where(v > T(0), v, alpha * (xt::exp(v) - T(1))); },
      [alpha](Node<T>& in, const array<T>& g, const array<T>& out) {
        accumulate(in, xt::where(in.value > T(0), g, g * (out + alpha)), "elu");
      });
}

template <class T>
TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b) {
  const shape_type ab = detail::broadcast_shapes("where", detail::to_shape(a.shape()), detail::to_shape(b.shape()));
  array<T> out = detail::new_buffer<T>(detail::broadcast_shapes("where", detail::to_shape(mask.shape()), ab));
  xt::noalias(out) = xt::where(xt::not_equal(mask.value(), T(0)), a.value(), b.value());
  return detail::make_result<T>(
      "where", std::move(out), {&a, &b},
      [m = mask.node(), a = a.node(), b = b.node()](const array<T>& g, const array<T>&) {
        accumulate(*a, xt::where(xt::not_equal(m->value, T(0)), g, T(0)), "where");
        accumulate(*b, xt::where(xt::not_equal(m->value, T(0)), T(0), g), "where");
      });
}

#define DECLARE(T)                                                                    \
  template TensorT<T> sigmoid(const TensorT<T>&);                                     \
  template TensorT<T> tanh(const TensorT<T>&);                                        \
  template TensorT<T> relu(const TensorT<T>&);                                        \
  template TensorT<T> leaky_relu(const TensorT<T>&, scalar_of<T>);                    \
  template TensorT<T> elu(const TensorT<T>&, scalar_of<T>);                           \
  template TensorT<T> where(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
