#pragma once
// Fused vs composed: both forms of a node evaluated on the same inputs must agree in value and in
// the gradient with respect to every input, in float64.
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <xgrad/xgrad.hpp>

namespace agreement {

struct Evaluation {
  xg::array<double> value;
  std::vector<xg::array<double>> grads;  // one per input
};

// f's value and the gradients of sum(f(inputs) * r) for a fixed random r (every output element counts).
inline Evaluation evaluate(const xg::TensorFn& f, const std::vector<xg::Tensor64>& inputs) {
  std::vector<xg::Tensor64> leaves;
  for (const auto& in : inputs) leaves.emplace_back(xg::array<double>(in.value()), true);
  xg::Tape tape;
  const xg::Tensor64 out = f(leaves);
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  xg::array<double> r = xg::array<double>::from_shape(out.shape_vector());
  for (auto& v : r) v = uniform(rng);
  tape.backward(out, r);
  Evaluation e{out.value(), {}};
  for (const auto& leaf : leaves) e.grads.push_back(leaf.has_grad() ? leaf.grad() : xg::array<double>());
  return e;
}

// max |a - b| <= rel * max |b|: relative to the tensor's scale, so that an element that is zero up
// to rounding in both forms does not count as a large relative error.
inline void expect_close(const xg::array<double>& a, const xg::array<double>& b, double rel, const std::string& what) {
  BOOST_TEST_REQUIRE(a.size() == b.size(), what << ": sizes differ");
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a.data()[i] - b.data()[i]));
    scale = std::max(scale, std::abs(b.data()[i]));
  }
  BOOST_TEST(scale > 0.0, what << ": all zero");
  BOOST_TEST(diff <= rel * scale, what << ": max difference " << diff << " vs scale " << scale);
}

inline void expect_agreement(const xg::TensorFn& fused, const xg::TensorFn& composed,
                             const std::vector<xg::Tensor64>& inputs, double rel = 1e-10) {
  const Evaluation a = evaluate(fused, inputs), b = evaluate(composed, inputs);
  expect_close(a.value, b.value, rel, "value");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    expect_close(a.grads[i], b.grads[i], rel, "gradient w.r.t. input " + std::to_string(i));
}

inline xg::Tensor64 random_input(const xg::shape_type& shape, std::uint64_t seed, double scale = 2.0) {
  xg::Generator gen(seed);
  return xg::uniform<double>(shape, -scale, scale, gen);
}

}  // namespace agreement
