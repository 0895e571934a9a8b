#include "eigen_baseline.hpp"

#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace xg::bench {

using Index = Eigen::Index;

template <class Scalar>
void Param<Scalar>::resize(Index rows, Index cols) {
  value.setZero(rows, cols);
  grad.setZero(rows, cols);
  first_moment.setZero(rows, cols);
  second_moment.setZero(rows, cols);
}

template <class Scalar>
void Param<Scalar>::load(std::span<const Scalar> values) {
  if (static_cast<Index>(values.size()) != value.size())
    throw std::invalid_argument("Param::load: expected " + std::to_string(value.size()) + " values, got " +
                                std::to_string(values.size()));
  value = Eigen::Map<const Matrix<Scalar>>(values.data(), value.rows(), value.cols());
}

// Below this many elements a parallel region costs more than it saves.
constexpr Index adam_parallel_threshold = Index{1} << 15;

template <class Scalar>
void Adam<Scalar>::step(std::span<Param<Scalar>* const> params) {
  ++t_;
  const Scalar beta1 = config_.beta1, beta2 = config_.beta2, eps = config_.eps;
  // lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded into two scalars.
  const Scalar step_size = config_.lr / (1 - std::pow(config_.beta1, double(t_)));
  const Scalar inv_sqrt_correction2 = 1 / std::sqrt(1 - std::pow(config_.beta2, double(t_)));
  for (Param<Scalar>* p : params) {
    Scalar* w = p->value.data();
    const Scalar* g = p->grad.data();
    Scalar* m = p->first_moment.data();
    Scalar* v = p->second_moment.data();
    const Index n = p->value.size();
    // One pass reading w, g, m, v once: three Eigen statements would read m and v twice.
    auto update = [=](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_correction2 + eps);
      }
    };
    const int threads = n >= adam_parallel_threshold ? Eigen::nbThreads() : 1;
    if (threads == 1) {
      update(0, n);  // no parallel region at all: even an empty one allocates
      continue;
    }
#pragma omp parallel num_threads(threads)
    {
      const Index chunk = (n + omp_get_num_threads() - 1) / omp_get_num_threads();
      const Index begin = std::min(n, chunk * omp_get_thread_num());
      update(begin, std::min(n, begin + chunk));
    }
  }
}

template <class Scalar>
void relu_forward(const Matrix<Scalar>& z, Matrix<Scalar>& h) {
  h.array() = z.array().max(Scalar(0));
}

template <class Scalar>
void relu_backward(const Matrix<Scalar>& h, Matrix<Scalar>& d) {
  const Scalar* hp = h.data();
  Scalar* dp = d.data();
  for (Index i = 0, n = d.size(); i < n; ++i) dp[i] = hp[i] > 0 ? dp[i] : Scalar(0);
}

template <class Scalar>
Scalar softmax_cross_entropy(const Matrix<Scalar>& logits, std::span<const int> labels, Matrix<Scalar>& dlogits) {
  const Index classes = logits.rows(), m = logits.cols();
  assert(static_cast<Index>(labels.size()) == m);
  // A column holds one sample's few logits, shorter than a SIMD register: Eigen's per-column
  // expressions would run scalar with per-call overhead. So exp is taken over the whole buffer at
  // once (vectorised) between two plain per-column loops.
  for (Index j = 0; j < m; ++j) {
    const Scalar* z = &logits(0, j);
    Scalar* d = &dlogits(0, j);
    const Scalar max = *std::max_element(z, z + classes);
    for (Index i = 0; i < classes; ++i) d[i] = z[i] - max;
  }
  dlogits.array() = dlogits.array().exp();
  const Scalar inv_m = Scalar(1) / m;
  Scalar loss = 0;
  for (Index j = 0; j < m; ++j) {
    const Scalar* z = &logits(0, j);
    Scalar* p = &dlogits(0, j);
    Scalar sum = 0;
    for (Index i = 0; i < classes; ++i) sum += p[i];
    const int label = labels[j];
    // -log softmax(z)[label] = log(sum) - (z[label] - max): from z, not log(p[label]), which would
    // be log(0) once exp underflows. The max is found again rather than kept in a buffer.
    loss += std::log(sum) - (z[label] - *std::max_element(z, z + classes));
    const Scalar scale = inv_m / sum;
    for (Index i = 0; i < classes; ++i) p[i] *= scale;
    p[label] -= inv_m;
  }
  return loss * inv_m;
}

template <class Scalar>
void BatchNormState<Scalar>::resize(Index features) {
  mean.setZero(features);
  inv_std.setZero(features);
  running_mean.setZero(features);
  running_var.setOnes(features);
}

// Every loop below walks whole columns (one sample, all features), contiguous in memory, and
// accumulates per-feature vectors of one column's length that stay in L1.
template <class Scalar>
void batch_norm_relu_forward(Matrix<Scalar>& z, VectorIn<Scalar> gamma, VectorIn<Scalar> beta,
                             BatchNormState<Scalar>& state, Matrix<Scalar>& h, BatchNormConfig config) {
  const Index m = z.cols();
  auto mean = state.mean.array();
  auto inv_std = state.inv_std.array();
  mean.setZero();
  for (Index j = 0; j < m; ++j) mean += z.col(j).array();
  mean /= Scalar(m);
  // Two passes (mean, then squared deviations): E[z^2] - mean^2 loses digits in float.
  auto sum_sq = state.inv_std.array();  // the same storage: the accumulator becomes 1/sigma below
  sum_sq.setZero();
  for (Index j = 0; j < m; ++j) sum_sq += (z.col(j).array() - mean).square();
  const Scalar momentum = config.momentum;
  state.running_mean.array() = (1 - momentum) * state.running_mean.array() + momentum * mean;
  state.running_var.array() = (1 - momentum) * state.running_var.array() + (momentum / Scalar(m - 1)) * sum_sq;
  inv_std = (sum_sq / Scalar(m) + Scalar(config.eps)).rsqrt();
  for (Index j = 0; j < m; ++j) {
    auto z_hat = z.col(j).array();
    z_hat = (z_hat - mean) * inv_std;
    h.col(j).array() = (z_hat * gamma.array() + beta.array()).max(Scalar(0));
  }
}

template <class Scalar>
void batch_norm_relu_backward(const Matrix<Scalar>& z_hat, const Matrix<Scalar>& h, VectorIn<Scalar> gamma,
                              const BatchNormState<Scalar>& state, Matrix<Scalar>& d, VectorOut<Scalar> dgamma,
                              VectorOut<Scalar> dbeta) {
  const Index features = d.rows(), m = d.cols();
  dgamma.setZero();
  dbeta.setZero();
  Scalar* dg = dgamma.data();
  Scalar* db = dbeta.data();
  for (Index j = 0; j < m; ++j) {  // pass 1: ReLU mask, and the two sums
    Scalar* dy = d.col(j).data();
    const Scalar* hj = h.col(j).data();
    const Scalar* xj = z_hat.col(j).data();
    for (Index i = 0; i < features; ++i) {
      dy[i] = hj[i] > 0 ? dy[i] : Scalar(0);
      db[i] += dy[i];
      dg[i] += dy[i] * xj[i];
    }
  }
  // pass 2: dz = gamma/(m sigma) * (m dy - dbeta - z_hat dgamma) = scale * (dy - (dbeta + z_hat dgamma)/m)
  // gamma * inv_std is recomputed per column rather than held in a temporary that would be allocated.
  const Scalar inv_m = Scalar(1) / m;
  for (Index j = 0; j < m; ++j) {
    auto dy = d.col(j).array();
    dy = gamma.array() * state.inv_std.array() *
         (dy - (dbeta.array() + z_hat.col(j).array() * dgamma.array()) * inv_m);
  }
}

template <class Scalar>
void Mlp<Scalar>::Linear::forward(const Matrix<Scalar>& x, Matrix<Scalar>& z) const {
  z.noalias() = weight.value * x;
  if (has_bias) z.colwise() += bias.value.col(0);
}

template <class Scalar>
void Mlp<Scalar>::Linear::backward(const Matrix<Scalar>& x, const Matrix<Scalar>& dz, Matrix<Scalar>* dx) {
  weight.grad.noalias() = dz * x.transpose();
  if (has_bias) bias.grad.col(0) = dz.rowwise().sum();
  if (dx) dx->noalias() = weight.value.transpose() * dz;
}

MlpConfig mlp_bn_config() { return {.batch = 256, .widths = {784, 1024, 1024, 10}, .batch_norm = true}; }
MlpConfig mlp_small_config() { return {.batch = 32, .widths = {784, 128, 10}, .batch_norm = false}; }

template <class Scalar>
Mlp<Scalar>::Mlp(MlpConfig config, unsigned seed) : config_(std::move(config)), adam_(config_.adam) {
  const auto& widths = config_.widths;
  if (widths.size() < 2 || config_.batch < 2)
    throw std::invalid_argument("Mlp: need at least {inputs, classes} and a batch of 2 or more");
  // Drawn in double so a float and a double model built from one seed hold the same weights.
  std::mt19937_64 gen(seed);
  auto init_linear = [&](Linear& layer, Index in, Index out, bool has_bias) {
    layer.weight.resize(out, in);
    std::uniform_real_distribution<double> he_uniform(-std::sqrt(6.0 / in), std::sqrt(6.0 / in));
    for (Index i = 0; i < layer.weight.value.size(); ++i) layer.weight.value.data()[i] = Scalar(he_uniform(gen));
    layer.has_bias = has_bias;
    if (has_bias) layer.bias.resize(out, 1);
  };
  const Index batch = config_.batch;
  hidden_.resize(widths.size() - 2);  // never resized again: params_ points into it
  for (std::size_t l = 0; l < hidden_.size(); ++l) {
    Hidden& layer = hidden_[l];
    const Index width = widths[l + 1];
    init_linear(layer.linear, widths[l], width, !config_.batch_norm);
    params_.push_back(&layer.linear.weight);
    if (config_.batch_norm) {
      layer.gamma.resize(width, 1);
      layer.gamma.value.setOnes();
      layer.beta.resize(width, 1);
      layer.bn.resize(width);
      params_.push_back(&layer.gamma);
      params_.push_back(&layer.beta);
    } else {
      params_.push_back(&layer.linear.bias);
    }
    layer.z.resize(width, batch);
    layer.h.resize(width, batch);
    layer.delta.resize(width, batch);
  }
  init_linear(output_, widths[widths.size() - 2], widths.back(), true);
  params_.push_back(&output_.weight);
  params_.push_back(&output_.bias);
  logits_.resize(widths.back(), batch);
  dlogits_.resize(widths.back(), batch);
}

template <class Scalar>
Scalar Mlp<Scalar>::forward(const Matrix<Scalar>& x, std::span<const int> labels) {
  const Matrix<Scalar>* input = &x;
  for (Hidden& layer : hidden_) {
    layer.linear.forward(*input, layer.z);
    if (config_.batch_norm)
      batch_norm_relu_forward(layer.z, layer.gamma.value.col(0), layer.beta.value.col(0), layer.bn, layer.h);
    else
      relu_forward(layer.z, layer.h);
    input = &layer.h;
  }
  output_.forward(*input, logits_);
  return softmax_cross_entropy(logits_, labels, dlogits_);
}

template <class Scalar>
void Mlp<Scalar>::backward(const Matrix<Scalar>& x) {
  auto input_of = [&](std::size_t l) -> const Matrix<Scalar>& { return l == 0 ? x : hidden_[l - 1].h; };
  // The first layer's input (the data) needs no gradient.
  auto delta_below = [&](std::size_t l) { return l == 0 ? nullptr : &hidden_[l - 1].delta; };
  const std::size_t n_hidden = hidden_.size();
  output_.backward(input_of(n_hidden), dlogits_, delta_below(n_hidden));
  for (std::size_t l = n_hidden; l-- > 0;) {
    Hidden& layer = hidden_[l];
    if (config_.batch_norm)
      batch_norm_relu_backward(layer.z, layer.h, layer.gamma.value.col(0), layer.bn, layer.delta,
                               layer.gamma.grad.col(0), layer.beta.grad.col(0));
    else
      relu_backward(layer.h, layer.delta);
    layer.linear.backward(input_of(l), layer.delta, delta_below(l));
  }
}

template <class Scalar>
void Mlp<Scalar>::adam_step() {
  adam_.step(params_);
}

template <class Scalar>
Scalar Mlp<Scalar>::step(const Matrix<Scalar>& x, std::span<const int> labels) {
  const Scalar loss = forward(x, labels);
  backward(x);
  adam_step();
  return loss;
}

#define XG_BENCH_INSTANTIATE(Scalar)                                                                        \
  template struct Param<Scalar>;                                                                          \
  template class Adam<Scalar>;                                                                            \
  template struct BatchNormState<Scalar>;                                                                 \
  template class Mlp<Scalar>;                                                                             \
  template void relu_forward(const Matrix<Scalar>&, Matrix<Scalar>&);                                     \
  template void relu_backward(const Matrix<Scalar>&, Matrix<Scalar>&);                                    \
  template Scalar softmax_cross_entropy(const Matrix<Scalar>&, std::span<const int>, Matrix<Scalar>&);   \
  template void batch_norm_relu_forward(Matrix<Scalar>&, VectorIn<Scalar>, VectorIn<Scalar>,             \
                                        BatchNormState<Scalar>&, Matrix<Scalar>&, BatchNormConfig);       \
  template void batch_norm_relu_backward(const Matrix<Scalar>&, const Matrix<Scalar>&, VectorIn<Scalar>, \
                                         const BatchNormState<Scalar>&, Matrix<Scalar>&, VectorOut<Scalar>, \
                                         VectorOut<Scalar>);
XG_BENCH_INSTANTIATE(float)
XG_BENCH_INSTANTIATE(double)
#undef XG_BENCH_INSTANTIATE

}  // namespace xg::bench
