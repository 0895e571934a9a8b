// softmax, log_softmax and cross_entropy as fused kernels; argmax and accuracy (not differentiable).
// Every kernel works on lines along the axis of a contiguous tensor viewed as (outer, n, inner):
// element k of the line starting at `base` is at base + k * inner. Explicit loops, not xtensor's axis
// reducers (DESIGN.md §6).
#include <cmath>
#include <limits>
#include <type_traits>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
using unit_stride = std::integral_constant<std::size_t, 1>;

// Calls f(base, stride) for every line along the axis, in row-major order of the other axes. For
// the last axis the stride is a compile-time 1, so the line kernels vectorise over contiguous rows.
template <class F>
void for_each_line(const detail::AxisSplit& s, F&& f) {
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const std::size_t base = o * s.n * s.inner + i;
      if (s.inner == 1) f(base, unit_stride{});
      else f(base, s.inner);
    }
}

template <class T, class Stride>
T line_max(const T* x, std::size_t n, Stride stride) {
  T m = x[0];
  for (std::size_t k = 1; k < n; ++k) m = std::max(m, x[k * stride]);
  return m;
}

// y = softmax(x) or log_softmax(x) along every line. The maximum is subtracted before exp, so
// logits of ±1000 give exp(0) at the maximum and never overflow (the sum is at least 1: no log(0)
// either). exp runs once over the whole buffer, where xsimd vectorises it: a line of a few classes
// is shorter than one register, so exp line by line would run scalar. Calls line_done(base, lse)
// with each line's log-sum-exp, lse = log sum_k exp(x_k): log softmax is x - lse, never log(p),
// which is -inf once exp underflows.
template <bool Log, class T, class LineDone>
void softmax_lines(const detail::AxisSplit& s, const T* x, array<T>& out, LineDone&& line_done) {
  T* y = out.data();
  for_each_line(s, [&](std::size_t base, auto stride) {
    const T m = line_max(x + base, s.n, stride);
    for (std::size_t k = 0; k < s.n; ++k) y[base + k * stride] = x[base + k * stride] - m;
  });
  xt::noalias(out) = xt::exp(out);
  for_each_line(s, [&](std::size_t base, auto stride) {
    T total = 0;
    for (std::size_t k = 0; k < s.n; ++k) total += y[base + k * stride];
    const T lse = line_max(x + base, s.n, stride) + std::log(total);
    if constexpr (Log) {
      for (std::size_t k = 0; k < s.n; ++k) y[base + k * stride] = x[base + k * stride] - lse;
    } else {
      const T inv = T(1) / total;
      for (std::size_t k = 0; k < s.n; ++k) y[base + k * stride] *= inv;
    }
    line_done(base, lse);
  });
}

// The vector-Jacobian products, from the output y alone (which is all these ops keep):
// softmax:     dx = y * (g - sum(g * y))
// log_softmax: dx = g - exp(y) * sum(g)
template <bool Log, class T, class Stride>
void softmax_backward_line(const T* g, const T* y, T* gx, std::size_t n, Stride stride, bool overwrite) {
  T total = 0;
  for (std::size_t k = 0; k < n; ++k) total += Log ? g[k * stride] : g[k * stride] * y[k * stride];
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t j = k * stride;
    const T d = Log ? g[j] - std::exp(y[j]) * total : y[j] * (g[j] - total);
    gx[j] = overwrite ? d : gx[j] + d;
  }
}

template <bool Log, class T>
TensorT<T> softmax_op(const char* op, const TensorT<T>& x, long axis) {
  const shape_type shape = detail::to_shape(x.shape());
  const detail::AxisSplit split = detail::split_at_axis(shape, detail::normalize_axis(op, axis, shape.size()));
  if (split.n == 0) throw shape_error(std::string(op) + ": axis " + std::to_string(axis) + " of shape " + shape_string(shape) + " is empty");
  array<T> out = detail::new_buffer<T>(shape);
  softmax_lines<Log>(split, x.value().data(), out, [](std::size_t, T) {});
  return detail::make_result<T>(op, std::move(out), {&x}, [x = x.node(), op, split](const array<T>& g, const array<T>& out) {
    detail::add_grad(*x, op, detail::to_shape(out.shape()), [&](T* gx, bool overwrite) {
      for_each_line(split, [&](std::size_t base, auto stride) {
        softmax_backward_line<Log>(g.data() + base, out.data() + base, gx + base, split.n, stride, overwrite);
      });
    });
  });
}

// Softmax over the rows of (N, C) logits, into a buffer the op saves for its backward;
// row_done(row, lse) as line_done in softmax_lines.
template <class T, class RowDone>
std::shared_ptr<Node<T>> softmax_rows(const TensorT<T>& logits, RowDone&& row_done) {
  const std::size_t n = logits.shape()[0], c = logits.shape()[1];
  auto probs = detail::saved_buffer<T>("cross_entropy", {n, c});
  softmax_lines<false>(detail::AxisSplit{n, c, 1}, logits.value().data(), probs->value,
                       [&](std::size_t base, T lse) { row_done(base / c, lse); });
  return probs;
}

template <class T>
array<T> scalar_buffer(T v) {
  array<T> out = detail::new_buffer<T>({});
  out() = v;
  return out;
}
}  // namespace

template <class T>
TensorT<T> softmax(const TensorT<T>& x, long axis) {
  return softmax_op<false>("softmax", x, axis);
}

template <class T>
TensorT<T> log_softmax(const TensorT<T>& x, long axis) {
  return softmax_op<true>("log_softmax", x, axis);
}

// loss = -1/N sum_i log softmax(z_i)[y_i]; d(loss)/dz = (softmax(z) - onehot(y)) / N. Saves the
// probabilities only.
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels) {
  const auto [n, c] = detail::logits_shape("cross_entropy", logits, labels.size(), "one label per row");
  detail::check_labels("cross_entropy", labels, c);
  const T* z = logits.value().data();
  T total = 0;
  const auto probs = softmax_rows(logits, [&](std::size_t i, T lse) { total += lse - z[i * c + labels[i]]; });
  // The labels, in a buffer of integers the tape recycles like the rest.
  const auto classes = detail::saved_buffer<std::int64_t>("cross_entropy", {n});
  std::copy(labels.begin(), labels.end(), classes->value.data());
  return detail::make_result<T>(
      "cross_entropy", scalar_buffer(total / T(n)), {&logits},
      [z = logits.node(), probs, classes, n, c](const array<T>& g, const array<T>&) {
        const T scale = g() / T(n);
        detail::add_grad(*z, "cross_entropy", detail::to_shape(z->value.shape()), [&](T* gz, bool overwrite) {
          const T* p = probs->value.data();
          for (std::size_t j = 0; j < n * c; ++j) gz[j] = (overwrite ? T(0) : gz[j]) + scale * p[j];
          for (std::size_t i = 0; i < n; ++i) gz[i * c + std::size_t(classes->value.data()[i])] -= scale;
        });
      },
      detail::Reads::nothing);
}

// loss = -1/N sum_ij t_ij log softmax(z_i)_j. d(loss)/dz_i = (softmax(z_i) * sum_j t_ij - t_i) / N,
// which is (softmax - target) / N for rows that sum to 1; the row sum keeps the gradient exact for
// any targets. Soft targets may require gradients too (distillation): d(loss)/dt = -log softmax / N.
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, const TensorT<T>& targets) {
  const auto [n, c] = detail::targets_shape("cross_entropy", logits, targets);
  const T* z = logits.value().data();
  const T* t = targets.value().data();
  std::shared_ptr<Node<T>> logp;  // kept only when the targets need their gradient
  if (targets.requires_grad()) logp = detail::saved_buffer<T>("cross_entropy", {n, c});
  T total = 0;
  const auto probs = softmax_rows(logits, [&](std::size_t i, T lse) {
    for (std::size_t j = i * c; j < (i + 1) * c; ++j) {
      total -= t[j] * (z[j] - lse);
      if (logp) logp->value.data()[j] = z[j] - lse;
    }
  });
  return detail::make_result<T>(
      "cross_entropy", scalar_buffer(total / T(n)), {&logits, &targets},
      [z = logits.node(), tn = targets.node(), probs, logp, n, c](const array<T>& g, const array<T>&) {
        const T scale = g() / T(n);
        const T* t = tn->value.data();
        const T* p = probs->value.data();
        detail::add_grad(*z, "cross_entropy", detail::to_shape(z->value.shape()), [&](T* gz, bool overwrite) {
          for (std::size_t i = 0; i < n; ++i) {
            T row = 0;
            for (std::size_t j = 0; j < c; ++j) row += t[i * c + j];
            for (std::size_t j = 0; j < c; ++j) {
              const T d = scale * (p[i * c + j] * row - t[i * c + j]);
              gz[i * c + j] = overwrite ? d : gz[i * c + j] + d;
            }
          }
        });
        detail::add_grad(*tn, "cross_entropy", detail::to_shape(tn->value.shape()), [&](T* gt, bool overwrite) {
          for (std::size_t j = 0; j < n * c; ++j) gt[j] = (overwrite ? T(0) : gt[j]) - scale * logp->value.data()[j];
        });
      });
}

template <class T>
std::vector<int> argmax(const TensorT<T>& x, long axis) {
  const shape_type shape = detail::to_shape(x.shape());
  const detail::AxisSplit split = detail::split_at_axis(shape, detail::normalize_axis("argmax", axis, shape.size()));
  if (split.n == 0) throw shape_error("argmax: axis " + std::to_string(axis) + " of shape " + shape_string(shape) + " is empty");
  std::vector<int> out;
  out.reserve(split.outer * split.inner);
  const T* in = x.value().data();
  for_each_line(split, [&](std::size_t base, auto stride) { out.push_back(int(detail::argmax_line(in + base, split.n, stride))); });
  return out;
}

// Row by row, with no vector of predictions: a training step calls it and allocates nothing.
template <class T>
double accuracy(const TensorT<T>& logits, std::span<const int> labels) {
  const auto [n, c] = detail::logits_shape("accuracy", logits, labels.size(), "one label per row");
  detail::check_labels("accuracy", labels, c);
  const T* z = logits.value().data();
  std::size_t correct = 0;
  // A row holding a NaN predicts nothing: argmax points at the NaN, which is never a correct answer.
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t best = detail::argmax_line(z + i * c, c, unit_stride{});
    correct += best == std::size_t(labels[i]) && !std::isnan(z[i * c + best]);
  }
  return double(correct) / double(n);
}

#define DECLARE(T)                                                                   \
  template TensorT<T> softmax(const TensorT<T>&, long);                              \
  template TensorT<T> log_softmax(const TensorT<T>&, long);                          \
  template TensorT<T> cross_entropy(const TensorT<T>&, std::span<const int>);        \
  template TensorT<T> cross_entropy(const TensorT<T>&, const TensorT<T>&);           \
  template std::vector<int> argmax(const TensorT<T>&, long);                         \
  template double accuracy(const TensorT<T>&, std::span<const int>);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
