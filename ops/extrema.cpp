// max and min over any axes (torch.amax / amin: ties share the gradient), and max and min along one
// axis with the positions of the extremes (torch.max / min with dim: the gradient goes to that
// position). NaN propagates: a NaN is the extreme of any set it is in, as in PyTorch.
#include <cmath>
#include <cstdint>
#include <limits>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
// Whether v replaces the extreme so far, best: a greater (Max) or smaller value, or a first NaN.
template <bool Max, class T>
bool beats(T v, T best) {
  return !std::isnan(best) && (std::isnan(v) || (Max ? v > best : v < best));
}

// v is the extreme: equal to it, or both NaN.
template <class T>
bool attains(T v, T extreme) {
  return v == extreme || (std::isnan(v) && std::isnan(extreme));
}

template <bool Max>
constexpr const char* extreme_name = Max ? "max" : "min";

// The extreme over the axes; its gradient is shared evenly by the elements that attain it (the
// count of those is saved per output).
template <bool Max, class T>
TensorT<T> extreme_over(const TensorT<T>& x, const axes_type& axes, bool keepdims) {
  const char* op = extreme_name<Max>;
  const shape_type shape = detail::to_shape(x.shape());
  const detail::ReductionPlan r = detail::plan_reduction(op, shape, axes, keepdims);
  if (r.count == 0)
    throw shape_error(std::string(op) + ": the axes " + shape_string(axes) + " of shape " + shape_string(shape) +
                      " hold no elements (no extreme)");
  const shape_type strides = detail::reduced_strides(r.keep_shape);
  const auto ties = detail::saved_buffer<T>(op, r.out_shape);
  array<T> out = detail::new_buffer<T>(r.out_shape);
  T* y = out.data();
  T* count = ties->value.data();
  const T* in = x.value().data();
  // Starting from -inf (max) or +inf (min), which any value other than itself beats.
  std::fill(y, y + out.size(), (Max ? -1 : 1) * std::numeric_limits<T>::infinity());
  detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) {
    if (beats<Max>(in[k], y[o])) y[o] = in[k];
  });
  std::fill(count, count + out.size(), T(0));
  detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) { count[o] += attains(in[k], y[o]); });
  return detail::make_result<T>(op, std::move(out), {&x}, [x = x.node(), op, ties, strides](const array<T>& g, const array<T>& out) {
    const shape_type shape = detail::to_shape(x->value.shape());
    detail::add_grad(*x, op, shape, [&](T* gx, bool overwrite) {
      const T *in = x->value.data(), *y = out.data(), *count = ties->value.data(), *gy = g.data();
      detail::for_each_reduced(shape, strides, [&](std::size_t k, std::size_t o) {
        const T d = attains(in[k], y[o]) ? gy[o] / count[o] : T(0);
        gx[k] = overwrite ? d : gx[k] + d;
      });
    });
  });
}

// The extreme along one axis and where it is. The positions are saved as integers in a buffer the
// tape recycles (exact on any axis length; the closure holds no vector), so backward reads
// nothing of x and x may change after the op. The caller's copy of the positions (indices) is made
// only when asked for: max(x, axis) keeps no vector.
template <bool Max, class T>
Extremum<T> extreme_along(const TensorT<T>& x, long axis, bool keepdims, bool with_indices) {
  const char* op = extreme_name<Max>;
  const shape_type shape = detail::to_shape(x.shape());
  const std::size_t ax = detail::normalize_axis(op, axis, shape.size());
  if (shape[ax] == 0)
    throw shape_error(std::string(op) + ": axis " + std::to_string(axis) + " of shape " + shape_string(shape) + " is empty");
  const detail::AxisSplit s = detail::split_at_axis(shape, ax);
  const detail::ReductionPlan r = detail::plan_reduction(op, shape, {axis}, keepdims);
  array<T> out = detail::new_buffer<T>(r.out_shape);
  const auto positions = detail::saved_buffer<std::int64_t>(op, {s.outer * s.inner});
  const T* in = x.value().data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const std::size_t best = detail::extreme_line<Max>(in + o * s.n * s.inner + i, s.n, s.inner);
      positions->value.data()[o * s.inner + i] = std::int64_t(best);
      out.data()[o * s.inner + i] = in[(o * s.n + best) * s.inner + i];
    }
  std::vector<std::int64_t> indices;
  if (with_indices) indices.assign(positions->value.begin(), positions->value.end());
  TensorT<T> values = detail::make_result<T>(
      op, std::move(out), {&x},
      [x = x.node(), op, s, positions](const array<T>& g, const array<T>&) {
        detail::add_grad(*x, op, detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
          if (overwrite) std::fill(gx, gx + x->value.size(), T(0));
          const std::int64_t* best = positions->value.data();
          for (std::size_t j = 0; j < positions->value.size(); ++j) {
            const std::size_t o = j / s.inner, i = j % s.inner;
            gx[(o * s.n + std::size_t(best[j])) * s.inner + i] += g.data()[j];
          }
        });
      },
      detail::Reads::nothing);
  return {std::move(values), std::move(indices)};
}
}  // namespace

template <class T>
TensorT<T> max(const TensorT<T>& x, const axes_type& axes, bool keepdims) {
  return extreme_over<true>(x, axes, keepdims);
}

template <class T>
TensorT<T> min(const TensorT<T>& x, const axes_type& axes, bool keepdims) {
  return extreme_over<false>(x, axes, keepdims);
}

template <class T>
TensorT<T> max(const TensorT<T>& x, long axis, bool keepdims) {
  return extreme_along<true>(x, axis, keepdims, false).values;
}

template <class T>
TensorT<T> min(const TensorT<T>& x, long axis, bool keepdims) {
  return extreme_along<false>(x, axis, keepdims, false).values;
}

template <class T>
Extremum<T> max_with_indices(const TensorT<T>& x, long axis, bool keepdims) {
  return extreme_along<true>(x, axis, keepdims, true);
}

template <class T>
Extremum<T> min_with_indices(const TensorT<T>& x, long axis, bool keepdims) {
  return extreme_along<false>(x, axis, keepdims, true);
}

#define DECLARE(T)                                                             \
  template TensorT<T> max(const TensorT<T>&, const axes_type&, bool);          \
  template TensorT<T> min(const TensorT<T>&, const axes_type&, bool);          \
  template TensorT<T> max(const TensorT<T>&, long, bool);                      \
  template TensorT<T> min(const TensorT<T>&, long, bool);                      \
  template Extremum<T> max_with_indices(const TensorT<T>&, long, bool);        \
  template Extremum<T> min_with_indices(const TensorT<T>&, long, bool);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
