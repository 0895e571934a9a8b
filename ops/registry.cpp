// The op registry: a row per op with its gradient-check cases. The gradcheck suite iterates this
// table; an op is checked by adding its row here.
#include "xgrad/registry.hpp"

#include <cmath>

#include "xgrad/ops.hpp"
#include "xgrad/optim/rules.hpp"

namespace xg {

namespace {
using Inputs = std::vector<Tensor64>;
using S = shape_type;

template <class F>
OpCase unary(std::string label, S shape, F f) {
  return {std::move(label), {std::move(shape)}, [f](const Inputs& in) { return f(in[0]); }};
}

template <class F>
OpCase binary(std::string label, S a, S b, F f) {
  return {std::move(label), {std::move(a), std::move(b)}, [f](const Inputs& in) { return f(in[0], in[1]); }};
}

// The same binary op over equal shapes, broadcasting ones and a scalar.
template <class F>
std::vector<OpCase> broadcasting_cases(F f) {
  return {binary("(2,3) (2,3)", {2, 3}, {2, 3}, f), binary("(2,3) (3,)", {2, 3}, {3}, f),
          binary("(4,1) (1,5)", {4, 1}, {1, 5}, f), binary("() (2,3)", {}, {2, 3}, f),
          binary("(2,1,3) (4,1)", {2, 1, 3}, {4, 1}, f)};
}

// Fixed class labels (constants) for cross_entropy over (4, 5) logits.
const std::vector<int> sample_labels = {0, 3, 1, 4};

// Fixed soft targets (constant): rows of a (4, 5) tensor summing to 1.
Tensor64 soft_targets() {
  array<double> t = array<double>::from_shape({4, 5});
  for (std::size_t i = 0; i < 4; ++i) {
    double row = 0;
    for (std::size_t j = 0; j < 5; ++j) row += t(i, j) = double(1 + (i * 7 + j * 3) % 5);
    for (std::size_t j = 0; j < 5; ++j) t(i, j) /= row;
  }
  return Tensor64(std::move(t));
}

// softmax and log_softmax, fused or composed, along the last, a middle and the first axis.
template <class F>
std::vector<OpCase> softmax_cases(F f) {
  return {unary("axis -1 (3,5)", {3, 5}, [f](const Tensor64& x) { return f(x, -1); }),
          unary("axis 1 (2,4,3)", {2, 4, 3}, [f](const Tensor64& x) { return f(x, 1); }),
          unary("axis 0 (4,3)", {4, 3}, [f](const Tensor64& x) { return f(x, 0); })};
}

// cross_entropy (fused or composed): integer labels, soft targets, and soft targets that are
// themselves differentiable.
template <class Labels, class Targets>
std::vector<OpCase> cross_entropy_cases(Labels with_labels, Targets with_targets) {
  return {unary("labels (4,5)", {4, 5}, [with_labels](const Tensor64& z) { return with_labels(z, std::span<const int>(sample_labels)); }),
          unary("soft targets (4,5)", {4, 5}, [with_targets](const Tensor64& z) { return with_targets(z, soft_targets()); }),
          binary("logits and targets (4,5) (4,5)", {4, 5}, {4, 5}, with_targets)};
}

// batch_norm (fused or composed) with respect to x, gamma and beta: train mode on (N, C) and
// (N, C, H, W), eval mode with fixed running statistics. The running statistics are constants made
// afresh for each call, so the check's repeated calls do not see each other's updates.
template <class F>
std::vector<OpCase> batch_norm_cases(F f) {
  const auto train = [f](const Inputs& in) {
    const std::size_t c = in[1].size();
    Tensor64 mean = Tensor64::zeros({c}), var = Tensor64::ones({c});
    return f(in[0], in[1], in[2], mean, var, BatchNormOptions{.train = true});
  };
  const auto eval = [f](const Inputs& in) {
    Tensor64 mean(array<double>{0.3, -0.2, 0.1}), var(array<double>{0.5, 1.5, 2.0});
    return f(in[0], in[1], in[2], mean, var, BatchNormOptions{.train = false});
  };
  return {{"train (6,4)", {{6, 4}, {4}, {4}}, train},
          {"train (3,2,2,3)", {{3, 2, 2, 3}, {2}, {2}}, train},
          {"eval (4,3)", {{4, 3}, {3}, {3}}, eval},
          {"eval (2,3,2,2)", {{2, 3, 2, 2}, {3}, {3}}, eval}};
}

// Labels for (4, 5) log-probabilities with row 1 ignored (PyTorch's default ignore_index).
const std::vector<int> labels_with_ignored = {0, -100, 1, 4};

// nll_loss or cross_entropy (fused or composed) with options, over (4, 5) inputs.
template <class Options, class F>
OpCase class_loss_case(std::string label, const std::vector<int>& labels, Options options, F f) {
  return unary(std::move(label), {4, 5}, [f, &labels, options](const Tensor64& z) {
    return f(z, std::span<const int>(labels), options);
  });
}

template <class F>
std::vector<OpCase> nll_loss_cases(F f) {
  return {class_loss_case("mean", sample_labels, NllLossOptions{}, f),
          class_loss_case("sum", sample_labels, NllLossOptions{.reduction = Reduction::sum}, f),
          class_loss_case("none", sample_labels, NllLossOptions{.reduction = Reduction::none}, f),
          class_loss_case("mean, row 1 ignored", labels_with_ignored, NllLossOptions{}, f)};
}

template <class F>
std::vector<OpCase> cross_entropy_options_cases(F f) {
  using O = CrossEntropyOptions;
  return {class_loss_case("none", sample_labels, O{.reduction = Reduction::none}, f),
          class_loss_case("sum", sample_labels, O{.reduction = Reduction::sum}, f),
          class_loss_case("mean, row 1 ignored", labels_with_ignored, O{}, f),
          class_loss_case("mean, smoothing 0.1", sample_labels, O{.label_smoothing = 0.1}, f),
          class_loss_case("none, smoothing 0.2, row 1 ignored", labels_with_ignored,
                          O{.reduction = Reduction::none, .label_smoothing = 0.2}, f),
          class_loss_case("sum, smoothing 1", sample_labels, O{.reduction = Reduction::sum, .label_smoothing = 1.0}, f)};
}

// mse_loss, huber_loss and binary_cross_entropy_with_logits: with respect to both inputs, under each
// reduction. target(t) maps the sampled target into the loss's domain.
template <class F, class Target>
std::vector<OpCase> pointwise_loss_cases(F f, Target target) {
  const auto with = [f, target](Reduction r) {
    return [f, target, r](const Tensor64& x, const Tensor64& t) { return f(x, target(t), r); };
  };
  return {binary("mean (3,4)", {3, 4}, {3, 4}, with(Reduction::mean)),
          binary("sum (5,)", {5}, {5}, with(Reduction::sum)),
          binary("none (2,3)", {2, 3}, {2, 3}, with(Reduction::none))};
}

// layer_norm (fused or composed) with respect to x, gamma and beta: over the last axis, over the
// last two, and of data far from zero.
template <class F>
std::vector<OpCase> layer_norm_cases(F f) {
  return {{"(4,6) over (6,)", {{4, 6}, {6}, {6}}, [f](const Inputs& in) { return f(in[0], in[1], in[2], 1e-5); }},
          {"(2,3,4) over (3,4)", {{2, 3, 4}, {3, 4}, {3, 4}}, [f](const Inputs& in) { return f(in[0], in[1], in[2], 1e-5); }},
          {"(3,5) near 1000, eps 0.1", {{3, 5}, {5}, {5}}, [f](const Inputs& in) { return f(in[0] + 1000.0, in[1], in[2], 0.1); }}};
}

// conv2d over (x, w) or (x, w, bias): the cases the issue lists (stride 1 and 2, padding 0/1/2,
// F = 1, 3, 5, non-square inputs and kernels, groups, dilation, bias or none).
std::vector<OpCase> conv2d_cases() {
  const auto with = [](Conv2dOptions o) {
    return [o](const Inputs& in) { return in.size() == 3 ? conv2d(in[0], in[1], in[2], o) : conv2d(in[0], in[1], o); };
  };
  return {{"F 3 pad 1 bias (2,3,5,5) (4,3,3,3)", {{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, with({.padding = 1})},
          {"F 1 stride 2 no bias (2,3,5,5) (2,3,1,1)", {{2, 3, 5, 5}, {2, 3, 1, 1}}, with({.stride = 2})},
          {"F 5 pad 2 (1,2,6,6) (3,2,5,5)", {{1, 2, 6, 6}, {3, 2, 5, 5}}, with({.padding = 2})},
          {"F 3 stride 2 pad 1 bias (1,2,7,7) (2,2,3,3)", {{1, 2, 7, 7}, {2, 2, 3, 3}, {2}}, with({.stride = 2, .padding = 1})},
          {"non-square (1,2,5,7) (3,2,3,2) stride (2,1) pad (1,0)", {{1, 2, 5, 7}, {3, 2, 3, 2}},
           with({.stride = {2, 1}, .padding = {1, 0}})},
          {"groups 2 bias (2,4,4,4) (6,2,3,3) pad 1", {{2, 4, 4, 4}, {6, 2, 3, 3}, {6}}, with({.padding = 1, .groups = 2})},
          {"dilation 2 (1,2,7,6) (2,2,3,3) pad 2", {{1, 2, 7, 6}, {2, 2, 3, 3}}, with({.padding = 2, .dilation = 2})}};
}

// The pooling ops' windows: side by side and overlapping, padded, non-square.
template <class Pool>
std::vector<OpCase> pool_cases(Pool pool) {
  const auto with = [pool](Size2 kernel, Pool2dOptions o) {
    return [pool, kernel, o](const Tensor64& x) { return pool(x, kernel, o); };
  };
  return {unary("2x2 side by side (2,3,4,4)", {2, 3, 4, 4}, with(2, {})),
          unary("3x3 stride 1 overlapping pad 1 (1,2,5,5)", {1, 2, 5, 5}, with(3, {.stride = 1, .padding = 1})),
          unary("3x3 stride 2 overlapping (1,2,7,6)", {1, 2, 7, 6}, with(3, {.stride = 2})),
          unary("(2,3) stride (1,2) non-square (1,2,5,6)", {1, 2, 5, 6}, with({2, 3}, {.stride = {1, 2}}))};
}

// A fixed 0/1 pattern (constant) for the where op.
Tensor64 checker_mask(const S& shape) {
  array<double> m = array<double>::from_shape(shape);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = double(i % 3 != 0);
  return Tensor64(std::move(m));
}

// The optimizers' update nodes (include/xgrad/optim/rules.hpp), each checked with respect to the
// parameter, the gradient, the state and every hyperparameter. A case returns the updated parameter
// plus the updated state, so that both are checked.
namespace rules = optim::rules;
const S vec{3}, hyper{};
// Maps the positive domain [0.5, 2] into (0, 1) for decay rates (betas).
Tensor64 as_rate(const Tensor64& x) { return x * 0.25; }
const optim::StepContext first_step{.step = 1};
Tensor64 descend(const Tensor64& p, const Tensor64& direction, const Tensor64& lr) {
  return rules::apply_update(p, rules::scale(-lr, first_step)(direction, p));
}

std::vector<OpEntry> optimizer_entries() {
  return {
      {"optim.sgd",
       {{"p g lr", {vec, vec, hyper}, [](const Inputs& in) { return descend(in[0], in[1], in[2]); }}}},
      {"optim.momentum",
       {{"p g velocity beta lr", {vec, vec, vec, hyper, hyper},
         [](const Inputs& in) {
           Tensor64 velocity = in[2];
           const Tensor64 direction = rules::momentum(as_rate(in[3]), first_step)(in[1], in[0], velocity);
           return descend(in[0], direction, in[4]) + velocity;
         }}},
       Domain::positive},
      {"optim.rmsprop",
       {{"p g mean_square beta eps lr", {vec, vec, vec, hyper, hyper, hyper},
         [](const Inputs& in) {
           Tensor64 mean_square = in[2];
           const Tensor64 direction = rules::rmsprop(as_rate(in[3]), in[4], first_step)(in[1], in[0], mean_square);
           return descend(in[0], direction, in[5]) + mean_square;
         }}},
       Domain::positive},
      {"optim.adam",
       {{"step 3: p g mu nu beta1 beta2 eps lr", {vec, vec, vec, vec, hyper, hyper, hyper, hyper},
         [](const Inputs& in) {
           Tensor64 mu = in[2], nu = in[3];
           const Tensor64 beta1 = as_rate(in[4]), beta2 = as_rate(in[5]);
           const Tensor64 direction = rules::adam(beta1, beta2, in[6], {.step = 3})(in[1], in[0], mu, nu);
           return descend(in[0], direction, in[7]) + mu + nu;
         }}},
       Domain::positive},
      {"optim.add_decayed_weights",
       {{"u p lambda", {vec, vec, hyper},
         [](const Inputs& in) { return rules::add_decayed_weights(in[2], first_step)(in[0], in[1]); }}}},
      {"optim.clip_by_global_norm",
       {{"max 1, u (3,) and (2,2)", {vec, {2, 2}},
         [](const Inputs& in) {
           const auto factor = rules::clip_factor(rules::global_norm(in), 1.0);
           return factor ? in[0] * *factor : in[0];
         }}}},
  };
}

std::vector<OpEntry> make_registry() {
  const auto t = [](auto f) { return [f](const Tensor64& x) { return f(x); }; };
  const auto mm = [](const Tensor64& a, const Tensor64& b) { return matmul(a, b); };
  return {
      {"add", broadcasting_cases([](const Tensor64& a, const Tensor64& b) { return add(a, b); })},
      {"sub", broadcasting_cases([](const Tensor64& a, const Tensor64& b) { return sub(a, b); })},
      {"mul", broadcasting_cases([](const Tensor64& a, const Tensor64& b) { return mul(a, b); })},
      {"div", broadcasting_cases([](const Tensor64& a, const Tensor64& b) { return div(a, b); }), Domain::away_from_zero},
      {"neg", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return neg(x); }))}},
      {"affine",
       {unary("(2,3) 2.5x-1", {2, 3}, t([](const Tensor64& x) { return affine(x, 2.5, -1.0); })),
        unary("() 4-x", {}, t([](const Tensor64& x) { return 4.0 - x; })),
        unary("(3,) x*-0.5", {3}, t([](const Tensor64& x) { return x * -0.5; }))}},
      {"pow",
       {unary("x^2.5 (3,4)", {3, 4}, t([](const Tensor64& x) { return pow(x, 2.5); })),
        unary("x^-1 (5,)", {5}, t([](const Tensor64& x) { return pow(x, -1.0); }))},
       Domain::positive},
      {"exp", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return exp(x); }))}},
      {"log", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return log(x); }))}, Domain::positive},
      {"sqrt", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return sqrt(x); }))}, Domain::positive},
      {"abs", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return abs(x); }))}, Domain::away_from_zero},
      {"log1p", {unary("(2,3) x in [-0.9, 0.9]", {2, 3}, t([](const Tensor64& x) { return log1p(x * 0.45); }))}},
      {"expm1", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return expm1(x); }))}},
      {"maximum", broadcasting_cases([](const Tensor64& a, const Tensor64& b) { return maximum(a, b); })},
      {"maximum at ties",
       {binary("(4,5) (4,5)", {4, 5}, {4, 5}, [](const Tensor64& a, const Tensor64& b) { return maximum(a, b); }),
        binary("(3,5) (5,)", {3, 5}, {5}, [](const Tensor64& a, const Tensor64& b) { return maximum(a, b); }),
        binary("(3,1) (1,4)", {3, 1}, {1, 4}, [](const Tensor64& a, const Tensor64& b) { return maximum(a, b); })},
       Domain::ties},
      {"minimum", broadcasting_cases([](const Tensor64& a, const Tensor64& b) { return minimum(a, b); })},
      {"minimum at ties",
       {binary("(4,5) (4,5)", {4, 5}, {4, 5}, [](const Tensor64& a, const Tensor64& b) { return minimum(a, b); }),
        binary("(3,1) (1,4)", {3, 1}, {1, 4}, [](const Tensor64& a, const Tensor64& b) { return minimum(a, b); })},
       Domain::ties},
      {"clamp",
       {unary("[-0.5, 1] (3,4)", {3, 4}, t([](const Tensor64& x) { return clamp(x, -0.5, 1.0); })),
        unary("[-inf, 0.3] (5,)", {5}, t([](const Tensor64& x) { return clamp(x, -INFINITY, 0.3); }))}},
      // Not differentiable themselves: checked as the constant masks of where.
      {"comparisons (where's mask)",
       {binary("less (2,3) (3,)", {2, 3}, {3}, [](const Tensor64& a, const Tensor64& b) { return where(less(a, b), a, b); }),
        binary("greater_equal (4,1) (1,5)", {4, 1}, {1, 5},
               [](const Tensor64& a, const Tensor64& b) { return where(greater_equal(a, b), a * b, b); }),
        binary("equal, not_equal (3,4) (3,4)", {3, 4}, {3, 4},
               [](const Tensor64& a, const Tensor64& b) { return where(equal(a, b), a, b) + where(not_equal(a, b), a * b, b); }),
        binary("less_equal, greater (2,3) (2,3)", {2, 3}, {2, 3},
               [](const Tensor64& a, const Tensor64& b) { return where(less_equal(a, b), b, a) * where(greater(a, b), a, b); })}},
      {"sum",
       {unary("all (3,4)", {3, 4}, t([](const Tensor64& x) { return sum(x); })),
        unary("axis 0 (3,4)", {3, 4}, t([](const Tensor64& x) { return sum(x, {0}); })),
        unary("axes (0,2) keepdims (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return sum(x, {0, 2}, true); })),
        unary("axis -1 (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return sum(x, {-1}); }))}},
      {"mean",
       {unary("all (3,4)", {3, 4}, t([](const Tensor64& x) { return mean(x); })),
        unary("axis 1 keepdims (3,4)", {3, 4}, t([](const Tensor64& x) { return mean(x, {1}, true); })),
        unary("axes (0,1) (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return mean(x, {0, 1}); }))}},
      {"max",
       {unary("axis 1 (3,4)", {3, 4}, t([](const Tensor64& x) { return max(x, 1); })),
        unary("axis 0 keepdims (3,4)", {3, 4}, t([](const Tensor64& x) { return max(x, 0, true); })),
        unary("axis 1 (2,5,3)", {2, 5, 3}, t([](const Tensor64& x) { return max(x, 1); }))}},
      {"max over axes",
       {unary("all (3,4)", {3, 4}, t([](const Tensor64& x) { return max(x); })),
        unary("axes (0,2) keepdims (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return max(x, axes_type{0, 2}, true); })),
        unary("axes (-1,) (3,5)", {3, 5}, t([](const Tensor64& x) { return max(x, axes_type{-1}); }))}},
      {"min over axes",
       {unary("all (3,4)", {3, 4}, t([](const Tensor64& x) { return min(x); })),
        unary("axes (1,2) (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return min(x, axes_type{1, 2}); }))}},
      {"min",
       {unary("axis 1 (3,4)", {3, 4}, t([](const Tensor64& x) { return min(x, 1); })),
        unary("axis 0 keepdims (2,5,3)", {2, 5, 3}, t([](const Tensor64& x) { return min(x, 0, true); }))}},
      {"max_with_indices",
       {unary("axis 1 (2,5,3)", {2, 5, 3}, t([](const Tensor64& x) { return max_with_indices(x, 1).values; })),
        unary("axis -1 keepdims (3,4)", {3, 4}, t([](const Tensor64& x) { return max_with_indices(x, -1, true).values; }))}},
      {"min_with_indices",
       {unary("axis 0 (4,3)", {4, 3}, t([](const Tensor64& x) { return min_with_indices(x, 0).values; }))}},
      {"var",
       {unary("all, unbiased (3,4)", {3, 4}, t([](const Tensor64& x) { return var(x); })),
        unary("axis 1, biased, keepdims (3,4)", {3, 4}, t([](const Tensor64& x) { return var(x, {1}, false, true); })),
        unary("axes (0,2), unbiased (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return var(x, {0, 2}); })),
        unary("axis 0 of data near 1000 (5,2)", {5, 2}, t([](const Tensor64& x) { return var(x + 1000.0, {0}); }))}},
      {"stddev",
       {unary("all, unbiased (3,4)", {3, 4}, t([](const Tensor64& x) { return stddev(x); })),
        unary("axis -1, biased (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return stddev(x, {-1}, false); })),
        unary("axes (0,1), unbiased, keepdims (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return stddev(x, {0, 1}, true, true); }))}},
      {"logsumexp",
       {unary("all (3,4)", {3, 4}, t([](const Tensor64& x) { return logsumexp(x); })),
        unary("axis 1 keepdims (3,4)", {3, 4}, t([](const Tensor64& x) { return logsumexp(x, {1}, true); })),
        unary("axes (0,2) (2,3,4)", {2, 3, 4}, t([](const Tensor64& x) { return logsumexp(x, {0, 2}); })),
        unary("x * 400 (2,3): exp would overflow", {2, 3}, t([](const Tensor64& x) { return logsumexp(x * 400.0, {1}); }))}},
      {"matmul",
       {binary("(3,4)@(4,5)", {3, 4}, {4, 5}, mm),
        binary("(2,3,4)@(4,5)", {2, 3, 4}, {4, 5}, mm),
        binary("(2,3,4)@(2,4,5)", {2, 3, 4}, {2, 4, 5}, mm),
        binary("(2,1,3,4)@(3,4,5): batches broadcast", {2, 1, 3, 4}, {3, 4, 5}, mm),
        binary("(3,4)@(2,4,5): left operand shared by the batches", {3, 4}, {2, 4, 5}, mm),
        binary("(4,)@(4,5)", {4}, {4, 5}, mm),
        binary("(2,3,4)@(4,)", {2, 3, 4}, {4}, mm),
        binary("(4,)@(2,4,3)", {4}, {2, 4, 3}, mm),
        binary("(4,)@(4,)", {4}, {4}, mm)}},
      {"transpose",
       {unary("(3,4)", {3, 4}, t([](const Tensor64& x) { return transpose(x); })),
        unary("(2,3,4) perm (1,2,0)", {2, 3, 4}, t([](const Tensor64& x) { return transpose(x, {1, 2, 0}); }))}},
      {"reshape", {unary("(2,6) to (3,-1)", {2, 6}, t([](const Tensor64& x) { return reshape(x, {3, -1}); }))}},
      {"concat",
       {{"axis 1 (2,3) (2,1) (2,2)", {{2, 3}, {2, 1}, {2, 2}}, [](const Inputs& in) { return concat(in, 1); }},
        {"axis 0 (1,3) (2,3)", {{1, 3}, {2, 3}}, [](const Inputs& in) { return concat(in, 0); }},
        {"axis -1 (2,2,1) (2,2,3)", {{2, 2, 1}, {2, 2, 3}}, [](const Inputs& in) { return concat(in, -1); }},
        {"one tensor used twice (2,2)", {{2, 2}}, [](const Inputs& in) { return concat<double>({in[0], in[0] * 3.0}, 0); }}}},
      {"stack",
       {{"axis 0 (2,3) x3", {{2, 3}, {2, 3}, {2, 3}}, [](const Inputs& in) { return stack(in, 0); }},
        {"axis 1 (2,3) x2", {{2, 3}, {2, 3}}, [](const Inputs& in) { return stack(in, 1); }},
        {"axis -1 (4,) x2", {{4}, {4}}, [](const Inputs& in) { return stack(in, -1); }}}},
      {"slice",
       {unary("axis 0 [1:4] (5,4)", {5, 4}, t([](const Tensor64& x) { return slice(x, 0, 1, 4); })),
        unary("axis 1 [::2] (3,5)", {3, 5}, t([](const Tensor64& x) { return slice(x, 1, 0, 5, 2); })),
        unary("axis -1 [-3:-1] (2,4)", {2, 4}, t([](const Tensor64& x) { return slice(x, -1, -3, -1); })),
        unary("axis 1 [1:100:3] (2,6,3)", {2, 6, 3}, t([](const Tensor64& x) { return slice(x, 1, 1, 100, 3); }))}},
      {"index_select",
       {unary("axis 0 [4,0,4,2] (5,3): a repeated row", {5, 3},
              t([](const Tensor64& x) { return index_select(x, 0, std::vector<int>{4, 0, 4, 2}); })),
        unary("axis 1 [2,-1] (2,4,3)", {2, 4, 3}, t([](const Tensor64& x) { return index_select(x, 1, std::vector<int>{2, -1}); }))}},
      {"gather",
       {unary("axis 1 (3,4) index (3,2)", {3, 4},
              t([](const Tensor64& x) { return gather(x, 1, array<int>{{0, 0}, {3, 1}, {2, 2}}); })),
        unary("axis 0 (3,4) index (2,3): repeats", {3, 4},
              t([](const Tensor64& x) { return gather(x, 0, array<int>{{2, 0, 1}, {2, 2, -1}}); }))}},
      {"layer_norm", layer_norm_cases([](auto&&... a) { return layer_norm(a...); })},
      {"layer_norm (composed)", layer_norm_cases([](auto&&... a) { return composed::layer_norm(a...); })},
      {"sigmoid", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return sigmoid(x); }))}},
      {"tanh", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return tanh(x); }))}},
      {"relu", {unary("(3,4)", {3, 4}, t([](const Tensor64& x) { return relu(x); }))}, Domain::away_from_zero},
      {"leaky_relu",
       {unary("slope 0.1 (3,4)", {3, 4}, t([](const Tensor64& x) { return leaky_relu(x, 0.1); }))},
       Domain::away_from_zero},
      {"elu", {unary("alpha 1 (3,4)", {3, 4}, t([](const Tensor64& x) { return elu(x, 1.0); }))},
       Domain::away_from_zero},
      {"softplus",
       {unary("beta 1 (2,3)", {2, 3}, t([](const Tensor64& x) { return softplus(x); })),
        unary("beta 10, threshold 5 (3,4): linear above x = 0.5", {3, 4}, t([](const Tensor64& x) { return softplus(x, 10.0, 5.0); })),
        unary("x * 30 (5,): far from 0", {5}, t([](const Tensor64& x) { return softplus(x * 30.0); }))}},
      {"gelu",
       {unary("erf (3,4)", {3, 4}, t([](const Tensor64& x) { return gelu(x); })),
        unary("tanh (3,4)", {3, 4}, t([](const Tensor64& x) { return gelu(x, GeluApproximation::tanh); }))}},
      {"silu", {unary("(3,4)", {3, 4}, t([](const Tensor64& x) { return silu(x); }))}},
      {"where",
       {binary("(3,4) (3,4)", {3, 4}, {3, 4},
               [](const Tensor64& a, const Tensor64& b) { return where(checker_mask({3, 4}), a, b); }),
        binary("(3,4) (4,)", {3, 4}, {4},
               [](const Tensor64& a, const Tensor64& b) { return where(checker_mask({3, 4}), a, b); })}},
      {"softmax", softmax_cases([](const Tensor64& x, long a) { return softmax(x, a); })},
      {"softmax (composed)", softmax_cases([](const Tensor64& x, long a) { return composed::softmax(x, a); })},
      {"log_softmax", softmax_cases([](const Tensor64& x, long a) { return log_softmax(x, a); })},
      {"log_softmax (composed)", softmax_cases([](const Tensor64& x, long a) { return composed::log_softmax(x, a); })},
      {"cross_entropy",
       cross_entropy_cases([](const Tensor64& z, std::span<const int> y) { return cross_entropy(z, y); },
                           [](const Tensor64& z, const Tensor64& t) { return cross_entropy(z, t); })},
      {"cross_entropy (composed)",
       cross_entropy_cases([](const Tensor64& z, std::span<const int> y) { return composed::cross_entropy(z, y); },
                           [](const Tensor64& z, const Tensor64& t) { return composed::cross_entropy(z, t); })},
      {"cross_entropy with options",
       cross_entropy_options_cases([](const Tensor64& z, std::span<const int> y, CrossEntropyOptions o) { return cross_entropy(z, y, o); })},
      {"cross_entropy with options (composed)",
       cross_entropy_options_cases(
           [](const Tensor64& z, std::span<const int> y, CrossEntropyOptions o) { return composed::cross_entropy(z, y, o); })},
      {"nll_loss", nll_loss_cases([](const Tensor64& lp, std::span<const int> y, NllLossOptions o) { return nll_loss(lp, y, o); })},
      {"mse_loss", pointwise_loss_cases([](auto&&... a) { return mse_loss(a...); }, [](const Tensor64& t) { return t; })},
      {"huber_loss",
       pointwise_loss_cases([](const Tensor64& x, const Tensor64& t, Reduction r) { return huber_loss(x, t, r, 0.7); },
                            [](const Tensor64& t) { return t; })},
      {"binary_cross_entropy_with_logits",
       pointwise_loss_cases([](auto&&... a) { return binary_cross_entropy_with_logits(a...); },
                            [](const Tensor64& t) { return t * 0.2 + 0.5; })},  // targets in [0.1, 0.9]
      {"binary_cross_entropy_with_logits, logits far from 0",
       {binary("logits * 20 (3,4)", {3, 4}, {3, 4},
               [](const Tensor64& x, const Tensor64& t) { return binary_cross_entropy_with_logits(x * 20.0, t * 0.2 + 0.5); })}},
      {"batch_norm", batch_norm_cases([](auto&&... a) { return batch_norm(a...); })},
      {"batch_norm (composed)", batch_norm_cases([](auto&&... a) { return composed::batch_norm(a...); })},
      {"conv2d", conv2d_cases(), Domain::real},
      {"max_pool2d",
       [] {
         auto cases = pool_cases([](const Tensor64& x, Size2 k, Pool2dOptions o) { return max_pool2d(x, k, o); });
         // Ties: after relu every all-negative window ties at 0, and its gradient goes to one of them.
         cases.push_back(unary("ties after relu, 2x2 (2,2,4,4)", {2, 2, 4, 4},
                               [](const Tensor64& x) { return max_pool2d(relu(x), 2); }));
         return cases;
       }(),
       Domain::away_from_zero},
      {"avg_pool2d",
       [] {
         auto cases = pool_cases([](const Tensor64& x, Size2 k, Pool2dOptions o) { return avg_pool2d(x, k, o); });
         cases.push_back(unary("3x3 stride 2 pad 1 without padding (1,2,5,6)", {1, 2, 5, 6}, [](const Tensor64& x) {
           return avg_pool2d(x, 3, {.stride = 2, .padding = 1, .count_padding = false});
         }));
         return cases;
       }()},
      {"global_avg_pool2d", {unary("(2,3,4,5)", {2, 3, 4, 5}, t([](const Tensor64& x) { return global_avg_pool2d(x); }))}},
      {"flatten",
       {unary("(2,3,2,2) from 1", {2, 3, 2, 2}, t([](const Tensor64& x) { return flatten(x); })),
        unary("(2,3,4) from -2", {2, 3, 4}, t([](const Tensor64& x) { return flatten(x, -2); }))}},
      {"dropout",
       {unary("train p=0.3 (4,5)", {4, 5},
              [](const Tensor64& x) {
                Generator fixed(42);  // a fixed seed per call: the same mask for every evaluation
                return dropout(x, 0.3, true, fixed);
              }),
        unary("eval (3,4)", {3, 4}, [](const Tensor64& x) {
          Generator unused(42);
          return dropout(x, 0.3, false, unused);
        })}},
      {"l2_penalty",
       {binary("(3,4) (5,)", {3, 4}, {5},
               [](const Tensor64& w, const Tensor64& b) { return l2_penalty<double>({w, b}, 0.1); }),
        unary("lambda 2 (2,3)", {2, 3}, [](const Tensor64& w) { return l2_penalty<double>({w}, 2.0); })}},
  };
}
}  // namespace

const std::vector<OpEntry>& op_registry() {
  static const std::vector<OpEntry> registry = [] {
    std::vector<OpEntry> all = make_registry();
    for (OpEntry& entry : optimizer_entries()) all.push_back(std::move(entry));
    return all;
  }();
  return registry;
}

}  // namespace xg
