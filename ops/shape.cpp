// reshape and flatten: the same values in a new shape.
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {

namespace {
// x's values in `shape` (of as many elements), recorded as op.
template <class T>
TensorT<T> with_shape(const char* op, const TensorT<T>& x, const shape_type& shape) {
  array<T> out = detail::new_buffer<T>(shape);
  std::copy(x.value().begin(), x.value().end(), out.begin());
  return detail::make_result<T>(
      op, std::move(out), {&x},
      [op, x = x.node()](const array<T>& g, const array<T>&) {
        detail::add_grad(*x, op, detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
          for (std::size_t i = 0; i < g.size(); ++i) gx[i] = overwrite ? g.data()[i] : gx[i] + g.data()[i];
        });
      },
      detail::Reads::nothing);
}
}  // namespace

template <class T>
TensorT<T> reshape(const TensorT<T>& x, const axes_type& requested) {
  shape_type shape(requested.size(), 1);
  std::size_t inferred = requested.size();
  for (std::size_t i = 0; i < requested.size(); ++i) {
    if (requested[i] == -1 && inferred == requested.size())
      inferred = i;
    else if (requested[i] < 0)
      throw value_error("reshape: bad dimension " + std::to_string(requested[i]) + " in " + shape_string(requested));
    else
      shape[i] = static_cast<std::size_t>(requested[i]);
  }
  // Checked products: a shape whose element count wraps around must not pass for a small one.
  const std::size_t known = detail::checked_size("reshape", shape);
  if (inferred < requested.size()) shape[inferred] = known ? x.size() / known : 0;
  if (detail::checked_size("reshape", shape) != x.size())
    throw shape_error("reshape: cannot reshape a tensor of shape " + shape_string(x.shape()) + " (" +
                      std::to_string(x.size()) + " elements) to " + shape_string(requested));
  return with_shape("reshape", x, shape);
}

template <class T>
TensorT<T> flatten(const TensorT<T>& x, long start_axis) {
  const std::size_t start = detail::normalize_axis("flatten", start_axis, x.dim());
  shape_type shape(x.shape().begin(), x.shape().begin() + start);
  std::size_t merged = 1;
  for (std::size_t d = start; d < x.dim(); ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  return with_shape("flatten", x, shape);
}

#define DECLARE(T)                                                  \
  template TensorT<T> reshape(const TensorT<T>&, const axes_type&); \
  template TensorT<T> flatten(const TensorT<T>&, long);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
