// sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, silu and where (the mask op activations are
// made of).
#include <algorithm>
#include <cmath>
#include <numbers>

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

// (1 / beta) log(1 + exp(beta x)), written log1p(exp(-|beta x|)) + max(beta x, 0) so that it never
// overflows; x itself where beta x > threshold, as PyTorch does. d/dx = sigmoid(beta x).
template <class T>
TensorT<T> softplus(const TensorT<T>& x, scalar_of<T> beta, scalar_of<T> threshold) {
  if (!(beta > T(0)))
    throw value_error("softplus: beta = " + std::to_string(beta) + " is not positive");
  return detail::unary_op<detail::Kernel::loops>(
      "softplus", x,
      [beta, threshold](T v) {
        const T z = beta * v;
        return z > threshold ? v : (std::log1p(std::exp(-std::abs(z))) + std::max(z, T(0))) / beta;
      },
      [beta, threshold](T in, T) {
        const T z = beta * in;
        return z > threshold ? T(1) : T(1) / (T(1) + std::exp(-z));
      });
}

// x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)); d/dx = Phi(x) + x phi(x).
// The tanh approximation: 0.5 x (1 + tanh(u)), u = sqrt(2 / pi) (x + 0.044715 x^3).
template <class T>
TensorT<T> gelu(const TensorT<T>& x, GeluApproximation approximate) {
  constexpr T inv_sqrt2 = T(1) / std::numbers::sqrt2_v<T>;
  constexpr T inv_sqrt_2pi = std::numbers::inv_sqrtpi_v<T> * inv_sqrt2;
  constexpr T k = std::numbers::sqrt2_v<T> * std::numbers::inv_sqrtpi_v<T>, c = T(0.044715);
  if (approximate == GeluApproximation::tanh)
    return detail::unary_op<detail::Kernel::loops>(
        "gelu", x, [](T v) { return T(0.5) * v * (T(1) + std::tanh(k * (v + c * v * v * v))); },
        [](T in, T) {
          const T t = std::tanh(k * (in + c * in * in * in));
          return T(0.5) * (T(1) + t) + T(0.5) * in * (T(1) - t * t) * k * (T(1) + T(3) * c * in * in);
        });
  return detail::unary_op<detail::Kernel::loops>(
      "gelu", x, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * inv_sqrt2)); },
      [](T in, T) { return T(0.5) * (T(1) + std::erf(in * inv_sqrt2)) + in * inv_sqrt_2pi * std::exp(T(-0.5) * in * in); });
}

// x * sigmoid(x); d/dx = s (1 + x (1 - s)).
template <class T>
TensorT<T> silu(const TensorT<T>& x) {
  return detail::unary_op<detail::Kernel::loops>(
      "silu", x, [](T v) { return v / (T(1) + std::exp(-v)); },
      [](T in, T) {
        const T s = T(1) / (T(1) + std::exp(-in));
        return s * (T(1) + in * (T(1) - s));
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
  template TensorT<T> softplus(const TensorT<T>&, scalar_of<T>, scalar_of<T>);        \
  template TensorT<T> gelu(const TensorT<T>&, GeluApproximation);                     \
  template TensorT<T> silu(const TensorT<T>&);                                        \
  template TensorT<T> where(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
