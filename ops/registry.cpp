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
           const Tensor64 direction = rules::adam(in[1], mu, nu, beta1, beta2, in[6], rules::bias_correction(beta1, 3),
                                                  rules::bias_correction(beta2, 3));
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
