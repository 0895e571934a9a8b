#pragma once
// The differentiable ops. Each is a free function defined, with its backward beside it, in ops/.
// Binary arithmetic broadcasts like NumPy; the gradient of a broadcast input is summed back to its
// shape. Every op is instantiated for float (Tensor) and double (Tensor64).
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

// ops/activation.cpp
template <class T> TensorT<T> sigmoid(const TensorT<T>& x);
template <class T> TensorT<T> tanh(const TensorT<T>& x);
template <class T> TensorT<T> relu(const TensorT<T>& x);
template <class T> TensorT<T> leaky_relu(const TensorT<T>& x, scalar_of<T> slope = T(0.01));
template <class T> TensorT<T> elu(const TensorT<T>& x, scalar_of<T> alpha = T(1));
// mask ? a : b, element by element (broadcasting); the mask is a constant (non-zero means true).
template <class T> TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b);

// ops/reduction.cpp: empty axes means all axes; negative axes count from the end.
template <class T> TensorT<T> sum(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);
template <class T> TensorT<T> mean(const TensorT<T>& x, const axes_type& axes = {}, bool keepdims = false);
// The maximum along one axis; the gradient goes to the first maximal element.
template <class T> TensorT<T> max(const TensorT<T>& x, long axis, bool keepdims = false);

// ops/linalg.cpp: (m,k)@(k,n); (b,m,k)@(k,n); (b,m,k)@(b,k,n). GEMM through BLAS.
template <class T> TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b);
// Permutes the axes (reverses them when perm is empty).
template <class T> TensorT<T> transpose(const TensorT<T>& x, const std::vector<std::size_t>& perm = {});

// ops/shape.cpp: one dimension may be -1 (inferred).
template <class T> TensorT<T> reshape(const TensorT<T>& x, const axes_type& shape);

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

// ops/batch_norm.cpp: x is (N, C) or (N, C, H, W) (any rank >= 2: channels on axis 1).
struct BatchNormOptions {
  bool train = true;      // batch statistics (and update the running ones) or the running statistics
  double momentum = 0.1;  // PyTorch's convention: running = (1 - momentum) * running + momentum * batch
  double eps = 1e-5;
};
// running_mean / running_var: shape (C,), updated in place in train mode (handles share the node).
// The running variance is the unbiased batch variance (m / (m - 1)); normalisation uses the biased one.
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options = {});

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
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options = {});
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
