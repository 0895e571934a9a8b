#pragma once
// The differentiable ops. Each is a free function defined, with its backward beside it, in ops/.
// Binary arithmetic broadcasts like NumPy; the gradient of a broadcast input is summed back to its
// shape. Every op is instantiated for float (Tensor) and double (Tensor64).
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "xgrad/random.hpp"
#include "xgrad/tensor.hpp"

namespace xg {

template <class T>
using scalar_of = std::type_identity_t<T>;  // lets `x * 2.0` work for a float tensor
using axes_type = std::vector<long>;

// ops/arithmetic.cpp
template <class T> TensorT<T> add(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> sub(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> mul(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> div(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> neg(const TensorT<T>& x);
template <class T> TensorT<T> pow(const TensorT<T>& x, scalar_of<T> exponent);
// scale * x + shift: what x * s, s * x, x + s, s + x, x - s and s - x record (one op, and no
// tensor made for the number).
template <class T> TensorT<T> affine(const TensorT<T>& x, scalar_of<T> scale, scalar_of<T> shift);

// ops/math.cpp
template <class T> TensorT<T> exp(const TensorT<T>& x);
template <class T> TensorT<T> log(const TensorT<T>& x);
template <class T> TensorT<T> sqrt(const TensorT<T>& x);
template <class T> TensorT<T> abs(const TensorT<T>& x);
// log(1 + x) and exp(x) - 1, accurate for small x.
template <class T> TensorT<T> log1p(const TensorT<T>& x);
template <class T> TensorT<T> expm1(const TensorT<T>& x);
// Element-wise maximum and minimum (broadcasting; NaN propagates). At a tie each input gets half
// the gradient, as in PyTorch.
template <class T> TensorT<T> maximum(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> minimum(const TensorT<T>& a, const TensorT<T>& b);
// x limited to [lo, hi] (an infinite bound is no bound; lo > hi is a value_error). The gradient
// passes where lo <= x <= hi, bounds included, as in PyTorch.
template <class T> TensorT<T> clamp(const TensorT<T>& x, scalar_of<T> lo, scalar_of<T> hi);
// Comparisons (broadcasting): a constant mask, 1 where the relation holds and 0 elsewhere (for
// where, or to count); not differentiable.
template <class T> TensorT<T> equal(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> not_equal(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> less(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> less_equal(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> greater(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> greater_equal(const TensorT<T>& a, const TensorT<T>& b);

// ops/activation.cpp
template <class T> TensorT<T> sigmoid(const TensorT<T>& x);
template <class T> TensorT<T> tanh(const TensorT<T>& x);
template <class T> TensorT<T> relu(const TensorT<T>& x);
template <class T> TensorT<T> leaky_relu(const TensorT<T>& x, scalar_of<T> slope = T(0.01));
template <class T> TensorT<T> elu(const TensorT<T>& x, scalar_of<T> alpha = T(1));
// (1 / beta) log(1 + exp(beta x)), computed without overflow; x where beta x > threshold (PyTorch's
// defaults and rule).
template <class T> TensorT<T> softplus(const TensorT<T>& x, scalar_of<T> beta = T(1), scalar_of<T> threshold = T(20));
// GELU: x Phi(x) with the normal CDF through erf, or PyTorch's approximate='tanh' form.
enum class GeluApproximation { none, tanh };
template <class T> TensorT<T> gelu(const TensorT<T>& x, GeluApproximation approximate = GeluApproximation::none);
// SiLU (swish): x * sigmoid(x).
template <class T> TensorT<T> silu(const TensorT<T>& x);
// mask ? a : b, element by element (broadcasting); the mask is a constant (non-zero means true).
template <class T> TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b);

// ops/reduction.cpp: empty axes means all axes; negative axes count from the end.
template <class T> TensorT<T> sum(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);
template <class T> TensorT<T> mean(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);

// ops/statistics.cpp: empty axes means all axes. The variance is unbiased (divides by count - 1)
// unless unbiased = false (count), as torch.var; stddev is its square root (torch.std: a function
// named std would clash with namespace std under `using namespace xg`).
template <class T>
TensorT<T> var(const TensorT<T>& x, const axes_type& axes = {}, bool unbiased = true, bool keepdims = false);
template <class T>
TensorT<T> stddev(const TensorT<T>& x, const axes_type& axes = {}, bool unbiased = true, bool keepdims = false);
// log(sum(exp(x))) over the axes without overflow; its gradient is the softmax over them.
template <class T> TensorT<T> logsumexp(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);

// ops/extrema.cpp. NaN propagates (it is the extreme of any set it is in).
// The maximum or minimum over several axes (empty: all), as torch.amax / amin: elements that tie
// for it share its gradient evenly.
template <class T> TensorT<T> max(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);
template <class T> TensorT<T> min(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);
// The maximum or minimum along one axis; the gradient goes to the first extreme element.
template <class T> TensorT<T> max(const TensorT<T>& x, long axis, bool keepdims = false);
template <class T> TensorT<T> min(const TensorT<T>& x, long axis, bool keepdims = false);
// torch.max / torch.min with a dim: the extremes along the axis and their positions on it (the first
// one at a tie), row-major over the other axes; the gradient goes to those positions.
template <class T>
struct Extremum {
  TensorT<T> values;
  std::vector<std::int64_t> indices;  // int64, as PyTorch's: exact on any axis length
};
template <class T> Extremum<T> max_with_indices(const TensorT<T>& x, long axis, bool keepdims = false);
template <class T> Extremum<T> min_with_indices(const TensorT<T>& x, long axis, bool keepdims = false);

// ops/linalg.cpp. torch.matmul: (..., m, k) @ (..., k, n) with the batch dimensions broadcasting
// ((2,1,m,k) @ (3,k,n) is (2,3,m,n)); a 1-D left operand is a row vector and a 1-D right one a
// column vector, whose dimension the result drops ((k,) @ (k,) is a scalar). GEMM through BLAS.
template <class T> TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b);
// Permutes the axes (reverses them when perm is empty).
template <class T> TensorT<T> transpose(const TensorT<T>& x, const std::vector<std::size_t>& perm = {});

// ops/shape.cpp: one dimension may be -1 (inferred).
template <class T> TensorT<T> reshape(const TensorT<T>& x, const axes_type& shape);

// ops/indexing.cpp. Negative axes count from the end.
// The tensors joined along an existing axis (the other dimensions equal), or along a new one
// (stack: every tensor of one shape).
template <class T> TensorT<T> concat(const std::vector<TensorT<T>>& tensors, long axis = 0);
template <class T> TensorT<T> stack(const std::vector<TensorT<T>>& tensors, long axis = 0);
// x[..., start:stop:step, ...] along the axis, with Python's rules: negative bounds count from the
// end, bounds past either end are clamped; step >= 1.
template <class T>
TensorT<T> slice(const TensorT<T>& x, long axis, long start, long stop = std::numeric_limits<long>::max(), long step = 1);
// The lines of x at the given positions along the axis (repeats allowed; negative indices count from
// the end), as torch.index_select: what an embedding lookup is.
template <class T> TensorT<T> index_select(const TensorT<T>& x, long axis, std::span<const int> indices);
// torch.gather: out[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (and so on); index has x's rank and
// is no larger than x except along the axis. Gradients of repeated positions add up.
template <class T> TensorT<T> gather(const TensorT<T>& x, long axis, const array<int>& index);

// ops/shape.cpp: (d0, ..., d_{s-1}, d_s * ... * d_last), the axes from start_axis on merged into one.
template <class T> TensorT<T> flatten(const TensorT<T>& x, long start_axis = 1);

// A height and a width: `2` means (2, 2), `{2, 1}` means height 2 and width 1.
struct Size2 {
  std::size_t h = 0, w = 0;
  constexpr Size2(std::size_t both = 0) : h(both), w(both) {}
  constexpr Size2(std::size_t height, std::size_t width) : h(height), w(width) {}
};

// ops/conv.cpp: x (N, C, H, W), w (K, C / groups, F_h, F_w), bias (K,); out (N, K, H_out, W_out) with
// H_out = (H + 2 P_h - D_h (F_h - 1) - 1) / S_h + 1 (rounded down; the course's (W - F + 2P) / S + 1
// for D = 1), the same for W. Cross-correlation, like every framework's "convolution". float32 runs
// on oneDNN, float64 on an im2col + BLAS reference path (the gradient check's). The options go by
// reference: GCC 12 at -march=native (AVX-512) builds a by-value copy of them wrongly on the stack
// (padding.h came out as 1).
struct Conv2dOptions {
  Size2 stride = 1, padding = 0, dilation = 1;
  std::size_t groups = 1;  // channels in groups of C / groups, each with its own K / groups filters
};
template <class T> TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& w, const Conv2dOptions& options = {});
template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias, const Conv2dOptions& options = {});

// ops/pool.cpp: over windows of x (N, C, H, W), the output size by conv2d's rule (dilation 1).
struct Pool2dOptions {
  Size2 stride = 0;          // 0: the kernel size (windows side by side), PyTorch's default
  Size2 padding = 0;         // at most half the kernel; max-pool pads with -inf
  bool count_padding = true; // avg-pool divides by the whole window, padding included (PyTorch's default)
};
// The maximum of each window; its gradient goes to one element per window: the first maximum in
// row-major order within the window (ties: docs/conv.md).
template <class T> TensorT<T> max_pool2d(const TensorT<T>& x, Size2 kernel, const Pool2dOptions& options = {});
template <class T> TensorT<T> avg_pool2d(const TensorT<T>& x, Size2 kernel, const Pool2dOptions& options = {});
// (N, C, H, W) -> (N, C): the mean of each channel.
template <class T> TensorT<T> global_avg_pool2d(const TensorT<T>& x);

// ops/softmax.cpp: numerically stable (the maximum along the axis is subtracted first).
template <class T> TensorT<T> softmax(const TensorT<T>& x, long axis = -1);
template <class T> TensorT<T> log_softmax(const TensorT<T>& x, long axis = -1);
// logits (N, C); labels: N class indices in [0, C); the mean over the batch.
template <class T> TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels);
// targets (N, C): one-hot or soft (rows summing to 1); the mean over the batch.
template <class T> TensorT<T> cross_entropy(const TensorT<T>& logits, const TensorT<T>& targets);
// The index of the maximum along the axis ("hardmax"), row-major over the other axes. Not differentiable.
template <class T> std::vector<int> argmax(const TensorT<T>& x, long axis = -1);
// The fraction of rows of logits (N, C) whose argmax is the label. Not differentiable.
template <class T> double accuracy(const TensorT<T>& logits, std::span<const int> labels);

// Sums per-channel values in place over every replica of a data-parallel model, so that batch norm
// takes its statistics over the whole global batch (SyncBatchNorm). dist::DataParallel provides one;
// the op only calls it, the same number of times on every replica.
struct ReplicaSum {
  virtual ~ReplicaSum() = default;
  virtual void operator()(std::span<float> values) const = 0;
  virtual void operator()(std::span<double> values) const = 0;
};

// ops/losses.cpp. How a loss over many elements (or rows) is reduced, as in PyTorch: the mean, the
// sum, or none (one loss per element or row).
enum class Reduction { mean, sum, none };
// (input - target)^2; input and target of one shape, both differentiable.
template <class T>
TensorT<T> mse_loss(const TensorT<T>& input, const TensorT<T>& target, Reduction reduction = Reduction::mean);
// 0.5 d^2 where |d| <= delta, delta (|d| - delta / 2) beyond, d = input - target.
template <class T>
TensorT<T> huber_loss(const TensorT<T>& input, const TensorT<T>& target, Reduction reduction = Reduction::mean,
                      scalar_of<T> delta = T(1));
// -t log sigmoid(x) - (1 - t) log(1 - sigmoid(x)) from logits x, stable for any x; targets in [0, 1].
template <class T>
TensorT<T> binary_cross_entropy_with_logits(const TensorT<T>& logits, const TensorT<T>& targets,
                                            Reduction reduction = Reduction::mean);
struct NllLossOptions {
  Reduction reduction = Reduction::mean;
  int ignore_index = -100;  // rows with this label add nothing (and do not count in the mean)
};
// -log_probs[i, labels[i]] for (N, C) log-probabilities (log_softmax's output).
template <class T>
TensorT<T> nll_loss(const TensorT<T>& log_probs, std::span<const int> labels, NllLossOptions options = {});
struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  int ignore_index = -100;
  // s in [0, 1]: the target is (1 - s) one-hot + s / C uniform, as in PyTorch.
  double label_smoothing = 0.0;
  bool operator==(const CrossEntropyOptions&) const = default;
};
// cross_entropy with PyTorch's options: nll_loss(log_softmax(logits)) plus the smoothing term; the
// mean is over the rows not ignored (NaN when all are, as in PyTorch).
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels, CrossEntropyOptions options);

// ops/batch_norm.cpp: x is (N, C) or (N, C, H, W) (any rank >= 2: channels on axis 1).
struct BatchNormOptions {
  bool train = true;      // batch statistics (and update the running ones) or the running statistics
  double momentum = 0.1;  // PyTorch's convention: running = (1 - momentum) * running + momentum * batch
  double eps = 1e-5;
  // Train mode: forward sums the count, sum and squared deviations, backward the sums of g and
  // g * (x - mu), over the replicas; gamma's and beta's gradients stay this replica's own (data
  // parallelism averages them with the rest). Must outlive the backward pass. Fused kernel only.
  const ReplicaSum* replica_sum = nullptr;
};
// running_mean / running_var: shape (C,), updated in place in train mode (handles share the node).
// The running variance is the unbiased batch variance (m / (m - 1)); normalisation uses the biased one.
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options = {});

// ops/layer_norm.cpp: each element of gamma's shape (the trailing dimensions of x) normalised over
// those dimensions, then scaled by gamma and shifted by beta (PyTorch's layer_norm with
// normalized_shape = gamma's shape). Biased variance, as in PyTorch.
template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, double eps = 1e-5);

// ops/regularization.cpp
// Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p) in
// train mode; the identity in eval mode. p in [0, 1).
template <class T> TensorT<T> dropout(const TensorT<T>& x, double p, bool train, Generator& generator);
// lambda / 2 * sum of the squares of every parameter (its gradient is lambda * W).
template <class T> TensorT<T> l2_penalty(const std::vector<TensorT<T>>& params, double lambda);

// ops/composed.cpp: the same nodes built from the primitive ops above, as a reference for the fused
// kernels (tests check that both agree in value and gradient).
namespace composed {
template <class T> TensorT<T> softmax(const TensorT<T>& x, long axis = -1);
template <class T> TensorT<T> log_softmax(const TensorT<T>& x, long axis = -1);
template <class T> TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels);
template <class T> TensorT<T> cross_entropy(const TensorT<T>& logits, const TensorT<T>& targets);
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels, CrossEntropyOptions options);
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options = {});
template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, double eps = 1e-5);
}  // namespace composed

template <class T> TensorT<T> operator+(const TensorT<T>& a, const TensorT<T>& b) { return add(a, b); }
template <class T> TensorT<T> operator-(const TensorT<T>& a, const TensorT<T>& b) { return sub(a, b); }
template <class T> TensorT<T> operator*(const TensorT<T>& a, const TensorT<T>& b) { return mul(a, b); }
template <class T> TensorT<T> operator/(const TensorT<T>& a, const TensorT<T>& b) { return div(a, b); }
template <class T> TensorT<T> operator-(const TensorT<T>& x) { return neg(x); }
template <class T> TensorT<T> operator+(const TensorT<T>& a, scalar_of<T> s) { return affine(a, T(1), s); }
template <class T> TensorT<T> operator+(scalar_of<T> s, const TensorT<T>& a) { return affine(a, T(1), s); }
template <class T> TensorT<T> operator-(const TensorT<T>& a, scalar_of<T> s) { return affine(a, T(1), -s); }
template <class T> TensorT<T> operator-(scalar_of<T> s, const TensorT<T>& a) { return affine(a, T(-1), s); }
template <class T> TensorT<T> operator*(const TensorT<T>& a, scalar_of<T> s) { return affine(a, s, T(0)); }
template <class T> TensorT<T> operator*(scalar_of<T> s, const TensorT<T>& a) { return affine(a, s, T(0)); }
template <class T> TensorT<T> operator/(const TensorT<T>& a, scalar_of<T> s) { return div(a, TensorT<T>::scalar(s)); }
template <class T> TensorT<T> operator/(scalar_of<T> s, const TensorT<T>& a) { return div(TensorT<T>::scalar(s), a); }

}  // namespace xg
