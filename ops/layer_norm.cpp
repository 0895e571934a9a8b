// layer_norm: fused forward and backward kernels over x viewed as (rows, features), each row
// normalised over its contiguous features. Explicit loops (DESIGN.md §6).
#include <cmath>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

// Per row: mu and the biased variance over the features, out = gamma * (x - mu) / sqrt(var + eps) +
// beta (PyTorch's nn.LayerNorm). The variance is taken as the mean of squared deviations from mu (two
// passes over a row that is in cache), not E[x^2] - mu^2, which cancels for data far from zero.
// Saves mu and 1/std per row.
template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, double eps) {
  const detail::Rows r = detail::layer_norm_rows(x, gamma, beta, eps);
  const std::size_t d = r.features;
  const auto stats = detail::saved_buffer<T>("layer_norm", {2, r.rows});
  T* mean = stats->value.data();
  T* inv_std = mean + r.rows;
  const T* in = x.value().data();
  const T* g = gamma.value().data();
  const T* b = beta.value().data();
  array<T> out = detail::new_buffer<T>(detail::to_shape(x.shape()));
  T* y = out.data();
  for (std::size_t i = 0; i < r.rows; ++i) {
    const T* row = in + i * d;
    T sum = 0, squares = 0;
    for (std::size_t j = 0; j < d; ++j) sum += row[j];
    const T mu = sum / T(d);
    for (std::size_t j = 0; j < d; ++j) squares += (row[j] - mu) * (row[j] - mu);
    const T s = T(1) / std::sqrt(squares / T(d) + T(eps));
    mean[i] = mu;
    inv_std[i] = s;
    for (std::size_t j = 0; j < d; ++j) y[i * d + j] = (row[j] - mu) * s * g[j] + b[j];
  }

  // With x_hat = (x - mu) / std and h = g * gamma: d(beta) = sum over rows of g; d(gamma) = sum of
  // g * x_hat; d(x) = (h - mean(h) - x_hat * mean(h * x_hat)) / std, the means over the row.
  return detail::make_result<T>(
      "layer_norm", std::move(out), {&x, &gamma, &beta},
      [x = x.node(), gamma = gamma.node(), beta = beta.node(), stats, rows = r.rows, d](const array<T>& grad,
                                                                                        const array<T>&) {
        const T* gy = grad.data();
        const T* in = x->value.data();
        const T* g = gamma->value.data();
        const T* mean = stats->value.data();
        const T* inv_std = mean + rows;
        const auto x_hat = [&](std::size_t i, std::size_t j) { return (in[i * d + j] - mean[i]) * inv_std[i]; };
        // gamma and beta have the shape of one row: add_grad's writer sums over the rows itself.
        detail::add_grad(*beta, "layer_norm", detail::to_shape(beta->value.shape()), [&](T* gb, bool overwrite) {
          if (overwrite) std::fill(gb, gb + d, T(0));
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < d; ++j) gb[j] += gy[i * d + j];
        });
        detail::add_grad(*gamma, "layer_norm", detail::to_shape(gamma->value.shape()), [&](T* gg, bool overwrite) {
          if (overwrite) std::fill(gg, gg + d, T(0));
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < d; ++j) gg[j] += gy[i * d + j] * x_hat(i, j);
        });
        detail::add_grad(*x, "layer_norm", detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
          for (std::size_t i = 0; i < rows; ++i) {
            T a = 0, b = 0;
            for (std::size_t j = 0; j < d; ++j) {
              const T h = gy[i * d + j] * g[j];
              a += h;
              b += h * x_hat(i, j);
            }
            a /= T(d);
            b /= T(d);
            for (std::size_t j = 0; j < d; ++j) {
              const T v = (gy[i * d + j] * g[j] - a - x_hat(i, j) * b) * inv_std[i];
              gx[i * d + j] = overwrite ? v : gx[i * d + j] + v;
            }
          }
        });
      });
}

#define DECLARE(T) template TensorT<T> layer_norm(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, double);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
