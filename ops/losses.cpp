// The losses: mse_loss, huber_loss, binary_cross_entropy_with_logits (element by element, then
// reduced), nll_loss and cross_entropy with PyTorch's options (reduction, ignore_index, label
// smoothing). Each is one node with its own loop; cross_entropy with options is nll_loss's kernel on
// log_softmax's values, with the gradient with respect to the logits.
#include <algorithm>
#include <cmath>
#include <string>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace {
// loss(x, t) element by element over input and target of one shape, then reduced; the partial
// derivatives d_input(x, t) and d_target(x, t) give the gradients.
template <class T, class Loss, class DInput, class DTarget>
TensorT<T> pointwise_loss(const char* op, const TensorT<T>& input, const TensorT<T>& target, Reduction reduction,
                          Loss loss, DInput d_input, DTarget d_target) {
  if (!std::equal(input.shape().begin(), input.shape().end(), target.shape().begin(), target.shape().end()))
    throw shape_error(std::string(op) + ": target of shape " + shape_string(target.shape()) +
                      " does not match input of shape " + shape_string(input.shape()));
  const std::size_t n = input.size();
  if (reduction == Reduction::mean && n == 0)
    throw shape_error(std::string(op) + ": the mean over input of shape " + shape_string(input.shape()) +
                      " (no elements) is undefined");
  const T* x = input.value().data();
  const T* t = target.value().data();
  array<T> out = detail::new_buffer<T>(reduction == Reduction::none ? detail::to_shape(input.shape()) : shape_type{});
  if (reduction == Reduction::none) {
    for (std::size_t k = 0; k < n; ++k) out.data()[k] = loss(x[k], t[k]);
  } else {
    T total = 0;
    for (std::size_t k = 0; k < n; ++k) total += loss(x[k], t[k]);
    out() = reduction == Reduction::mean ? total / T(n) : total;
  }
  const T scale = reduction == Reduction::mean ? T(1) / T(n) : T(1);
  return detail::make_result<T>(
      op, std::move(out), {&input, &target},
      [op, in = input.node(), tn = target.node(), d_input, d_target, scale, per_element = reduction == Reduction::none](
          const array<T>& g, const array<T>&) {
        const T* x = in->value.data();
        const T* t = tn->value.data();
        const T* gy = g.data();
        const T shared = per_element ? T(0) : g() * scale;
        const auto g_of = [&](std::size_t k) { return per_element ? gy[k] : shared; };
        const auto add_partial = [&](Node<T>& node, auto partial) {
          detail::add_grad(node, op, detail::to_shape(node.value.shape()), [&](T* dst, bool overwrite) {
            for (std::size_t k = 0; k < node.value.size(); ++k) {
              const T d = g_of(k) * partial(x[k], t[k]);
              dst[k] = overwrite ? d : dst[k] + d;
            }
          });
        };
        add_partial(*in, d_input);
        add_partial(*tn, d_target);
      });
}

// The kernel behind nll_loss and cross_entropy with options: row i's loss is -(1 - s) lp[i, y_i] -
// s / C * sum_j lp[i, j] with s the label smoothing (0 for nll_loss), and 0 for a row whose label is
// ignore_index. The mean divides by the rows not ignored (NaN when every row is, as in PyTorch).
// With from_logits the input is logits z and lp = log_softmax(z) (log_softmax's forward kernel):
// the gradient with respect to z is then scale_i (softmax(z_i) - target_i) in one pass, the
// target's row summing to 1, instead of going through log_softmax's backward, which takes an exp
// per element.
template <class T>
TensorT<T> smoothed_nll(const char* op, const TensorT<T>& input, std::span<const int> labels, Reduction reduction,
                        int ignore_index, double smoothing, bool from_logits) {
  const auto [n, c] = detail::logits_shape(op, input, labels.size(), "one label per row");
  detail::check_labels(op, labels, c, ignore_index);
  const T on = T(1 - smoothing), spread = T(smoothing / double(c));
  // For logits: log_softmax's output (recorded like any op, so the tape recycles it; no gradient
  // ever reaches it, so its own backward never runs), and room for the probabilities that backward
  // makes from it.
  std::shared_ptr<Node<T>> log_probs, probs;
  if (from_logits) {
    log_probs = log_softmax(input, 1).node();
    probs = detail::saved_buffer<T>(op, {n, c});
  }
  const T* lp = from_logits ? log_probs->value.data() : input.value().data();
  // The labels, -1 for an ignored row, in a buffer of integers the tape recycles.
  const auto classes = detail::saved_buffer<std::int64_t>(op, {n});
  array<T> out = detail::new_buffer<T>(reduction == Reduction::none ? shape_type{n} : shape_type{});
  T total = 0;
  std::size_t counted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool ignored = labels[i] == ignore_index;
    classes->value.data()[i] = ignored ? -1 : labels[i];
    T row = 0;
    if (!ignored) {
      T row_sum = 0;
      if (spread != T(0))
        for (std::size_t j = 0; j < c; ++j) row_sum += lp[i * c + j];
      row = -on * lp[i * c + std::size_t(labels[i])] - spread * row_sum;
      ++counted;
    }
    if (reduction == Reduction::none) out.data()[i] = row;
    total += row;
  }
  if (reduction != Reduction::none) out() = reduction == Reduction::mean ? total / T(counted) : total;
  const T scale = reduction == Reduction::mean ? T(1) / T(counted) : T(1);
  return detail::make_result<T>(
      op, std::move(out), {&input},
      [op, in = input.node(), classes, log_probs, probs, c, on, spread, scale, per_row = reduction == Reduction::none](
          const array<T>& g, const array<T>&) {
        const std::int64_t* y = classes->value.data();
        const T* p = nullptr;
        if (probs) {
          xt::noalias(probs->value) = xt::exp(log_probs->value);  // at once: xsimd vectorises it
          p = probs->value.data();
        }
        detail::add_grad(*in, op, detail::to_shape(in->value.shape()), [&](T* gx, bool overwrite) {
          for (std::size_t k = 0; k < in->value.size(); ++k) {
            const std::size_t i = k / c;
            const T row_grad = (per_row ? g.data()[i] : g()) * scale;
            const T d = y[i] < 0 ? T(0) : row_grad * ((p ? p[k] : T(0)) - spread - (std::size_t(y[i]) == k % c ? on : T(0)));
            gx[k] = overwrite ? d : gx[k] + d;
          }
        });
      },
      detail::Reads::nothing);
}
}  // namespace

template <class T>
TensorT<T> mse_loss(const TensorT<T>& input, const TensorT<T>& target, Reduction reduction) {
  return pointwise_loss<T>(
      "mse_loss", input, target, reduction, [](T x, T t) { return (x - t) * (x - t); },
      [](T x, T t) { return T(2) * (x - t); }, [](T x, T t) { return T(2) * (t - x); });
}

// 0.5 d^2 where |d| <= delta, delta (|d| - delta / 2) beyond (d = x - t); the gradient is d clipped
// to [-delta, delta].
template <class T>
TensorT<T> huber_loss(const TensorT<T>& input, const TensorT<T>& target, Reduction reduction, scalar_of<T> delta) {
  if (!(delta > T(0) && std::isfinite(delta)))
    throw value_error("huber_loss: delta = " + std::to_string(delta) + " is not a finite number > 0");
  return pointwise_loss<T>(
      "huber_loss", input, target, reduction,
      [delta](T x, T t) {
        const T d = std::abs(x - t);
        return d <= delta ? T(0.5) * d * d : delta * (d - T(0.5) * delta);
      },
      [delta](T x, T t) { return std::clamp(x - t, -delta, delta); },
      [delta](T x, T t) { return std::clamp(t - x, -delta, delta); });
}

// max(x, 0) - x t + log(1 + exp(-|x|)): log(1 + exp(x)) - x t without overflow for any x.
// d/dx = sigmoid(x) - t, d/dt = -x.
template <class T>
TensorT<T> binary_cross_entropy_with_logits(const TensorT<T>& logits, const TensorT<T>& targets, Reduction reduction) {
  return pointwise_loss<T>(
      "binary_cross_entropy_with_logits", logits, targets, reduction,
      [](T x, T t) { return std::max(x, T(0)) - x * t + std::log1p(std::exp(-std::abs(x))); },
      [](T x, T t) { return T(1) / (T(1) + std::exp(-x)) - t; }, [](T x, T) { return -x; });
}

template <class T>
TensorT<T> nll_loss(const TensorT<T>& log_probs, std::span<const int> labels, NllLossOptions options) {
  return smoothed_nll("nll_loss", log_probs, labels, options.reduction, options.ignore_index, 0.0, false);
}

template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels, CrossEntropyOptions options) {
  detail::check_cross_entropy_options(options);
  const bool ignores_a_row = std::find(labels.begin(), labels.end(), options.ignore_index) != labels.end();
  if (options == CrossEntropyOptions{} && !ignores_a_row) return cross_entropy(logits, labels);  // the one-pass kernel
  return smoothed_nll("cross_entropy", logits, labels, options.reduction, options.ignore_index, options.label_smoothing,
                      true);
}

#define DECLARE(T)                                                                                        \
  template TensorT<T> mse_loss(const TensorT<T>&, const TensorT<T>&, Reduction);                          \
  template TensorT<T> huber_loss(const TensorT<T>&, const TensorT<T>&, Reduction, scalar_of<T>);          \
  template TensorT<T> binary_cross_entropy_with_logits(const TensorT<T>&, const TensorT<T>&, Reduction);  \
  template TensorT<T> nll_loss(const TensorT<T>&, std::span<const int>, NllLossOptions);                  \
  template TensorT<T> cross_entropy(const TensorT<T>&, std::span<const int>, CrossEntropyOptions);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
