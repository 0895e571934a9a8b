// batch_norm: fused forward and backward kernels over x viewed as (N, C, inner), per channel.
// Explicit loops over contiguous buffers: xtensor's axis reducers were 13x slower (DESIGN.md §6).
// Large inputs are split into blocks of channels, one per thread: each channel's sums run on one
// thread in one order, so the results are the same bit for bit with any number of threads.
#include <array>
#include <cmath>
#include <utility>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/detail/parallel.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
using detail::Channels;

// Calls body(c0, c1) for blocks of channels in parallel. For (N, C) input the kernels' SIMD loops
// run across channels, so blocks start at a multiple of 64 channels: a whole number of registers
// (see detail::parallel_blocks) and of cache lines, so that no two threads write one line.
template <class Body>
void for_channel_blocks(const Channels& ch, Body&& body) {
  detail::parallel_blocks(ch.c, ch.count(), ch.inner == 1 ? 64 : 1, std::forward<Body>(body));
}

// Calls f(k, c) for every element k of channels [c0, c1), with its channel c. For (N, C) input the
// inner loop runs along the contiguous channel axis, otherwise along one channel's contiguous run
// (both vectorise).
template <class F>
void for_each_element(const Channels& ch, std::size_t c0, std::size_t c1, F&& f) {
  for (std::size_t o = 0; o < ch.n; ++o)
    if (ch.inner == 1) {
      for (std::size_t c = c0; c < c1; ++c) f(o * ch.c + c, c);
    } else {
      for (std::size_t c = c0; c < c1; ++c) {
        const std::size_t base = (o * ch.c + c) * ch.inner;
        for (std::size_t i = 0; i < ch.inner; ++i) f(base + i, c);
      }
    }
}

// acc[j][c] = the sum over channel c of f(k, c)[j], for c in [c0, c1): N sums in one pass.
template <class T, std::size_t N, class F>
void channel_sums(const Channels& ch, std::size_t c0, std::size_t c1, const std::array<T*, N>& acc, F&& f) {
  for (T* a : acc) std::fill(a + c0, a + c1, T(0));
  if (ch.inner == 1) {
    for_each_element(ch, c0, c1, [&](std::size_t k, std::size_t c) {
      const std::array<T, N> v = f(k, c);
      for (std::size_t j = 0; j < N; ++j) acc[j][c] += v[j];
    });
    return;
  }
  for (std::size_t o = 0; o < ch.n; ++o)
    for (std::size_t c = c0; c < c1; ++c) {
      const std::size_t base = (o * ch.c + c) * ch.inner;
      std::array<T, N> s{};  // local accumulators for the run, not a store to acc per element
      for (std::size_t i = 0; i < ch.inner; ++i) {
        const std::array<T, N> v = f(base + i, c);
        for (std::size_t j = 0; j < N; ++j) s[j] += v[j];
      }
      for (std::size_t j = 0; j < N; ++j) acc[j][c] += s[j];
    }
}

// The mean and biased variance of channels [c0, c1), without the cancellation of E[x^2] - E[x]^2.
// (N, C): Welford's update a row at a time, across the contiguous channels: one pass over x, where
// two (the mean, then the squared deviations) cost a third more on a 4 MiB input, whose passes come
// from L3. (N, C, inner): per channel, those two passes over its runs.
template <class T>
void channel_statistics(const Channels& ch, std::size_t c0, std::size_t c1, const T* in, T* mean, T* var) {
  const T inv_m = T(1) / T(ch.count());
  if (ch.inner == 1) {
    std::fill(mean + c0, mean + c1, T(0));
    std::fill(var + c0, var + c1, T(0));  // the sum of squared deviations until the end
    for (std::size_t o = 0; o < ch.n; ++o) {
      const T* row = in + o * ch.c;
      const T weight = T(1) / T(o + 1);
      for (std::size_t c = c0; c < c1; ++c) {
        const T d = row[c] - mean[c];
        mean[c] += d * weight;
        var[c] += d * (row[c] - mean[c]);
      }
    }
  } else {
    channel_sums<T, 1>(ch, c0, c1, {mean}, [&](std::size_t k, std::size_t) { return std::array{in[k]}; });
    for (std::size_t c = c0; c < c1; ++c) mean[c] *= inv_m;
    channel_sums<T, 1>(ch, c0, c1, {var}, [&](std::size_t k, std::size_t c) {
      const T d = in[k] - mean[c];
      return std::array{d * d};
    });
  }
  for (std::size_t c = c0; c < c1; ++c) var[c] *= inv_m;
}
}  // namespace

// Train: mu and the biased variance over the batch, out = gamma * (x - mu) / sqrt(var + eps) + beta;
// the running statistics are updated in place. Eval: the same with the running statistics. Saves
// mu and 1/std per channel, not x_hat: backward recomputes it from x, which it reads as it would
// read x_hat, and forward is spared writing it.
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options) {
  const Channels ch = detail::batch_norm_channels(x, gamma, beta, running_mean, running_var, options);
  // Rows: mu, 1/std, and two of scratch (the batch variance here, backward's sums there); held by
  // the tape, so that steps reuse it.
  const auto stats = detail::saved_buffer<T>("batch_norm", {4, ch.c});
  T* mean = stats->value.data();
  T* inv_std = mean + ch.c;
  T* var = inv_std + ch.c;
  array<T> out = detail::new_buffer<T>(detail::to_shape(x.shape()));
  const T* in = x.value().data();
  const T* g = gamma.value().data();
  const T* b = beta.value().data();
  const T* rm = running_mean.value().data();
  const T* rv = running_var.value().data();
  T* y = out.data();
  const T eps = T(options.eps);
  const bool train = options.train;
  for_channel_blocks(ch, [&](std::size_t c0, std::size_t c1) {
    if (train) channel_statistics(ch, c0, c1, in, mean, var);
    for (std::size_t c = c0; c < c1; ++c) {
      if (!train) mean[c] = rm[c];
      inv_std[c] = T(1) / std::sqrt((train ? var[c] : rv[c]) + eps);
    }
    for_each_element(ch, c0, c1, [&](std::size_t k, std::size_t c) { y[k] = (in[k] - mean[c]) * (g[c] * inv_std[c]) + b[c]; });
  });
  if (train) detail::update_running_statistics(running_mean, running_var, mean, var, ch.count(), options.momentum);

  // With x_hat = (x - mu) / std: d(beta) = sum g; d(gamma) = sum g * x_hat; d(x) = gamma / std *
  // (g - a - x_hat * b) with a = mean(g) and b = mean(g * x_hat) in train mode (mu and var depend on
  // x), a = b = 0 in eval. The sums take one pass over g and x, d(x) a second.
  return detail::make_result<T>(
      "batch_norm", std::move(out), {&x, &gamma, &beta},
      [x = x.node(), gamma = gamma.node(), beta = beta.node(), stats, ch, train](const array<T>& grad, const array<T>&) {
        const T* gy = grad.data();
        const T* in = x->value.data();
        const T* g = gamma->value.data();
        const T* mean = stats->value.data();
        const T* inv_std = mean + ch.c;
        T* a = stats->value.data() + 2 * ch.c;  // sum g, then a
        T* b = a + ch.c;                        // sum g * x_hat, then b / std
        T* gb = beta->requires_grad ? detail::ensure_grad(*beta).data() : nullptr;
        T* gg = gamma->requires_grad ? detail::ensure_grad(*gamma).data() : nullptr;
        const bool add = x->requires_grad && !detail::claim_grad(*x);  // a fresh buffer is overwritten
        T* gx = x->requires_grad ? x->grad.data() : nullptr;
        const T inv_m = T(1) / T(ch.count());
        for_channel_blocks(ch, [&](std::size_t c0, std::size_t c1) {
          if (train || gb || gg) {
            channel_sums<T, 2>(ch, c0, c1, {a, b}, [&](std::size_t k, std::size_t c) {
              return std::array{gy[k], gy[k] * (in[k] - mean[c])};
            });
            for (std::size_t c = c0; c < c1; ++c) {
              b[c] *= inv_std[c];
              if (gb) gb[c] += a[c];
              if (gg) gg[c] += b[c];
            }
          }
          if (!gx) return;
          for (std::size_t c = c0; c < c1; ++c) {
            a[c] = train ? a[c] * inv_m : T(0);
            b[c] = train ? b[c] * inv_m * inv_std[c] : T(0);
          }
          for_each_element(ch, c0, c1, [&](std::size_t k, std::size_t c) {
            const T v = g[c] * inv_std[c] * (gy[k] - a[c] - (in[k] - mean[c]) * b[c]);
            gx[k] = add ? gx[k] + v : v;
          });
        });
      });
}

#define DECLARE(T)                                                                                      \
  template TensorT<T> batch_norm(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, TensorT<T>&, \
                                 TensorT<T>&, BatchNormOptions);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
