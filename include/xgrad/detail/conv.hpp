#pragma once
// The kernels behind conv2d and the pooling ops, for the ops, their tests and bench_conv: the
// geometry of one call, the reference path (im2col + BLAS, plain loops; float and double) and the
// oneDNN path (float; ops/onednn.cpp owns its primitives).
#include <compare>
#include <cstddef>
#include <cstdint>

namespace xg::detail {

using dim32 = std::uint32_t;  // small enough for a backward closure to capture a whole geometry

// conv2d of x (n, c, h, w) with w (k, c / groups, fh, fw) into (n, k, oh, ow).
struct Conv2dGeometry {
  dim32 n, c, h, w, k, fh, fw, oh, ow, groups;
  dim32 stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  bool bias;
  auto operator<=>(const Conv2dGeometry&) const = default;

  std::size_t input_size() const { return std::size_t(n) * c * h * w; }
  std::size_t weight_size() const { return std::size_t(k) * (c / groups) * fh * fw; }
  std::size_t output_size() const { return std::size_t(n) * k * oh * ow; }
  // Multiply-adds of the forward pass (each backward pass does as many).
  double flops() const { return 2.0 * double(output_size()) * (c / groups) * fh * fw; }
};

enum class PoolKind : std::uint8_t { max, avg_with_padding, avg_without_padding };

// A pooling of x (n, c, h, w) into (n, c, oh, ow).
struct Pool2dGeometry {
  dim32 n, c, h, w, kh, kw, oh, ow, stride_h, stride_w, pad_h, pad_w;
  PoolKind kind;
  auto operator<=>(const Pool2dGeometry&) const = default;

  std::size_t input_size() const { return std::size_t(n) * c * h * w; }
  std::size_t output_size() const { return std::size_t(n) * c * oh * ow; }
};

// Reference kernels. Each writes its result over `out` when `overwrite`, adds to it otherwise.
// `col` is scratch of conv2d_col_size(g) elements.
std::size_t conv2d_col_size(const Conv2dGeometry& g);
template <class T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y, T* col);
template <class T>
void conv2d_backward_data_reference(const Conv2dGeometry& g, const T* gy, const T* w, T* gx, bool overwrite, T* col);
template <class T>
void conv2d_backward_weights_reference(const Conv2dGeometry& g, const T* x, const T* gy, T* gw, bool overwrite, T* col);
// The bias's gradient, the sum of gy over samples and positions: both paths.
template <class T>
void conv2d_backward_bias(const Conv2dGeometry& g, const T* gy, T* gbias, bool overwrite);

template <class T>
void pool2d_forward_reference(const Pool2dGeometry& g, const T* x, T* y);
// Max-pool's backward finds each window's first maximum in x again.
template <class T>
void pool2d_backward_reference(const Pool2dGeometry& g, const T* x, const T* gy, T* gx, bool overwrite);

// oneDNN kernels (float32; the caller's buffers NCHW / OIHW). Primitives are created on a shape's
// first call on a thread and reused from then on. Results overwrite.
namespace onednn {
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y);
void conv2d_backward_data(const Conv2dGeometry& g, const float* gy, const float* w, float* gx);
void conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* gy, float* gw);

// Max-pool's forward saves which element won each window in a workspace of this many bytes
// (0 for avg-pool), which its backward reads.
std::size_t pool2d_workspace_bytes(const Pool2dGeometry& g);
void pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, void* workspace);
void pool2d_backward(const Pool2dGeometry& g, const float* gy, const void* workspace, float* gx);

// Primitives (reorders included) created so far on this thread: tests check that steady-state
// steps create none.
std::size_t primitives_created();
// Convolutions in oneDNN's preferred blocked layouts with reorders (the default), or on the plain
// NCHW / OIHW layouts: bench_conv measures both.
void set_blocked_convolutions(bool on);
}  // namespace onednn

}  // namespace xg::detail
