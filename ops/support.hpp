#pragma once
// Checks and updates shared by the fused kernels (softmax.cpp, batch_norm.cpp) and their composed
// forms (composed.cpp), so both reject the same inputs with the same messages; and the line kernel
// argmax and max share.
#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/detail/op_support.hpp"
#include "xgrad/ops.hpp"

namespace xg::detail {

// C = alpha * op(A) * op(B) + beta * C, row-major, through BLAS (sgemm/dgemm); in ops/linalg.cpp.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, const float* b, float beta, float* c);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* a, const double* b, double beta, double* c);

// A reduction over some axes of a tensor: the shapes it keeps and the count it reduces. Empty axes
// mean all axes; an axis out of range or given twice is a value_error naming the op.
struct ReductionPlan {
  shape_type keep_shape;  // the input's rank, 1 on reduced axes
  shape_type out_shape;   // keep_shape without the reduced axes unless keepdims
  std::size_t count = 1;  // elements reduced into each output
};

inline ReductionPlan plan_reduction(const char* op, const shape_type& shape, const axes_type& axes, bool keepdims) {
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (long a : axes) {
    const std::size_t axis = normalize_axis(op, a, shape.size());
    if (reduced[axis])
      throw value_error(std::string(op) + ": axis " + std::to_string(a) + " is given twice");
    reduced[axis] = true;
  }
  ReductionPlan r;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    r.keep_shape.push_back(reduced[i] ? 1 : shape[i]);
    if (reduced[i]) r.count *= shape[i];
    if (!reduced[i] || keepdims) r.out_shape.push_back(r.keep_shape.back());
  }
  return r;
}

// Calls f(k, o) for every element k of a contiguous tensor of `shape`, row-major, with o the index of
// the output element it reduces into: the output's strides (reduced_strides) are 0 on reduced axes.
template <class F>
void for_each_reduced(const shape_type& shape, const shape_type& out_strides, F&& f) {
  if (shape.empty()) return f(std::size_t{0}, std::size_t{0});  // a scalar: one element
  const std::size_t n = shape.back(), stride = out_strides.back();
  for_each_row(shape, out_strides, [&](std::size_t row, std::size_t offset) {
    for (std::size_t i = 0; i < n; ++i) f(row * n + i, offset + i * stride);
  });
}

// Every label in [0, classes) or equal to `ignored` (cross_entropy's ignore_index); value_error
// names the label, its row and the number of classes.
inline void check_labels(const char* op, std::span<const int> labels, std::size_t classes,
                         std::optional<int> ignored = {}) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != ignored && (labels[i] < 0 || std::size_t(labels[i]) >= classes))
      throw value_error(std::string(op) + ": label " + std::to_string(labels[i]) + " (row " + std::to_string(i) +
                        ") is out of range for " + std::to_string(classes) + " classes");
}

// label_smoothing in [0, 1] (fused and composed cross_entropy).
inline void check_cross_entropy_options(const CrossEntropyOptions& options) {
  if (!(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0))
    throw value_error("cross_entropy: label_smoothing = " + std::to_string(options.label_smoothing) +
                      " is outside [0, 1]");
}

// Logits must be (N, C) with N = rows > 0 and C > 0; returns {N, C}.
template <class T>
std::pair<std::size_t, std::size_t> logits_shape(const char* op, const TensorT<T>& logits, std::size_t rows,
                                                 const char* what) {
  const auto& s = logits.shape();
  if (s.size() != 2 || s[0] == 0 || s[1] == 0 || s[0] != rows)
    throw shape_error(std::string(op) + ": logits of shape " + shape_string(s) + " do not fit " + what +
                      " (expected (N, C) with N = " + std::to_string(rows) + " rows and C > 0)");
  return {s[0], s[1]};
}

// Targets of the same shape as (N, C) logits; returns {N, C}.
template <class T>
std::pair<std::size_t, std::size_t> targets_shape(const char* op, const TensorT<T>& logits, const TensorT<T>& targets) {
  if (!std::equal(targets.shape().begin(), targets.shape().end(), logits.shape().begin(), logits.shape().end()))
    throw shape_error(std::string(op) + ": targets of shape " + shape_string(targets.shape()) +
                      " do not match logits of shape " + shape_string(logits.shape()));
  return logits_shape(op, logits, logits.dim() ? logits.shape()[0] : 0, "the targets");
}

// Batch norm's view of x as (N, C, inner): channel c of sample o is the contiguous run of `inner`
// values at (o * C + c) * inner. A channel's statistics are over count = N * inner values.
struct Channels {
  std::size_t n = 0, c = 0, inner = 1;
  std::size_t count() const { return n * inner; }
};

// x of rank >= 2 with channels on axis 1; gamma, beta and the running statistics of shape (C,);
// momentum in [0, 1], eps > 0 and in eval mode a running variance >= 0 (otherwise the output is
// silently NaN). Train mode
// needs two or more values per channel: one value has no variance (and the unbiased running
// variance would divide by zero).
template <class T>
Channels batch_norm_channels(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                             const TensorT<T>& running_mean, const TensorT<T>& running_var,
                             const BatchNormOptions& options) {
  if (!(options.momentum >= 0.0 && options.momentum <= 1.0))
    throw value_error("batch_norm: momentum = " + std::to_string(options.momentum) + " is outside [0, 1]");
  if (!(options.eps > 0.0 && std::isfinite(options.eps)))
    throw value_error("batch_norm: eps = " + std::to_string(options.eps) +
                      " is not a finite number > 0 (with eps = 0 a constant channel divides by zero)");
  const bool train = options.train;
  const auto& s = x.shape();
  if (s.size() < 2)
    throw shape_error("batch_norm: input of shape " + shape_string(s) + " has no channel axis (expected (N, C) or (N, C, H, W))");
  Channels ch{s[0], s[1], 1};
  for (std::size_t d = 2; d < s.size(); ++d) ch.inner *= s[d];
  const std::pair<const char*, const TensorT<T>*> per_channel[] = {
      {"gamma", &gamma}, {"beta", &beta}, {"running_mean", &running_mean}, {"running_var", &running_var}};
  for (const auto& [name, t] : per_channel)
    if (t->dim() != 1 || t->shape()[0] != ch.c)
      throw shape_error(std::string("batch_norm: ") + name + " of shape " + shape_string(t->shape()) +
                        " does not fit input of shape " + shape_string(s) + " (expected (" + std::to_string(ch.c) + ",))");
  if (!train)
    for (std::size_t c = 0; c < ch.c; ++c)
      if (!(running_var.value().data()[c] >= T(0) && std::isfinite(running_var.value().data()[c])))
        throw value_error("batch_norm: running_var[" + std::to_string(c) + "] = " +
                          std::to_string(running_var.value().data()[c]) +
                          " is not a finite number >= 0; eval mode would divide by its square root");
  // Over replicas, one value here is enough: the count that matters is the global one.
  if (train && ch.count() < (options.replica_sum ? 1u : 2u))
    throw value_error("batch_norm: train mode needs at least 2 values per channel, but input of shape " +
                      shape_string(s) + " has " + std::to_string(ch.count()) +
                      " (batch size 1); use eval mode for single examples");
  return ch;
}

// Layer norm's view of x as (rows, features): the trailing dimensions of x must be gamma's shape,
// and beta's shape is gamma's; eps >= 0 and finite.
struct Rows {
  std::size_t rows = 0, features = 0;
};
template <class T>
Rows layer_norm_rows(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, double eps) {
  if (!(eps >= 0.0 && std::isfinite(eps)))
    throw value_error("layer_norm: eps = " + std::to_string(eps) + " is not a finite number >= 0");
  const auto& xs = x.shape();
  const auto& gs = gamma.shape();
  if (gs.size() == 0 || gs.size() > xs.size() || !std::equal(gs.begin(), gs.end(), xs.end() - long(gs.size())))
    throw shape_error("layer_norm: gamma of shape " + shape_string(gs) + " is not the trailing shape of input of shape " +
                      shape_string(xs) + " (the normalised shape is gamma's, of rank 1 or more)");
  if (!std::equal(gs.begin(), gs.end(), beta.shape().begin(), beta.shape().end()))
    throw shape_error("layer_norm: beta of shape " + shape_string(beta.shape()) + " differs from gamma of shape " +
                      shape_string(gs));
  if (gamma.size() == 0)
    throw shape_error("layer_norm: the normalised shape " + shape_string(gs) + " holds no elements");
  return {x.size() / gamma.size(), gamma.size()};
}

// The exponential moving averages, PyTorch's convention: running = (1 - momentum) * running +
// momentum * batch, with the unbiased variance (var * m / (m - 1)) for the running one.
template <class T>
void update_running_statistics(TensorT<T>& running_mean, TensorT<T>& running_var, const T* mean,
                               const T* biased_var, std::size_t count, double momentum) {
  const T mom = T(momentum), keep = T(1 - momentum), unbias = T(double(count) / double(count - 1));
  T* rm = running_mean.mutable_value().data();
  T* rv = running_var.mutable_value().data();
  for (std::size_t c = 0; c < running_mean.size(); ++c) {
    rm[c] = keep * rm[c] + mom * mean[c];
    rv[c] = keep * rv[c] + mom * biased_var[c] * unbias;
  }
}

// The position of the first extreme (the maximum for Max, else the minimum) of n values at x,
// x + stride, ...: argmax's answer, max's and min's value and their gradient's choice (ties go to
// the first). A NaN beats any number, so it propagates as in PyTorch: max of [1, NaN, 3] is NaN,
// at position 1.
template <bool Max, class T, class Stride>
std::size_t extreme_line(const T* x, std::size_t n, Stride stride) {
  std::size_t best = 0;
  for (std::size_t k = 1; k < n && !std::isnan(x[best * stride]); ++k) {
    const T v = x[k * stride];
    if (std::isnan(v) || (Max ? v > x[best * stride] : v < x[best * stride])) best = k;
  }
  return best;
}

template <class T, class Stride>
std::size_t argmax_line(const T* x, std::size_t n, Stride stride) {
  return extreme_line<true>(x, n, stride);
}

}  // namespace xg::detail
