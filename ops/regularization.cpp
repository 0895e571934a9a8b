// dropout and l2_penalty: the regularisers that are graph nodes.
#include <cmath>
#include <cstdint>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {

// Inverted dropout: each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
// expected output is x and eval mode needs no rescaling. The mask (holding 0 or 1 / (1 - p)) is
// drawn from the generator, exactly one number per element in row-major order (kept when below
// (1 - p) 2^64), so a seed reproduces it on every platform (std::bernoulli_distribution's draws
// differ between standard libraries) and a shard of a batch can skip to its rows (nn::Dropout);
// backward multiplies by the same mask.
template <class T>
TensorT<T> dropout(const TensorT<T>& x, double p, bool train, Generator& generator) {
  if (!(p >= 0.0 && p < 1.0)) throw value_error("dropout: p = " + std::to_string(p) + " is outside [0, 1)");
  const shape_type shape = detail::to_shape(x.shape());
  const T* in = x.value().data();
  array<T> out = detail::new_buffer<T>(shape);
  const bool masked = train && p > 0.0;  // otherwise the identity
  std::shared_ptr<Node<T>> mask;
  if (masked) {
    mask = detail::saved_buffer<T>("dropout", shape);
    static_assert(Generator::min() == 0 && Generator::max() == ~std::uint64_t(0), "a 64-bit generator");
    const long double two_64 = 18446744073709551616.0L, keep = (1.0L - static_cast<long double>(p)) * two_64;
    const std::uint64_t keep_below = keep < two_64 ? std::uint64_t(keep) : ~std::uint64_t(0);  // p below 2^-64
    const T scale = T(1.0 / (1.0 - p));
    for (auto& m : mask->value) m = generator() < keep_below ? scale : T(0);
    xt::noalias(out) = x.value() * mask->value;
  } else {
    std::copy(in, in + x.size(), out.data());
  }
  return detail::make_result<T>("dropout", std::move(out), {&x},
                                [x = x.node(), masked, mask](const array<T>& g, const array<T>&) {
                                  if (masked) detail::add_grad(*x, "dropout", g * mask->value);
                                  else detail::add_grad(*x, "dropout", g);
                                },
                                detail::Reads::nothing);
}

// lambda / 2 * sum over the parameters of sum(W^2); d/dW = lambda * W. One node for the whole list,
// so a model's penalty is one term of the loss.
template <class T>
TensorT<T> l2_penalty(const std::vector<TensorT<T>>& params, double lambda) {
  if (!(lambda >= 0.0 && std::isfinite(lambda)))
    throw value_error("l2_penalty: lambda = " + std::to_string(lambda) + " is not a finite number >= 0");
  T total = 0;
  for (const auto& w : params)
    for (T v : w.value()) total += v * v;
  array<T> out = detail::new_buffer<T>({});
  out() = T(lambda / 2) * total;
  std::vector<std::shared_ptr<Node<T>>> nodes;
  for (const auto& w : params) nodes.push_back(w.node());
  return detail::make_result<T>("l2_penalty", std::move(out), params,
                                [nodes = std::move(nodes), lambda = T(lambda)](const array<T>& g, const array<T>&) {
                                  for (const auto& w : nodes) detail::add_grad(*w, "l2_penalty", (g() * lambda) * w->value);
                                });
}

#define DECLARE(T)                                                              \
  template TensorT<T> dropout(const TensorT<T>&, double, bool, Generator&);     \
  template TensorT<T> l2_penalty(const std::vector<TensorT<T>>&, double);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
