// sum and mean over axes (keepdims). Explicit strided kernels: xtensor's axis
// reducers were 13x slower than a loop here (DESIGN.md §6).
#include <limits>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
using detail::plan_reduction;

// sum(x) * scale over the axes; mean is the sum with scale 1/count.
template <class T>
TensorT<T> scaled_sum(const char* op, const TensorT<T>& x, const axes_type& axes, bool keepdims, bool mean) {
  const shape_type shape = detail::to_shape(x.shape());
  const detail::ReductionPlan r = plan_reduction(op, shape, axes, keepdims);
  if (mean && r.count == 0)
    throw shape_error("mean: the axes " + shape_string(axes) + " of shape " + shape_string(shape) +
                      " hold no elements (the mean of nothing is undefined)");
  const T scale = mean ? T(1) / T(r.count) : T(1);
  const shape_type strides = detail::reduced_strides(r.keep_shape);
  array<T> out = detail::new_buffer<T>(r.out_shape);
  out.fill(T(0));
  detail::sum_into(x.value().data(), shape, strides, out.data());
  if (mean) out *= scale;
  return detail::make_result<T>(
      op, std::move(out), {&x},
      [x = x.node(), op, strides, scale](const array<T>& g, const array<T>&) {
        const shape_type shape = detail::to_shape(x->value.shape());
        detail::add_grad(*x, op, shape, [&](T* gx, bool overwrite) {
          if (overwrite) std::fill(gx, gx + x->value.size(), T(0));
          detail::broadcast_into(g.data(), shape, strides, gx, scale);
        });
      },
      detail::Reads::nothing);
}
}  // namespace

template <class T>
TensorT<T> sum(const TensorT<T>& x, const axes_type& axes, bool keepdims) {
  return scaled_sum("sum", x, axes, keepdims, false);
}

template <class T>
TensorT<T> mean(const TensorT<T>& x, const axes_type& axes, bool keepdims) {
  return scaled_sum("mean", x, axes, keepdims, true);
}

#define DECLARE(T)                                                          \
  template TensorT<T> sum(const TensorT<T>&, const axes_type&, bool);       \
  template TensorT<T> mean(const TensorT<T>&, const axes_type&, bool);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
