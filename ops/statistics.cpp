// var, std and logsumexp over any axes. Each walks the input once per pass in memory order, with
// every element's output index from for_each_reduced (explicit loops: DESIGN.md §6).
#include <cmath>
#include <limits>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
// var = sum (x - mean)^2 / (count - correction), correction 1 when unbiased (Bessel's); stddev is its
// square root. Two passes (the mean, then the squared deviations), so data far from zero keeps its
// digits. Backward: d var/dx = 2 (x - mean) / (count - correction); d std/dx = that / (2 std).
template <class T>
TensorT<T> variance_op(const char* op, const TensorT<T>& x, const axes_type& axes, bool unbiased, bool keepdims, bool root) {
  const shape_type shape = detail::to_shape(x.shape());
  const detail::ReductionPlan r = detail::plan_reduction(op, shape, axes, keepdims);
  const std::size_t correction = unbiased ? 1 : 0;
  if (r.count <= correction)
    throw value_error(std::string(op) + ": " + (unbiased ? "the unbiased variance needs 2 or more" : "the variance needs 1 or more") +
                      " values per output, but the axes " + shape_string(axes) + " of shape " + shape_string(shape) +
                      " hold " + std::to_string(r.count) + (unbiased ? " (pass unbiased = false for the biased one)" : ""));
  const shape_type strides = detail::reduced_strides(r.keep_shape);
  const auto mean = detail::saved_buffer<T>(op, r.out_shape);
  array<T> out = detail::new_buffer<T>(r.out_shape);
  T* mu = mean->value.data();
  T* y = out.data();
  const T* in = x.value().data();
  std::fill(mu, mu + out.size(), T(0));
  std::fill(y, y + out.size(), T(0));
  detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) { mu[o] += in[k]; });
  for (std::size_t o = 0; o < out.size(); ++o) mu[o] /= T(r.count);
  detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) { y[o] += (in[k] - mu[o]) * (in[k] - mu[o]); });
  const T divisor = T(r.count - correction);
  for (std::size_t o = 0; o < out.size(); ++o) y[o] = root ? std::sqrt(y[o] / divisor) : y[o] / divisor;
  return detail::make_result<T>(
      op, std::move(out), {&x},
      [op, x = x.node(), mean, strides, divisor, root](const array<T>& g, const array<T>& out) {
        const shape_type shape = detail::to_shape(x->value.shape());
        detail::add_grad(*x, op, shape, [&](T* gx, bool overwrite) {
          const T *in = x->value.data(), *mu = mean->value.data(), *gy = g.data(), *y = out.data();
          detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) {
            const T d = (in[k] - mu[o]) / divisor;
            const T v = root ? gy[o] * d / y[o] : gy[o] * T(2) * d;
            gx[k] = overwrite ? v : gx[k] + v;
          });
        });
      });
}
}  // namespace

template <class T>
TensorT<T> var(const TensorT<T>& x, const axes_type& axes, bool unbiased, bool keepdims) {
  return variance_op("var", x, axes, unbiased, keepdims, false);
}

template <class T>
TensorT<T> stddev(const TensorT<T>& x, const axes_type& axes, bool unbiased, bool keepdims) {
  return variance_op("stddev", x, axes, unbiased, keepdims, true);
}

// m + log sum exp(x - m) with m the maximum, so that nothing overflows. An infinite maximum shifts by
// 0 instead (inf - inf is NaN): all -inf gives -inf, any +inf gives +inf, as in PyTorch.
// d/dx = exp(x - out): the softmax over the axes.
template <class T>
TensorT<T> logsumexp(const TensorT<T>& x, const axes_type& axes, bool keepdims) {
  const shape_type shape = detail::to_shape(x.shape());
  const detail::ReductionPlan r = detail::plan_reduction("logsumexp", shape, axes, keepdims);
  const shape_type strides = detail::reduced_strides(r.keep_shape);
  const auto maximum = detail::saved_buffer<T>("logsumexp", r.out_shape);
  array<T> out = detail::new_buffer<T>(r.out_shape);
  T* m = maximum->value.data();
  T* y = out.data();
  const T* in = x.value().data();
  std::fill(m, m + out.size(), -std::numeric_limits<T>::infinity());
  std::fill(y, y + out.size(), T(0));
  detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) { m[o] = std::max(m[o], in[k]); });
  for (std::size_t o = 0; o < out.size(); ++o)
    if (std::isinf(m[o])) m[o] = T(0);
  detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) { y[o] += std::exp(in[k] - m[o]); });
  for (std::size_t o = 0; o < out.size(); ++o) y[o] = m[o] + std::log(y[o]);
  return detail::make_result<T>("logsumexp", std::move(out), {&x}, [x = x.node(), strides](const array<T>& g, const array<T>& out) {
    const shape_type shape = detail::to_shape(x->value.shape());
    detail::add_grad(*x, "logsumexp", shape, [&](T* gx, bool overwrite) {
      const T *in = x->value.data(), *gy = g.data(), *y = out.data();
      detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) {
        const T v = gy[o] * std::exp(in[k] - y[o]);
        gx[k] = overwrite ? v : gx[k] + v;
      });
    });
  });
}

#define DECLARE(T)                                                              \
  template TensorT<T> var(const TensorT<T>&, const axes_type&, bool, bool);     \
  template TensorT<T> stddev(const TensorT<T>&, const axes_type&, bool, bool);     \
  template TensorT<T> logsumexp(const TensorT<T>&, const axes_type&, bool);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
