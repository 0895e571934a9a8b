#pragma once
// The maths of each gradient transformation, written once. V is one element (a float, in the in-place
// loops of Optimizer::step) or a tensor (recorded on the tape by Optimizer::differentiable_step and by
// the gradient check); H is a hyperparameter of the matching kind (a float or a scalar tensor). State
// arguments (V&) are read and replaced by their new value.
#include <cmath>

#include "xgrad/ops.hpp"

namespace xg::optim::rules {

inline float power(float base, long n) { return std::pow(base, float(n)); }
template <class T>
TensorT<T> power(const TensorT<T>& base, long n) {
  return xg::pow(base, T(n));
}

// 1 - beta^step: Adam divides a moment averaged with rate beta by it, so early steps are not biased
// towards the zero the moment starts from.
template <class H>
H bias_correction(const H& beta, long step) {
  return 1 - power(beta, step);
}

// Exponentially weighted average of the gradients (the course's v = beta v + (1 - beta) g).
template <class V, class H>
V momentum(const V& g, V& velocity, const H& beta) {
  velocity = beta * velocity + (1 - beta) * g;
  return velocity;
}

template <class V, class H>
V rmsprop(const V& g, V& mean_square, const H& beta, const H& eps) {
  using std::sqrt;
  mean_square = beta * mean_square + (1 - beta) * g * g;
  return g / (sqrt(mean_square) + eps);
}

// Adam's per-step numbers, 1 / bias_correction(beta1) and 1 / sqrt(bias_correction(beta2)), worked
// out once a step so that an element costs one division and one square root.
template <class H>
struct AdamScales {
  H inv_c1, inv_sqrt_c2;
};
template <class H>
AdamScales<H> adam_scales(const H& beta1, const H& beta2, long step) {
  using std::sqrt;
  return {1 / bias_correction(beta1, step), 1 / sqrt(bias_correction(beta2, step))};
}

// m_hat / (sqrt(v_hat) + eps) with m_hat = mu / c1 and sqrt(v_hat) = sqrt(nu) / sqrt(c2).
template <class V, class H>
V adam(const V& g, V& mu, V& nu, const H& beta1, const H& beta2, const H& eps, const AdamScales<H>& scales) {
  using std::sqrt;
  mu = beta1 * mu + (1 - beta1) * g;
  nu = beta2 * nu + (1 - beta2) * g * g;
  return (mu * scales.inv_c1) / (sqrt(nu) * scales.inv_sqrt_c2 + eps);
}

// u + lambda p: decoupled weight decay after the moments (AdamW), coupled L2 before them.
template <class V, class H>
V add_decayed_weights(const V& update, const V& param, const H& lambda) {
  return update + lambda * param;
}

template <class V, class H>
V scale(const V& update, const H& factor) {
  return factor * update;
}

template <class V>
V apply_update(const V& param, const V& update) {
  return param + update;
}

// The factor clip_by_global_norm scales every update by: max_norm / norm when the norm exceeds
// max_norm, else 1.
inline float clip_factor(float norm, float max_norm) { return norm > max_norm ? max_norm / norm : 1.0f; }
template <class T>
TensorT<T> clip_factor(const TensorT<T>& norm, T max_norm) {
  return norm.item() > max_norm ? max_norm / norm : TensorT<T>::scalar(T(1));
}

// sqrt(sum of squares) over a set of tensors, on the tape.
template <class T, class Range>
TensorT<T> global_norm(const Range& tensors) {
  TensorT<T> total = TensorT<T>::scalar(T(0));
  for (const TensorT<T>& t : tensors) total = total + sum(t * t);
  return xg::sqrt(total);
}

}  // namespace xg::optim::rules
