// One hand-worked value test per op (forward values; gradients where they are easy to see).
#define BOOST_TEST_MODULE ops
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <xgrad/xgrad.hpp>

using namespace xg;
namespace tt = boost::test_tools;

namespace {
Tensor64 t(array<double> v, bool grad = false) { return Tensor64(std::move(v), grad); }
}  // namespace

BOOST_AUTO_TEST_CASE(arithmetic_broadcasts_like_numpy) {
  Tensor64 a = t({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor64 b = t({10.0, 20.0, 30.0});
  BOOST_TEST(add(a, b).value()(1, 2) == 36.0);
  BOOST_TEST(sub(a, b).value()(0, 1) == -18.0);
  BOOST_TEST(mul(a, b).value()(1, 0) == 40.0);
  BOOST_TEST(div(a, b).value()(0, 2) == 0.1, tt::tolerance(1e-12));
  BOOST_TEST(neg(a).value()(1, 1) == -5.0);
  BOOST_TEST(pow(a, 2.0).value()(1, 2) == 36.0);
}

BOOST_AUTO_TEST_CASE(div_gradient_by_hand) {
  Tensor64 x = Tensor64::scalar(6.0, true), y = Tensor64::scalar(3.0, true);
  Tape tape;
  tape.backward(x / y);
  BOOST_TEST(x.grad()() == 1.0 / 3.0, tt::tolerance(1e-12));
  BOOST_TEST(y.grad()() == -6.0 / 9.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(math_functions_by_hand) {
  Tensor64 x = t({1.0, 4.0});
  BOOST_TEST(exp(x).value()(0) == std::exp(1.0), tt::tolerance(1e-12));
  BOOST_TEST(log(x).value()(1) == std::log(4.0), tt::tolerance(1e-12));
  BOOST_TEST(sqrt(x).value()(1) == 2.0);
  BOOST_TEST(abs(t({-2.5})).value()(0) == 2.5);
}

BOOST_AUTO_TEST_CASE(activations_by_hand) {
  Tensor64 x = t({-2.0, 0.0, 3.0});
  BOOST_TEST(relu(x).value()(0) == 0.0);
  BOOST_TEST(relu(x).value()(2) == 3.0);
  BOOST_TEST(leaky_relu(x, 0.1).value()(0) == -0.2, tt::tolerance(1e-12));
  BOOST_TEST(elu(x, 1.0).value()(0) == std::exp(-2.0) - 1.0, tt::tolerance(1e-12));
  BOOST_TEST(sigmoid(x).value()(1) == 0.5);
  BOOST_TEST(tanh(x).value()(2) == std::tanh(3.0), tt::tolerance(1e-12));
  BOOST_TEST(where(t({1.0, 0.0, 1.0}), x, t({9.0})).value()(1) == 9.0);
}

BOOST_AUTO_TEST_CASE(relu_gradient_is_the_mask) {
  Tensor64 x = t({-2.0, 3.0}, true);
  Tape tape;
  tape.backward(sum(relu(x)));
  BOOST_TEST(x.grad()(0) == 0.0);
  BOOST_TEST(x.grad()(1) == 1.0);
}

BOOST_AUTO_TEST_CASE(relu_and_leaky_relu_add_to_a_gradient_that_holds_a_partial_one) {
  // x also feeds the sum directly, whose gradient reaches x first; (512, 512) runs in parallel.
  for (const shape_type& shape : {shape_type{5}, shape_type{512, 512}}) {
    BOOST_TEST_CONTEXT("shape " << shape_string(shape)) {
      Generator gen(3);
      Tensor64 x = normal<double>(shape, 0.0, 1.0, gen, true);
      Tape tape;
      tape.backward(sum(relu(x) + leaky_relu(x, 0.1) + x));
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = x.value().data()[i];
        wrong += x.grad().data()[i] != (v > 0 ? 3.0 : 1.1);
      }
      BOOST_TEST(wrong == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(reductions_by_hand) {
  Tensor64 a = t({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  BOOST_TEST(sum(a).item() == 21.0);
  BOOST_TEST(sum(a, {0}).value()(2) == 9.0);
  BOOST_TEST(sum(a, {1}, true).shape()[1] == 1u);
  BOOST_TEST(mean(a, {1}).value()(1) == 5.0);
  BOOST_TEST(max(a, 1).value()(0) == 3.0);
  BOOST_TEST(max(a, 0).value()(1) == 5.0);
}

BOOST_AUTO_TEST_CASE(max_gradient_goes_to_the_maximum) {
  Tensor64 a = t({{1.0, 7.0, 3.0}}, true);
  Tape tape;
  tape.backward(sum(max(a, 1)));
  BOOST_TEST(a.grad()(0, 1) == 1.0);
  BOOST_TEST(a.grad()(0, 0) == 0.0);
}

BOOST_AUTO_TEST_CASE(matmul_by_hand) {
  Tensor64 a = t({{1.0, 2.0}, {3.0, 4.0}}), b = t({{5.0, 6.0}, {7.0, 8.0}});
  Tensor64 c = matmul(a, b);
  BOOST_TEST(c.value()(0, 0) == 19.0);
  BOOST_TEST(c.value()(1, 1) == 50.0);
  Tensor row = Tensor::ones({1, 2}), column = Tensor::ones({2, 1});
  row.mutable_value()(0, 1) = 2.f;
  column.mutable_value()(0, 0) = 3.f;
  column.mutable_value()(1, 0) = 4.f;
  BOOST_TEST(matmul(row, column).item() == 11.0f);
}

BOOST_AUTO_TEST_CASE(transpose_and_reshape_by_hand) {
  Tensor64 a = t({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor64 at = transpose(a);
  BOOST_TEST(at.shape()[0] == 3u);
  BOOST_TEST(at.value()(2, 1) == 6.0);
  Tensor64 r = reshape(a, {3, -1});
  BOOST_TEST(r.shape()[1] == 2u);
  BOOST_TEST(r.value()(1, 0) == 3.0);
}
