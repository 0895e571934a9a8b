// batch_norm: fused forward and backward kernels over x viewed as (N, C, inner), per channel.
// Explicit loops over contiguous buffers: xtensor's axis reducers were 13x slower (DESIGN.md §6).
#include <cmath>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
using detail::Channels;

// Calls f(k, c) for every element k, with its channel c. For (N, C) input the inner loop runs along
// the contiguous channel axis, otherwise along one channel's contiguous run (both vectorise).
template <class F>
void for_each_element(const Channels& ch, F&& f) {
  if (ch.inner == 1) {
    for (std::size_t o = 0; o < ch.n; ++o)
      for (std::size_t c = 0; c < ch.c; ++c) f(o * ch.c + c, c);
  } else {
    for (std::size_t o = 0; o < ch.n; ++o)
      for (std::size_t c = 0; c < ch.c; ++c) {
        const std::size_t base = (o * ch.c + c) * ch.inner;
        for (std::size_t i = 0; i < ch.inner; ++i) f(base + i, c);
      }
  }
}

// sum over channel c of f(k, c), for every channel: one pass over the data.
template <class T, class F>
std::vector<T> channel_sums(const Channels& ch, F&& f) {
  std::vector<T> acc(ch.c, T(0));
  if (ch.inner == 1) {
    for_each_element(ch, [&](std::size_t k, std::size_t c) { acc[c] += f(k, c); });
  } else {
    for (std::size_t o = 0; o < ch.n; ++o)
      for (std::size_t c = 0; c < ch.c; ++c) {
        const std::size_t base = (o * ch.c + c) * ch.inner;
        T s = 0;  // a local accumulator for the run, not a store to acc[c] per element
        for (std::size_t i = 0; i < ch.inner; ++i) s += f(base + i, c);
        acc[c] += s;
      }
  }
  return acc;
}
}  // namespace

// Train: mu and the biased variance over the batch (two passes, so no cancellation), x_hat =
// (x - mu) / sqrt(var + eps), out = gamma * x_hat + beta; the running statistics are updated in
// place. Eval: the same with the running statistics. Saves x_hat and 1/std per channel.
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options) {
  const Channels ch = detail::batch_norm_channels(x, gamma, beta, running_mean, running_var, options);
  const T* in = x.value().data();
  std::vector<T> mean, inv_std(ch.c);
  if (options.train) {
    const T inv_m = T(1) / T(ch.count());
    mean = channel_sums<T>(ch, [&](std::size_t k, std::size_t) { return in[k]; });
    for (T& v : mean) v *= inv_m;
    std::vector<T> var = channel_sums<T>(ch, [&](std::size_t k, std::size_t c) {
      const T d = in[k] - mean[c];
      return d * d;
    });
    for (T& v : var) v *= inv_m;
    for (std::size_t c = 0; c < ch.c; ++c) inv_std[c] = T(1) / std::sqrt(var[c] + T(options.eps));
    detail::update_running_statistics(running_mean, running_var, mean.data(), var.data(), ch.count(), options.momentum);
  } else {
    const T* rm = running_mean.value().data();
    const T* rv = running_var.value().data();
    mean.assign(rm, rm + ch.c);
    for (std::size_t c = 0; c < ch.c; ++c) inv_std[c] = T(1) / std::sqrt(rv[c] + T(options.eps));
  }

  const shape_type shape = detail::to_shape(x.shape());
  array<T> out = detail::new_buffer<T>(shape);
  const auto x_hat = detail::saved_buffer<T>("batch_norm", shape);
  const T* g = gamma.value().data();
  const T* b = beta.value().data();
  T* xh = x_hat->value.data();
  T* y = out.data();
  for_each_element(ch, [&](std::size_t k, std::size_t c) {
    xh[k] = (in[k] - mean[c]) * inv_std[c];
    y[k] = g[c] * xh[k] + b[c];
  });

  // d(beta) = sum g; d(gamma) = sum g * x_hat; d(x) = gamma / std * (g - a - x_hat * b) with
  // a = mean(g) and b = mean(g * x_hat) in train mode (mu and var depend on x), a = b = 0 in eval.
  return detail::make_result<T>(
      "batch_norm", std::move(out), {&x, &gamma, &beta},
      [x = x.node(), gamma = gamma.node(), beta = beta.node(), x_hat, inv_std = std::move(inv_std),
       ch, train = options.train](const array<T>& grad, const array<T>&) {
        const T* gy = grad.data();
        const T* xh = x_hat->value.data();
        const std::vector<T> sum_g = channel_sums<T>(ch, [&](std::size_t k, std::size_t) { return gy[k]; });
        const std::vector<T> sum_gx = channel_sums<T>(ch, [&](std::size_t k, std::size_t) { return gy[k] * xh[k]; });
        if (beta->requires_grad) {
          T* gb = detail::ensure_grad(*beta).data();
          for (std::size_t c = 0; c < ch.c; ++c) gb[c] += sum_g[c];
        }
        if (gamma->requires_grad) {
          T* gg = detail::ensure_grad(*gamma).data();
          for (std::size_t c = 0; c < ch.c; ++c) gg[c] += sum_gx[c];
        }
        if (!x->requires_grad) return;
        std::vector<T> scale(ch.c), a(ch.c, T(0)), b(ch.c, T(0));
        const T inv_m = T(1) / T(ch.count());
        for (std::size_t c = 0; c < ch.c; ++c) {
          scale[c] = gamma->value.data()[c] * inv_std[c];
          if (train) {
            a[c] = sum_g[c] * inv_m;
            b[c] = sum_gx[c] * inv_m;
          }
        }
        const bool add = !detail::claim_grad(*x);  // a fresh buffer is overwritten, not zeroed first
        T* gx = x->grad.data();
        for_each_element(ch, [&](std::size_t k, std::size_t c) {
          gx[k] = (add ? gx[k] : T(0)) + scale[c] * (gy[k] - a[c] - xh[k] * b[c]);
        });
      });
}

#define DECLARE(T)                                                                                      \
  template TensorT<T> batch_norm(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, TensorT<T>&, \
                                 TensorT<T>&, BatchNormOptions);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
