// reshape.
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {

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
  array<T> out = detail::new_buffer<T>(shape);
  std::copy(x.value().begin(), x.value().end(), out.begin());
  return detail::make_result<T>(
      "reshape", std::move(out), {&x},
      [x = x.node()](const array<T>& g, const array<T>&) {
        detail::add_grad(*x, "reshape", detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
          for (std::size_t i = 0; i < g.size(); ++i) gx[i] = overwrite ? g.data()[i] : gx[i] + g.data()[i];
        });
      },
      detail::Reads::nothing);
}

#define DECLARE(T) template TensorT<T> reshape(const TensorT<T>&, const axes_type&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
