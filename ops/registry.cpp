// The op registry: a row per op with its gradient-check cases. The gradcheck suite iterates this
// table; an op is checked by adding its row here.
#include "xgrad/registry.hpp"

#include "xgrad/ops.hpp"

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
  static const std::vector<OpEntry> registry = make_registry();
  return registry;
}

}  // namespace xg
