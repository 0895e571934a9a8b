// max_pool2d, avg_pool2d and global_avg_pool2d: forward and backward side by side. float32 windows
// run on oneDNN (ops/onednn.cpp), float64 on the reference loops below; global average pooling is
// one plain loop for both.
//
// Max-pool's ties: the gradient of a window goes to one element, its first maximum in row-major
// order within the window (PyTorch's and oneDNN's choice); padding never wins (it is -inf).
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "xgrad/detail/conv.hpp"
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "conv_support.hpp"

namespace xg {

namespace detail {
namespace {
// Calls f(oy, ox, y0, y1, x0, x1) for every output position of one (n, c) plane, with the window's
// rows [y0, y1) and columns [x0, x1) clipped to the input.
template <class F>
void for_each_window(const Pool2dGeometry& g, F&& f) {
  for (long oy = 0; oy < long(g.oh); ++oy) {
    const long top = oy * long(g.stride_h) - long(g.pad_h);
    const long y0 = std::max(top, 0L), y1 = std::min(top + long(g.kh), long(g.h));
    for (long ox = 0; ox < long(g.ow); ++ox) {
      const long left = ox * long(g.stride_w) - long(g.pad_w);
      const long x0 = std::max(left, 0L), x1 = std::min(left + long(g.kw), long(g.w));
      f(std::size_t(oy * g.ow + ox), y0, y1, x0, x1);
    }
  }
}

// The position in the plane of the window's first maximum in row-major order.
template <class T>
std::size_t window_argmax(const Pool2dGeometry& g, const T* plane, long y0, long y1, long x0, long x1) {
  std::size_t best = y0 * g.w + x0;
  for (long iy = y0; iy < y1; ++iy)
    for (long ix = x0; ix < x1; ++ix)
      if (plane[iy * g.w + ix] > plane[best]) best = iy * g.w + ix;
  return best;
}

double window_divisor(const Pool2dGeometry& g, long y0, long y1, long x0, long x1) {
  return g.kind == PoolKind::avg_with_padding ? double(g.kh * g.kw) : double((y1 - y0) * (x1 - x0));
}
}  // namespace

template <class T>
void pool2d_forward_reference(const Pool2dGeometry& g, const T* x, T* y) {
  const std::size_t in_plane = std::size_t(g.h) * g.w, out_plane = std::size_t(g.oh) * g.ow;
  for (std::size_t p = 0; p < std::size_t(g.n) * g.c; ++p) {
    const T* plane = x + p * in_plane;
    T* out = y + p * out_plane;
    for_each_window(g, [&](std::size_t o, long y0, long y1, long x0, long x1) {
      if (g.kind == PoolKind::max) {
        out[o] = plane[window_argmax(g, plane, y0, y1, x0, x1)];
        return;
      }
      T s = 0;
      for (long iy = y0; iy < y1; ++iy)
        for (long ix = x0; ix < x1; ++ix) s += plane[iy * g.w + ix];
      out[o] = s / T(window_divisor(g, y0, y1, x0, x1));
    });
  }
}

template <class T>
void pool2d_backward_reference(const Pool2dGeometry& g, const T* x, const T* gy, T* gx, bool overwrite) {
  if (overwrite) std::fill(gx, gx + g.input_size(), T(0));
  const std::size_t in_plane = std::size_t(g.h) * g.w, out_plane = std::size_t(g.oh) * g.ow;
  for (std::size_t p = 0; p < std::size_t(g.n) * g.c; ++p) {
    const T* plane = x + p * in_plane;
    const T* d_out = gy + p * out_plane;
    T* d_in = gx + p * in_plane;
    for_each_window(g, [&](std::size_t o, long y0, long y1, long x0, long x1) {
      if (g.kind == PoolKind::max) {
        d_in[window_argmax(g, plane, y0, y1, x0, x1)] += d_out[o];
        return;
      }
      const T share = d_out[o] / T(window_divisor(g, y0, y1, x0, x1));
      for (long iy = y0; iy < y1; ++iy)
        for (long ix = x0; ix < x1; ++ix) d_in[iy * g.w + ix] += share;
    });
  }
}

#define DECLARE_REFERENCE(T)                                                          \
  template void pool2d_forward_reference(const Pool2dGeometry&, const T*, T*);        \
  template void pool2d_backward_reference(const Pool2dGeometry&, const T*, const T*, T*, bool);
XG_INSTANTIATE(DECLARE_REFERENCE)

}  // namespace detail

namespace {
using detail::dim32;
using detail::Pool2dGeometry;
using detail::PoolKind;

template <class T>
Pool2dGeometry pool2d_geometry(const char* op, const TensorT<T>& x, Size2 kernel, const Pool2dOptions& o, PoolKind kind) {
  const Size2 stride = o.stride.h || o.stride.w ? o.stride : kernel;
  const auto& xs = x.shape();
  const std::string shapes = "input " + shape_string(xs) + ", kernel (" + std::to_string(kernel.h) + ", " +
                             std::to_string(kernel.w) + "), padding (" + std::to_string(o.padding.h) + ", " +
                             std::to_string(o.padding.w) + ")";
  if (xs.size() != 4) throw shape_error(std::string(op) + ": expects input (N, C, H, W), got " + shapes);
  if (kernel.h == 0 || kernel.w == 0 || 2 * o.padding.h > kernel.h || 2 * o.padding.w > kernel.w)
    throw value_error(std::string(op) + ": the kernel must be at least 1 and the padding at most half of it (" +
                      shapes + ")");
  const std::size_t oh = detail::window_output_size(op, "height", xs[2], kernel.h, stride.h, o.padding.h, 1, shapes);
  const std::size_t ow = detail::window_output_size(op, "width", xs[3], kernel.w, stride.w, o.padding.w, 1, shapes);
  return {dim32(xs[0]), dim32(xs[1]), dim32(xs[2]), dim32(xs[3]), dim32(kernel.h), dim32(kernel.w), dim32(oh),
          dim32(ow), dim32(stride.h), dim32(stride.w), dim32(o.padding.h), dim32(o.padding.w), kind};
}

template <class T>
TensorT<T> pool2d(const char* op, const TensorT<T>& x, const Pool2dGeometry& g) {
  array<T> out = detail::new_buffer<T>({g.n, g.c, g.oh, g.ow});
  if constexpr (std::is_same_v<T, float>) {
    // Max-pool's winners, for its backward: held by the tape like a saved buffer.
    const std::size_t bytes = detail::onednn::pool2d_workspace_bytes(g);
    auto workspace = bytes ? detail::saved_buffer<T>(op, {(bytes + sizeof(T) - 1) / sizeof(T)}) : nullptr;
    detail::onednn::pool2d_forward(g, x.value().data(), out.data(), workspace ? workspace->value.data() : nullptr);
    return detail::make_result<T>(op, std::move(out), {&x}, [op, x = x.node(), workspace, g](const array<T>& gy, const array<T>&) {
      detail::add_grad(*x, op, detail::to_shape(x->value.shape()), [&](T* dst, bool overwrite) {
        detail::overwrite_or_add<T>("pool2d", g.input_size(), dst, overwrite, [&](T* into) {
          detail::onednn::pool2d_backward(g, gy.data(), workspace ? workspace->value.data() : nullptr, into);
        });
      });
    });
  } else {
    detail::pool2d_forward_reference(g, x.value().data(), out.data());
    return detail::make_result<T>(op, std::move(out), {&x}, [op, x = x.node(), g](const array<T>& gy, const array<T>&) {
      detail::add_grad(*x, op, detail::to_shape(x->value.shape()), [&](T* dst, bool overwrite) {
        detail::pool2d_backward_reference(g, x->value.data(), gy.data(), dst, overwrite);
      });
    });
  }
}
}  // namespace

template <class T>
TensorT<T> max_pool2d(const TensorT<T>& x, Size2 kernel, const Pool2dOptions& options) {
  return pool2d("max_pool2d", x, pool2d_geometry("max_pool2d", x, kernel, options, PoolKind::max));
}

template <class T>
TensorT<T> avg_pool2d(const TensorT<T>& x, Size2 kernel, const Pool2dOptions& options) {
  const PoolKind kind = options.count_padding ? PoolKind::avg_with_padding : PoolKind::avg_without_padding;
  return pool2d("avg_pool2d", x, pool2d_geometry("avg_pool2d", x, kernel, options, kind));
}

template <class T>
TensorT<T> global_avg_pool2d(const TensorT<T>& x) {
  if (x.dim() != 4 || x.shape()[2] * x.shape()[3] == 0)
    throw shape_error("global_avg_pool2d: expects input (N, C, H, W) with H, W > 0, got " + shape_string(x.shape()));
  const std::size_t planes = x.shape()[0] * x.shape()[1], plane = x.shape()[2] * x.shape()[3];
  array<T> out = detail::new_buffer<T>({x.shape()[0], x.shape()[1]});
  const T* in = x.value().data();
  const T inv = T(1) / T(plane);
  for (std::size_t p = 0; p < planes; ++p) {
    T s = 0;
    for (std::size_t i = 0; i < plane; ++i) s += in[p * plane + i];
    out.data()[p] = s * inv;
  }
  return detail::make_result<T>("global_avg_pool2d", std::move(out), {&x},
                                [x = x.node(), planes, plane, inv](const array<T>& gy, const array<T>&) {
                                  detail::add_grad(*x, "global_avg_pool2d", detail::to_shape(x->value.shape()), [&](T* dst, bool overwrite) {
                                    for (std::size_t p = 0; p < planes; ++p)
                                      for (std::size_t i = 0; i < plane; ++i) {
                                        const T v = gy.data()[p] * inv;
                                        dst[p * plane + i] = overwrite ? v : dst[p * plane + i] + v;
                                      }
                                  });
                                });
}

#define DECLARE(T)                                                                \
  template TensorT<T> max_pool2d(const TensorT<T>&, Size2, const Pool2dOptions&);        \
  template TensorT<T> avg_pool2d(const TensorT<T>&, Size2, const Pool2dOptions&);        \
  template TensorT<T> global_avg_pool2d(const TensorT<T>&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
