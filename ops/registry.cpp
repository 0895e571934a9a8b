// The op registry: a row per op with its gradient-check cases. The gradcheck suite iterates this
// table; an op is checked by adding its row here.
#include "xgrad/registry.hpp"

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
Tensor64 descend(const Tensor64& p, const Tensor64& direction, const Tensor64& lr) {
  return rules::apply_update(p, rules::scale(direction, -lr));
}

std::vector<OpEntry> optimizer_entries() {
  return {
      {"optim.sgd",
       {{"p g lr", {vec, vec, hyper}, [](const Inputs& in) { return descend(in[0], in[1], in[2]); }}}},
      {"optim.momentum",
       {{"p g velocity beta lr", {vec, vec, vec, hyper, hyper},
         [](const Inputs& in) {
           Tensor64 velocity = in[2];
           const Tensor64 direction = rules::momentum(in[1], velocity, as_rate(in[3]));
           return descend(in[0], direction, in[4]) + velocity;
         }}},
       Domain::positive},
      {"optim.rmsprop",
       {{"p g mean_square beta eps lr", {vec, vec, vec, hyper, hyper, hyper},
         [](const Inputs& in) {
           Tensor64 mean_square = in[2];
           const Tensor64 direction = rules::rmsprop(in[1], mean_square, as_rate(in[3]), in[4]);
           return descend(in[0], direction, in[5]) + mean_square;
         }}},
       Domain::positive},
      {"optim.adam",
       {{"step 3: p g mu nu beta1 beta2 eps lr", {vec, vec, vec, vec, hyper, hyper, hyper, hyper},
         [](const Inputs& in) {
           Tensor64 mu = in[2], nu = in[3];
           const Tensor64 beta1 = as_rate(in[4]), beta2 = as_rate(in[5]);
           const Tensor64 direction = rules::adam(in[1], mu, nu, beta1, beta2, in[6], rules::adam_scales(beta1, beta2, 3));
           return descend(in[0], direction, in[7]) + mu + nu;
         }}},
       Domain::positive},
      {"optim.add_decayed_weights",
       {{"u p lambda", {vec, vec, hyper},
         [](const Inputs& in) { return rules::add_decayed_weights(in[0], in[1], in[2]); }}}},
      {"optim.clip_by_global_norm",
       {{"max 1, u (3,) and (2,2)", {vec, {2, 2}},
         [](const Inputs& in) { return in[0] * rules::clip_factor(rules::global_norm<double>(in), 1.0); }}}},
  };
}

std::vector<OpEntry> make_registry() {
  const auto t = [](auto f) { return [f](const Tensor64& x) { return f(x); }; };
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
      {"matmul",
       {binary("(3,4)@(4,5)", {3, 4}, {4, 5}, [](const Tensor64& a, const Tensor64& b) { return matmul(a, b); }),
        binary("(2,3,4)@(4,5)", {2, 3, 4}, {4, 5}, [](const Tensor64& a, const Tensor64& b) { return matmul(a, b); }),
        binary("(2,3,4)@(2,4,5)", {2, 3, 4}, {2, 4, 5},
               [](const Tensor64& a, const Tensor64& b) { return matmul(a, b); })}},
      {"transpose",
       {unary("(3,4)", {3, 4}, t([](const Tensor64& x) { return transpose(x); })),
        unary("(2,3,4) perm (1,2,0)", {2, 3, 4}, t([](const Tensor64& x) { return transpose(x, {1, 2, 0}); }))}},
      {"reshape", {unary("(2,6) to (3,-1)", {2, 6}, t([](const Tensor64& x) { return reshape(x, {3, -1}); }))}},
      {"sigmoid", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return sigmoid(x); }))}},
      {"tanh", {unary("(2,3)", {2, 3}, t([](const Tensor64& x) { return tanh(x); }))}},
      {"relu", {unary("(3,4)", {3, 4}, t([](const Tensor64& x) { return relu(x); }))}, Domain::away_from_zero},
      {"leaky_relu",
       {unary("slope 0.1 (3,4)", {3, 4}, t([](const Tensor64& x) { return leaky_relu(x, 0.1); }))},
       Domain::away_from_zero},
      {"elu", {unary("alpha 1 (3,4)", {3, 4}, t([](const Tensor64& x) { return elu(x, 1.0); }))},
       Domain::away_from_zero},
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
