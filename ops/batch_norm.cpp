// batch_norm: fused forward and backward kernels over x viewed as (N, C, inner), per channel.
// Explicit loops over contiguous buffers: xtensor's axis reducers were 13x slower (DESIGN.md §6).
//
// Large inputs run in parallel over parts of whole samples, fixed by the shape: a part is one
// contiguous piece of x, which streams at full speed (a block of channels is a piece of every row,
// and streamed a fifth slower), and a late or busy thread leaves its parts to the others. Each part
// sums its samples on its own; the parts' sums are then combined in part order, so the results are
// the same bit for bit whatever the number of threads.
#include <array>
#include <cmath>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/detail/parallel.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
using detail::Channels;

// The samples [begin(p), end(p)) of part p.
struct Parts {
  std::size_t count, samples;
  explicit Parts(const Channels& ch) : count(detail::parallel_part_count(ch.n * ch.c * ch.inner, ch.n)), samples(ch.n) {}
  std::size_t begin(std::size_t p) const { return samples * p / count; }
  std::size_t end(std::size_t p) const { return begin(p + 1); }
};

// Calls f(k, c) for every element k of samples [o0, o1), with its channel c. For (N, C) input the
// inner loop runs along the contiguous channel axis, otherwise along one channel's contiguous run
// (both vectorise).
template <class F>
void for_each_element(const Channels& ch, std::size_t o0, std::size_t o1, F&& f) {
  for (std::size_t o = o0; o < o1; ++o)
    if (ch.inner == 1) {
      for (std::size_t c = 0; c < ch.c; ++c) f(o * ch.c + c, c);
    } else {
      for (std::size_t c = 0; c < ch.c; ++c) {
        const std::size_t base = (o * ch.c + c) * ch.inner;
        for (std::size_t i = 0; i < ch.inner; ++i) f(base + i, c);
      }
    }
}

// acc[j][c] = the sum of f(k, c)[j] over the elements k of channel c in samples [o0, o1): N sums
// in one pass.
template <class T, std::size_t N, class F>
void channel_sums(const Channels& ch, std::size_t o0, std::size_t o1, const std::array<T*, N>& acc, F&& f) {
  for (T* a : acc) std::fill(a, a + ch.c, T(0));
  if (ch.inner == 1) {
    for_each_element(ch, o0, o1, [&](std::size_t k, std::size_t c) {
      const std::array<T, N> v = f(k, c);
      for (std::size_t j = 0; j < N; ++j) acc[j][c] += v[j];
    });
    return;
  }
  for (std::size_t o = o0; o < o1; ++o)
    for (std::size_t c = 0; c < ch.c; ++c) {
      const std::size_t base = (o * ch.c + c) * ch.inner;
      std::array<T, N> s{};  // local accumulators for the run, not a store to acc per element
      for (std::size_t i = 0; i < ch.inner; ++i) {
        const std::array<T, N> v = f(base + i, c);
        for (std::size_t j = 0; j < N; ++j) s[j] += v[j];
      }
      for (std::size_t j = 0; j < N; ++j) acc[j][c] += s[j];
    }
}

// Channel c's first value in sample o: what its statistics over samples from o on are taken
// relative to, so that they are as accurate for data far from zero as for data around it.
template <class T>
T shift_of(const Channels& ch, const T* in, std::size_t o, std::size_t c) {
  return in[(o * ch.c + c) * ch.inner];
}

// The mean of every channel over samples [o0, o1), less shift_of(o0), and the sum of squared
// deviations from it, without the cancellation of E[x^2] - E[x]^2. (N, C): Welford's update a row
// at a time, across the contiguous channels: one pass over x, where two (the mean, then the squared
// deviations) cost a third more on a 4 MiB input, whose passes come from L3. (N, C, inner): those
// two passes, per channel over its runs.
template <class T>
void channel_statistics(const Channels& ch, std::size_t o0, std::size_t o1, const T* in, T* mean, T* m2) {
  if (ch.inner == 1) {
    std::fill(mean, mean + ch.c, T(0));
    std::fill(m2, m2 + ch.c, T(0));
    const T* shift = in + o0 * ch.c;
    for (std::size_t o = o0; o < o1; ++o) {
      const T* row = in + o * ch.c;
      const T weight = T(1) / T(o - o0 + 1);
      for (std::size_t c = 0; c < ch.c; ++c) {
        const T v = row[c] - shift[c];
        const T d = v - mean[c];
        mean[c] += d * weight;
        m2[c] += d * (v - mean[c]);
      }
    }
    return;
  }
  channel_sums<T, 1>(ch, o0, o1, {mean},
                     [&](std::size_t k, std::size_t c) { return std::array{in[k] - shift_of(ch, in, o0, c)}; });
  const T inv_count = T(1) / T((o1 - o0) * ch.inner);
  for (std::size_t c = 0; c < ch.c; ++c) mean[c] *= inv_count;
  channel_sums<T, 1>(ch, o0, o1, {m2}, [&](std::size_t k, std::size_t c) {
    const T d = in[k] - shift_of(ch, in, o0, c) - mean[c];
    return std::array{d * d};
  });
}
}  // namespace

// Over the replicas (SyncBatchNorm): from each replica's count n_r and mean m_r, the global count n
// and mean mu = sum n_r m_r / n; then the squared deviations from mu, sum M2_r + n_r (m_r - mu)^2,
// which keep Chan et al.'s accuracy (no E[x^2] - E[x]^2). Two sums of C + 1 and C values. mean
// holds the replica's means on entry, m2 its squared deviations; `scratch` (C + 1 values) keeps n.
template <class T>
void sum_statistics_over_replicas(const ReplicaSum& replica_sum, std::size_t channels, std::size_t count, T* mean,
                                  T* m2, T* scratch) {
  for (std::size_t c = 0; c < channels; ++c) scratch[c] = T(count) * mean[c];
  scratch[channels] = T(count);
  replica_sum(std::span<T>(scratch, channels + 1));
  const T total = scratch[channels];
  if (total < T(2))
    throw value_error("batch_norm: train mode needs at least 2 values per channel over all replicas, but they hold " +
                      std::to_string(std::size_t(total)));
  for (std::size_t c = 0; c < channels; ++c) {
    const T mu = scratch[c] / total, d = mean[c] - mu;
    m2[c] += T(count) * d * d;
    mean[c] = mu;
  }
  replica_sum(std::span<T>(m2, channels));
}

// Train: mu and the biased variance over the batch, out = gamma * (x - mu) / sqrt(var + eps) + beta;
// the running statistics are updated in place. Eval: the same with the running statistics. Saves
// mu and 1/std per channel, not x_hat: backward recomputes it from x, which it reads as it would
// read x_hat, and forward is spared writing it. With options.replica_sum the batch is the union of
// every replica's (see ReplicaSum).
template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options) {
  const Channels ch = detail::batch_norm_channels(x, gamma, beta, running_mean, running_var, options);
  const Parts parts(ch);
  const ReplicaSum* replica_sum = options.train ? options.replica_sum : nullptr;
  // Rows: mu, 1/std, then two per part for its sums (here the mean and the squared deviations,
  // in backward those of g and g * (x - mu)), then over replicas two more: the global count at
  // [C] (and scratch before it). Held by the tape, so that steps reuse it.
  const auto stats = detail::saved_buffer<T>("batch_norm", {2 + 2 * parts.count + (replica_sum ? 2 : 0), ch.c});
  T* mean = stats->value.data();
  T* inv_std = mean + ch.c;
  const auto partial = [&](std::size_t p, std::size_t j) { return mean + (2 + 2 * p + j) * ch.c; };
  T* var = partial(0, 1);  // the parts' squared deviations combine into the first's
  T* replica_scratch = partial(parts.count, 0);
  const T* in = x.value().data();
  const T eps = T(options.eps);
  if (options.train) {
    detail::parallel_parts(parts.count, [&](std::size_t p) {
      channel_statistics(ch, parts.begin(p), parts.end(p), in, partial(p, 0), partial(p, 1));
    });
    // Chan et al.'s combination of (count, mean, squared deviations) of two sets of values, with
    // every part's mean taken relative to the first part's shift.
    T* m = partial(0, 0);
    for (std::size_t p = 1; p < parts.count; ++p) {
      const T n_a = T(parts.begin(p) * ch.inner), n_b = T((parts.end(p) - parts.begin(p)) * ch.inner);
      const T w = n_b / (n_a + n_b), v = n_a * w;
      const T* m_b = partial(p, 0);
      const T* m2_b = partial(p, 1);
      for (std::size_t c = 0; c < ch.c; ++c) {
        const T d = (shift_of(ch, in, parts.begin(p), c) - shift_of(ch, in, 0, c)) + m_b[c] - m[c];
        m[c] += d * w;
        var[c] += m2_b[c] + d * d * v;
      }
    }
    for (std::size_t c = 0; c < ch.c; ++c) mean[c] = shift_of(ch, in, 0, c) + m[c];
    std::size_t count = ch.count();
    if (replica_sum) {
      sum_statistics_over_replicas(*replica_sum, ch.c, count, mean, var, replica_scratch);
      count = std::size_t(replica_scratch[ch.c]);
    }
    const T inv_m = T(1) / T(count);
    for (std::size_t c = 0; c < ch.c; ++c) {
      var[c] *= inv_m;
      inv_std[c] = T(1) / std::sqrt(var[c] + eps);
    }
    detail::update_running_statistics(running_mean, running_var, mean, var, count, options.momentum);
  } else {
    const T* rm = running_mean.value().data();
    const T* rv = running_var.value().data();
    for (std::size_t c = 0; c < ch.c; ++c) {
      mean[c] = rm[c];
      inv_std[c] = T(1) / std::sqrt(rv[c] + eps);
    }
  }

  array<T> out = detail::new_buffer<T>(detail::to_shape(x.shape()));
  const T* g = gamma.value().data();
  const T* b = beta.value().data();
  T* y = out.data();
  detail::parallel_parts(parts.count, [&](std::size_t p) {
    for_each_element(ch, parts.begin(p), parts.end(p),
                     [&](std::size_t k, std::size_t c) { y[k] = (in[k] - mean[c]) * (g[c] * inv_std[c]) + b[c]; });
  });

  // With x_hat = (x - mu) / std: d(beta) = sum g; d(gamma) = sum g * x_hat; d(x) = gamma / std *
  // (g - a - x_hat * b) with a = mean(g) and b = mean(g * x_hat) in train mode (mu and var depend on
  // x), a = b = 0 in eval. The sums take one pass over g and x, d(x) a second. Over replicas, a and
  // b are means over the global batch, whose count forward saved.
  return detail::make_result<T>(
      "batch_norm", std::move(out), {&x, &gamma, &beta},
      [x = x.node(), gamma = gamma.node(), beta = beta.node(), stats, ch, parts, train = options.train, replica_sum](
          const array<T>& grad, const array<T>&) {
        const T* gy = grad.data();
        const T* in = x->value.data();
        const T* g = gamma->value.data();
        const T* mean = stats->value.data();
        const T* inv_std = mean + ch.c;
        const auto partial = [&](std::size_t p, std::size_t j) { return stats->value.data() + (2 + 2 * p + j) * ch.c; };
        T* a = partial(0, 0);  // sum g, then a
        T* b = partial(0, 1);  // sum g * (x - mu), then b / std
        if (train || beta->requires_grad || gamma->requires_grad) {
          detail::parallel_parts(parts.count, [&](std::size_t p) {
            channel_sums<T, 2>(ch, parts.begin(p), parts.end(p), {partial(p, 0), partial(p, 1)},
                               [&](std::size_t k, std::size_t c) { return std::array{gy[k], gy[k] * (in[k] - mean[c])}; });
          });
          for (std::size_t p = 1; p < parts.count; ++p)
            for (std::size_t c = 0; c < ch.c; ++c) {
              a[c] += partial(p, 0)[c];
              b[c] += partial(p, 1)[c];
            }
        }
        const shape_type per_channel{ch.c};
        detail::add_grad(*beta, "batch_norm", per_channel, [&](T* gb, bool overwrite) {
          for (std::size_t c = 0; c < ch.c; ++c) gb[c] = (overwrite ? T(0) : gb[c]) + a[c];
        });
        detail::add_grad(*gamma, "batch_norm", per_channel, [&](T* gg, bool overwrite) {
          for (std::size_t c = 0; c < ch.c; ++c) gg[c] = (overwrite ? T(0) : gg[c]) + b[c] * inv_std[c];
        });
        if (!x->requires_grad) return;
        T count = T(ch.count());
        if (replica_sum) {
          (*replica_sum)(std::span<T>(a, 2 * ch.c));  // a and b are adjacent rows
          count = partial(parts.count, 0)[ch.c];
        }
        const T inv_m = T(1) / count;
        for (std::size_t c = 0; c < ch.c; ++c) {
          a[c] = train ? a[c] * inv_m : T(0);
          b[c] = train ? b[c] * inv_m * inv_std[c] * inv_std[c] : T(0);
        }
        detail::add_grad(*x, "batch_norm", detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
          detail::parallel_parts(parts.count, [&](std::size_t p) {
            for_each_element(ch, parts.begin(p), parts.end(p), [&](std::size_t k, std::size_t c) {
              const T v = g[c] * inv_std[c] * (gy[k] - a[c] - (in[k] - mean[c]) * b[c]);
              gx[k] = overwrite ? v : gx[k] + v;
            });
          });
        });
      });
}

#define DECLARE(T)                                                                                      \
  template TensorT<T> batch_norm(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, TensorT<T>&, \
                                 TensorT<T>&, BatchNormOptions);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
