// conv2d: forward and backward (data, weights, bias) side by side. float32 runs on oneDNN
// (ops/onednn.cpp); float64 and the reference kernels below run im2col + BLAS GEMM per sample and
// group, the gradient check's path.
#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "xgrad/detail/conv.hpp"
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "conv_support.hpp"
#include "support.hpp"

namespace xg {

namespace detail {

std::size_t conv2d_col_size(const Conv2dGeometry& g) {
  return std::size_t(g.c / g.groups) * g.fh * g.fw * g.oh * g.ow;
}

namespace {
// The rows (ci, i, j) of col, one per filter tap, each the taps' inputs over the output positions
// (oy, ox): x at (ci, oy * S - P + i * D, ox * S - P + j * D), 0 in the padding.
template <class T>
void im2col(const Conv2dGeometry& g, const T* x, T* col) {
  const std::size_t cg = g.c / g.groups;
  for (std::size_t ci = 0; ci < cg; ++ci)
    for (std::size_t i = 0; i < g.fh; ++i)
      for (std::size_t j = 0; j < g.fw; ++j) {
        T* row = col + ((ci * g.fh + i) * g.fw + j) * g.oh * g.ow;
        const T* plane = x + ci * g.h * g.w;
        for (std::size_t oy = 0; oy < g.oh; ++oy) {
          const long iy = long(oy * g.stride_h + i * g.dil_h) - long(g.pad_h);
          for (std::size_t ox = 0; ox < g.ow; ++ox) {
            const long ix = long(ox * g.stride_w + j * g.dil_w) - long(g.pad_w);
            row[oy * g.ow + ox] = iy >= 0 && iy < long(g.h) && ix >= 0 && ix < long(g.w) ? plane[iy * g.w + ix] : T(0);
          }
        }
      }
}

// The adjoint of im2col: adds each tap's values back to the input position it read.
template <class T>
void col2im_add(const Conv2dGeometry& g, const T* col, T* x) {
  const std::size_t cg = g.c / g.groups;
  for (std::size_t ci = 0; ci < cg; ++ci)
    for (std::size_t i = 0; i < g.fh; ++i)
      for (std::size_t j = 0; j < g.fw; ++j) {
        const T* row = col + ((ci * g.fh + i) * g.fw + j) * g.oh * g.ow;
        T* plane = x + ci * g.h * g.w;
        for (std::size_t oy = 0; oy < g.oh; ++oy) {
          const long iy = long(oy * g.stride_h + i * g.dil_h) - long(g.pad_h);
          if (iy < 0 || iy >= long(g.h)) continue;
          for (std::size_t ox = 0; ox < g.ow; ++ox) {
            const long ix = long(ox * g.stride_w + j * g.dil_w) - long(g.pad_w);
            if (ix >= 0 && ix < long(g.w)) plane[iy * g.w + ix] += row[oy * g.ow + ox];
          }
        }
      }
}

// Offsets of sample n, group gi in x, w and y; the GEMM sizes of one group.
struct GroupView {
  std::size_t cg, kg, taps, positions;  // taps = cg * fh * fw per filter, positions = oh * ow
  explicit GroupView(const Conv2dGeometry& g)
      : cg(g.c / g.groups), kg(g.k / g.groups), taps(cg * g.fh * g.fw), positions(std::size_t(g.oh) * g.ow) {}
  std::size_t x(const Conv2dGeometry& g, std::size_t n, std::size_t gi) const {
    return (n * g.c + gi * cg) * g.h * g.w;
  }
  std::size_t w(std::size_t gi) const { return gi * kg * taps; }
  std::size_t y(const Conv2dGeometry& g, std::size_t n, std::size_t gi) const { return (n * g.k + gi * kg) * positions; }
};
}  // namespace

template <class T>
void conv2d_forward_reference(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y, T* col) {
  const GroupView v(g);
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t gi = 0; gi < g.groups; ++gi) {
      im2col(g, x + v.x(g, n, gi), col);
      // y[kg, positions] = W[kg, taps] col[taps, positions]
      gemm(false, false, v.kg, v.positions, v.taps, T(1), w + v.w(gi), col, T(0), y + v.y(g, n, gi));
    }
  if (bias)
    for (std::size_t n = 0; n < g.n; ++n)
      for (std::size_t k = 0; k < g.k; ++k) {
        T* plane = y + (n * g.k + k) * v.positions;
        for (std::size_t p = 0; p < v.positions; ++p) plane[p] += bias[k];
      }
}

template <class T>
void conv2d_backward_data_reference(const Conv2dGeometry& g, const T* gy, const T* w, T* gx, bool overwrite, T* col) {
  const GroupView v(g);
  if (overwrite) std::fill(gx, gx + g.input_size(), T(0));
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t gi = 0; gi < g.groups; ++gi) {
      // col[taps, positions] = W[kg, taps]^T dy[kg, positions]
      gemm(true, false, v.taps, v.positions, v.kg, T(1), w + v.w(gi), gy + v.y(g, n, gi), T(0), col);
      col2im_add(g, col, gx + v.x(g, n, gi));
    }
}

template <class T>
void conv2d_backward_weights_reference(const Conv2dGeometry& g, const T* x, const T* gy, T* gw, bool overwrite,
                                       T* col) {
  const GroupView v(g);
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t gi = 0; gi < g.groups; ++gi) {
      im2col(g, x + v.x(g, n, gi), col);
      // dW[kg, taps] (+)= dy[kg, positions] col[taps, positions]^T, summed over the samples
      const T beta = overwrite && n == 0 ? T(0) : T(1);
      gemm(false, true, v.kg, v.taps, v.positions, T(1), gy + v.y(g, n, gi), col, beta, gw + v.w(gi));
    }
}

template <class T>
void conv2d_backward_bias(const Conv2dGeometry& g, const T* gy, T* gbias, bool overwrite) {
  const std::size_t positions = std::size_t(g.oh) * g.ow;
  if (overwrite) std::fill(gbias, gbias + g.k, T(0));
  for (std::size_t n = 0; n < g.n; ++n)
    for (std::size_t k = 0; k < g.k; ++k) {
      const T* plane = gy + (n * g.k + k) * positions;
      T s = 0;
      for (std::size_t p = 0; p < positions; ++p) s += plane[p];
      gbias[k] += s;
    }
}

#define DECLARE_REFERENCE(T)                                                                                          \
  template void conv2d_forward_reference(const Conv2dGeometry&, const T*, const T*, const T*, T*, T*);                \
  template void conv2d_backward_data_reference(const Conv2dGeometry&, const T*, const T*, T*, bool, T*);              \
  template void conv2d_backward_weights_reference(const Conv2dGeometry&, const T*, const T*, T*, bool, T*);           \
  template void conv2d_backward_bias(const Conv2dGeometry&, const T*, T*, bool);
XG_INSTANTIATE(DECLARE_REFERENCE)

}  // namespace detail

namespace {
using detail::Conv2dGeometry;
using detail::dim32;

template <class T>
Conv2dGeometry conv2d_geometry(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                               const Conv2dOptions& o) {
  const auto& xs = x.shape();
  const auto& ws = w.shape();
  const std::string shapes = "input " + shape_string(xs) + ", weight " + shape_string(ws) +
                             (bias ? ", bias " + shape_string(bias->shape()) : std::string()) + ", groups " +
                             std::to_string(o.groups);
  if (xs.size() != 4 || ws.size() != 4)
    throw shape_error("conv2d: expects input (N, C, H, W) and weight (K, C / groups, F_h, F_w), got " + shapes);
  if (o.groups == 0 || xs[1] % o.groups || ws[0] % o.groups)
    throw shape_error("conv2d: groups must divide the input channels and the filters (" + shapes + ")");
  if (ws[1] * o.groups != xs[1])
    throw shape_error("conv2d: the weight's " + std::to_string(ws[1]) + " channels per filter times " +
                      std::to_string(o.groups) + " groups do not match the input's " + std::to_string(xs[1]) +
                      " channels (" + shapes + ")");
  if (bias && (bias->dim() != 1 || bias->shape()[0] != ws[0]))
    throw shape_error("conv2d: the bias must have one value per filter (" + shapes + ")");
  const std::size_t oh = detail::window_output_size("conv2d", "height", xs[2], ws[2], o.stride.h, o.padding.h, o.dilation.h, shapes);
  const std::size_t ow = detail::window_output_size("conv2d", "width", xs[3], ws[3], o.stride.w, o.padding.w, o.dilation.w, shapes);
  return {dim32(xs[0]), dim32(xs[1]), dim32(xs[2]), dim32(xs[3]), dim32(ws[0]), dim32(ws[2]), dim32(ws[3]),
          dim32(oh), dim32(ow), dim32(o.groups), dim32(o.stride.h), dim32(o.stride.w), dim32(o.padding.h),
          dim32(o.padding.w), dim32(o.dilation.h), dim32(o.dilation.w), bias != nullptr};
}

// Scratch for the reference path's im2col, recycled by the tape; the caller holds it while in use.
template <class T>
std::shared_ptr<Node<T>> col_buffer(const Conv2dGeometry& g) {
  return detail::saved_buffer<T>("conv2d", {detail::conv2d_col_size(g)});
}

template <class T>
void forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  if constexpr (std::is_same_v<T, float>)
    detail::onednn::conv2d_forward(g, x, w, bias, y);
  else
    detail::conv2d_forward_reference(g, x, w, bias, y, col_buffer<T>(g)->value.data());
}

template <class T>
void backward_data(const Conv2dGeometry& g, const T* gy, const T* w, T* gx, bool overwrite) {
  if constexpr (std::is_same_v<T, float>)
    detail::overwrite_or_add<T>("conv2d", g.input_size(), gx, overwrite,
                                [&](T* dst) { detail::onednn::conv2d_backward_data(g, gy, w, dst); });
  else
    detail::conv2d_backward_data_reference(g, gy, w, gx, overwrite, col_buffer<T>(g)->value.data());
}

template <class T>
void backward_weights(const Conv2dGeometry& g, const T* x, const T* gy, T* gw, bool overwrite) {
  if constexpr (std::is_same_v<T, float>)
    detail::overwrite_or_add<T>("conv2d", g.weight_size(), gw, overwrite,
                                [&](T* dst) { detail::onednn::conv2d_backward_weights(g, x, gy, dst); });
  else
    detail::conv2d_backward_weights_reference(g, x, gy, gw, overwrite, col_buffer<T>(g)->value.data());
}

template <class T>
TensorT<T> conv2d_op(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias, const Conv2dOptions& o) {
  const Conv2dGeometry g = conv2d_geometry(x, w, bias, o);
  array<T> out = detail::new_buffer<T>({g.n, g.k, g.oh, g.ow});
  forward<T>(g, x.value().data(), w.value().data(), bias ? bias->value().data() : nullptr, out.data());
  const std::array<const TensorT<T>*, 3> inputs{&x, &w, bias};
  return detail::make_result_of<T>(
      "conv2d", std::move(out), std::span(inputs.data(), bias ? 3 : 2),
      [x = x.node(), w = w.node(), b = bias ? bias->node() : nullptr, g](const array<T>& gy, const array<T>&) {
        detail::add_grad(*x, "conv2d", detail::to_shape(x->value.shape()), [&](T* dst, bool overwrite) { backward_data(g, gy.data(), w->value.data(), dst, overwrite); });
        detail::add_grad(*w, "conv2d", detail::to_shape(w->value.shape()), [&](T* dst, bool overwrite) { backward_weights(g, x->value.data(), gy.data(), dst, overwrite); });
        if (b) detail::add_grad(*b, "conv2d", detail::to_shape(b->value.shape()), [&](T* dst, bool overwrite) { detail::conv2d_backward_bias(g, gy.data(), dst, overwrite); });
      },
      detail::Reads::values);
}
}  // namespace

template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& w, const Conv2dOptions& options) {
  return conv2d_op<T>(x, w, nullptr, options);
}

template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias, const Conv2dOptions& options) {
  return conv2d_op<T>(x, w, &bias, options);
}

#define DECLARE(T)                                                                        \
  template TensorT<T> conv2d(const TensorT<T>&, const TensorT<T>&, const Conv2dOptions&);        \
  template TensorT<T> conv2d(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, const Conv2dOptions&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
