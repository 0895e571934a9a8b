// The composed forms of the fused nodes, built only from primitive ops (max, sub, exp, log, sum,
// mean, mul, div, sqrt, reshape). They are slower and keep more intermediates; they exist as an
// independent reference: tests check that fused and composed agree in value and gradient.
#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg::composed {

namespace {
// x minus its maximum along the axis. The maximum is a constant (detached): softmax(x - m) does not
// depend on m, so its exact gradient through m is zero anyway.
template <class T>
TensorT<T> shifted_by_max(const TensorT<T>& x, long axis) {
  return x - max(x, axis, true).detach();
}
}  // namespace

template <class T>
TensorT<T> softmax(const TensorT<T>& x, long axis) {
  const TensorT<T> e = exp(shifted_by_max(x, axis));
  return e / sum(e, {axis}, true);
}

template <class T>
TensorT<T> log_softmax(const TensorT<T>& x, long axis) {
  const TensorT<T> s = shifted_by_max(x, axis);
  return s - log(sum(exp(s), {axis}, true));
}

template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, const TensorT<T>& targets) {
  detail::targets_shape("cross_entropy", logits, targets);
  return -mean(sum(targets * composed::log_softmax(logits, 1), {1}));
}

template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels) {
  const auto [n, c] = detail::logits_shape("cross_entropy", logits, labels.size(), "one label per row");
  detail::check_labels("cross_entropy", labels, c);
  TensorT<T> one_hot = TensorT<T>::zeros({n, c});
  for (std::size_t i = 0; i < n; ++i) one_hot.mutable_value()(i, labels[i]) = T(1);
  return composed::cross_entropy(logits, one_hot);
}

// The row weights of the smoothed target, (1 - s) one-hot + s / C (zero for an ignored row), as a
// constant: the loss is -sum(weights * log_softmax) per row.
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const int> labels, CrossEntropyOptions options) {
  detail::check_cross_entropy_options(options);
  const auto [n, c] = detail::logits_shape("cross_entropy", logits, labels.size(), "one label per row");
  detail::check_labels("cross_entropy", labels, c, options.ignore_index);
  TensorT<T> weights = TensorT<T>::zeros({n, c});
  std::size_t counted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] == options.ignore_index) continue;
    ++counted;
    for (std::size_t j = 0; j < c; ++j) weights.mutable_value()(i, j) = T(options.label_smoothing / double(c));
    weights.mutable_value()(i, labels[i]) += T(1 - options.label_smoothing);
  }
  const TensorT<T> rows = -sum(weights * composed::log_softmax(logits, 1), {1});
  switch (options.reduction) {
    case Reduction::none: return rows;
    case Reduction::sum: return sum(rows);
    case Reduction::mean: break;
  }
  return sum(rows) / T(counted);
}

template <class T>
TensorT<T> batch_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                      TensorT<T>& running_mean, TensorT<T>& running_var, BatchNormOptions options) {
  const detail::Channels ch = detail::batch_norm_channels(x, gamma, beta, running_mean, running_var, options);
  if (options.replica_sum)
    throw value_error("composed::batch_norm: statistics over replicas (replica_sum) are the fused kernel's only");
  // Per-channel tensors as (1, C, 1, ...) so that they broadcast against x; statistics over the
  // other axes.
  axes_type channel_shape(x.dim(), 1), axes;
  channel_shape[1] = long(ch.c);
  for (long d = 0; d < long(x.dim()); ++d)
    if (d != 1) axes.push_back(d);
  const auto per_channel = [&](const TensorT<T>& t) { return reshape(t, channel_shape); };

  TensorT<T> x_hat;
  if (options.train) {
    const TensorT<T> mu = mean(x, axes, true);
    const TensorT<T> centred = x - mu;
    const TensorT<T> var = mean(centred * centred, axes, true);
    x_hat = centred / sqrt(var + T(options.eps));
    detail::update_running_statistics(running_mean, running_var, mu.value().data(), var.value().data(), ch.count(),
                                      options.momentum);
  } else {
    x_hat = (x - per_channel(running_mean)) / sqrt(per_channel(running_var) + T(options.eps));
  }
  return per_channel(gamma) * x_hat + per_channel(beta);
}

template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta, double eps) {
  detail::layer_norm_rows(x, gamma, beta, eps);
  axes_type features;  // the trailing axes that gamma spans
  for (long d = long(x.dim() - gamma.dim()); d < long(x.dim()); ++d) features.push_back(d);
  const TensorT<T> centred = x - mean(x, features, true);
  const TensorT<T> var = mean(centred * centred, features, true);
  return gamma * (centred / sqrt(var + T(eps))) + beta;
}

#define DECLARE(T)                                                                                      \
  template TensorT<T> softmax(const TensorT<T>&, long);                                                 \
  template TensorT<T> log_softmax(const TensorT<T>&, long);                                             \
  template TensorT<T> cross_entropy(const TensorT<T>&, std::span<const int>);                           \
  template TensorT<T> cross_entropy(const TensorT<T>&, const TensorT<T>&);                              \
  template TensorT<T> cross_entropy(const TensorT<T>&, std::span<const int>, CrossEntropyOptions);      \
  template TensorT<T> batch_norm(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, TensorT<T>&, \
                                 TensorT<T>&, BatchNormOptions);                                        \
  template TensorT<T> layer_norm(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, double);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg::composed
