#pragma once
// The maths of each gradient transformation, written once (optax's transform.py is the model).
//
// A link's rule is called once a step with its hyperparameters and the step's context: it works out
// what is per step (Adam's bias corrections, a schedule's factor) and returns the element-wise update
// (u, p, state&...) -> new u, which reads and replaces the link's state. Hyperparameters are floats
// or scalar tensors (H), elements floats or tensors (V): Optimizer::step runs a rule over blocks of
// floats, Optimizer::differentiable_step and the gradient check record it on the tape.
#include <cmath>
#include <iterator>
#include <optional>

#include "xgrad/ops.hpp"
#include "xgrad/optim/transformation.hpp"

namespace xg::optim::rules {

// The number type of a value: itself for a float, T for a TensorT<T>.
template <class V>
struct number_type {
  using type = V;
};
template <class T>
struct number_type<TensorT<T>> {
  using type = T;
};
template <class V>
using number_t = typename number_type<V>::type;

inline float value_of(float x) { return x; }
template <class T>
T value_of(const TensorT<T>& x) {
  return x.item();
}

// The exponential moving average decay s + (1 - decay) x of a moment (optax's update_moment).
template <class V, class H>
V update_moment(const V& x, const V& moment, const H& decay) {
  return decay * moment + (1 - decay) * x;
}

// The same average of u^2 (optax's update_moment_per_elem_norm, order 2), as (1 - decay) u u: one
// multiplication of a loaded u fewer per element than (1 - decay) (u u).
template <class V, class H>
V update_second_moment(const V& u, const V& moment, const H& decay) {
  return decay * moment + (1 - decay) * u * u;
}

// 1 - decay^count: a moment averaged from zero with this decay is biased towards zero by that factor
// after `count` steps (optax's bias_correction divides by it).
template <class H>
H bias_correction(const H& decay, long count) {
  using std::pow;
  return 1 - pow(decay, number_t<H>(count));
}

// u times a factor (scale, learning rates, schedules).
inline constexpr auto scale = [](const auto& factor, const StepContext&) {
  return [=](const auto& u, const auto& /*p*/) { return factor * u; };
};

// The course's exponentially weighted average v = beta v + (1 - beta) u, as the direction.
inline constexpr auto momentum = [](const auto& beta, const StepContext&) {
  return [=](const auto& u, const auto& /*p*/, auto& velocity) { return velocity = update_moment(u, velocity, beta); };
};

// u / (sqrt(s) + eps), s the moving average of u^2.
inline constexpr auto rmsprop = [](const auto& beta, const auto& eps, const StepContext&) {
  return [=](const auto& u, const auto& /*p*/, auto& mean_square) {
    using std::sqrt;
    mean_square = update_second_moment(u, mean_square, beta);
    return u / (sqrt(mean_square) + eps);
  };
};

// m_hat / (sqrt(v_hat) + eps) with m_hat = mu / c1 and v_hat = nu / c2, the bias corrections: their
// reciprocals are worked out once a step, so that an element costs one division and one square root.
inline constexpr auto adam = [](const auto& beta1, const auto& beta2, const auto& eps, const StepContext& context) {
  using std::sqrt;
  const auto inv_c1 = 1 / bias_correction(beta1, context.step);
  const auto inv_sqrt_c2 = 1 / sqrt(bias_correction(beta2, context.step));
  return [=](const auto& u, const auto& /*p*/, auto& mu, auto& nu) {
    using std::sqrt;
    mu = update_moment(u, mu, beta1);
    nu = update_second_moment(u, nu, beta2);
    return (mu * inv_c1) / (sqrt(nu) * inv_sqrt_c2 + eps);
  };
};

// u + lambda p: decoupled weight decay after the moments (AdamW), coupled L2 before them.
inline constexpr auto add_decayed_weights = [](const auto& lambda, const StepContext&) {
  return [=](const auto& u, const auto& p) { return u + lambda * p; };
};

template <class V>
V apply_update(const V& param, const V& update) {
  return param + update;
}

// The squares of a set of updates summed: float arrays in double (a sum over millions of floats), as
// 8 partial sums (the compiler may not reorder one floating-point sum, but it vectorises independent
// ones); tensors on the tape.
inline double sum_of_squares(const array<float>& u) {
  double partial[8] = {};
  const float* x = u.data();
  const std::size_t n = u.size();
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (std::size_t k = 0; k < 8; ++k) partial[k] += double(x[j + k]) * x[j + k];
  for (; j < n; ++j) partial[0] += double(x[j]) * x[j];
  double total = 0;
  for (double s : partial) total += s;
  return total;
}
template <class T>
TensorT<T> sum_of_squares(const TensorT<T>& u) {
  return sum(u * u);
}

// sqrt(sum of squares) over a non-empty range of updates.
template <class Range>
auto global_norm(const Range& updates) {
  using std::sqrt;
  auto it = std::begin(updates);
  auto total = sum_of_squares(*it);
  for (++it; it != std::end(updates); ++it) total = total + sum_of_squares(*it);
  return sqrt(total);
}

// clip_by_global_norm's factor max_norm / norm when the norm exceeds max_norm; none (the updates
// stay as they are) otherwise.
template <class H>
std::optional<H> clip_factor(const H& norm, number_t<H> max_norm) {
  if (value_of(norm) > max_norm) return max_norm / norm;
  return std::nullopt;
}

}  // namespace xg::optim::rules
