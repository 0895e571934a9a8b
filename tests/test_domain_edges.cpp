// Ops at the edges of their domains (the subgradients chosen, as PyTorch's), NaN propagation, and
// sizes too large to index.
#define BOOST_TEST_MODULE domain_edges
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;

namespace {
const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf = std::numeric_limits<double>::infinity();

// d(sum(f(x)))/dx for a one-element x.
template <class F>
double derivative_at(double v, F f) {
  Tensor64 x = Tensor64::scalar(v, true);
  Tape tape;
  tape.backward(sum(f(x)));
  return x.grad()();
}
}  // namespace

BOOST_AUTO_TEST_CASE(pow_with_exponent_zero_has_gradient_zero_everywhere_including_zero) {
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return pow(x, 0.0); }) == 0.0);
  BOOST_TEST(derivative_at(2.0, [](const Tensor64& x) { return pow(x, 0.0); }) == 0.0);
}

BOOST_AUTO_TEST_CASE(derivatives_at_zero_follow_pytorch) {
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return pow(x, 0.5); }) == inf);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return pow(x, 2.0); }) == 0.0);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return sqrt(x); }) == inf);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return log(x); }) == inf);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return abs(x); }) == 0.0);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return relu(x); }) == 0.0);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return leaky_relu(x, 0.1); }) == 0.1);
  BOOST_TEST(derivative_at(0.0, [](const Tensor64& x) { return elu(x, 1.0); }) == 1.0);
}

BOOST_AUTO_TEST_CASE(max_propagates_nan_and_sends_its_gradient_to_the_nan) {
  Tensor64 x(array<double>{1.0, nan_value, 3.0}, true);
  Tape tape;
  Tensor64 m = max(x, 0);
  BOOST_TEST(std::isnan(m.item()));
  tape.backward(m);
  BOOST_TEST(x.grad()[0] == 0.0);
  BOOST_TEST(x.grad()[1] == 1.0);
  BOOST_TEST(x.grad()[2] == 0.0);
  BOOST_TEST(argmax(x, 0)[0] == 1);
}

BOOST_AUTO_TEST_CASE(max_ties_send_the_gradient_to_the_first) {
  Tensor64 x(array<double>{2.0, 5.0, 5.0}, true);
  Tape tape;
  tape.backward(max(x, 0));
  BOOST_TEST(x.grad()[1] == 1.0);
  BOOST_TEST(x.grad()[2] == 0.0);
}

BOOST_AUTO_TEST_CASE(a_row_with_nan_never_counts_as_correct) {
  const Tensor64 logits(array<double>{{nan_value, 0.0, 0.0}, {nan_value, nan_value, nan_value}, {0.0, 5.0, 1.0}});
  const std::vector<int> labels = {0, 0, 1};
  BOOST_TEST(accuracy(logits, labels) == 1.0 / 3.0);
}

BOOST_AUTO_TEST_CASE(max_and_cross_entropy_index_axes_longer_than_two_to_the_24) {
  // Float positions are exact only below 2^24: 16,777,217 would round to 16,777,216.
  const std::size_t n = (std::size_t(1) << 24) + 3, last = n - 2;
  Tensor x = Tensor::zeros({n}, true);
  x.mutable_value()[last] = 1.0f;
  {
    Tape tape;
    tape.backward(max(x, 0));
    BOOST_TEST(x.grad()[last] == 1.0f);
    BOOST_TEST(x.grad()[last - 1] == 0.0f);
  }
  Tensor logits = Tensor::zeros({1, n}, true);
  const std::vector<int> label = {int(last)};
  Tape tape;
  tape.backward(cross_entropy(logits, label));
  const float p = 1.0f / float(n);
  BOOST_TEST(logits.grad()(0, last) == p - 1.0f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(logits.grad()(0, last - 1) == p, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(shapes_whose_size_overflows_are_shape_errors) {
  const std::size_t big = std::size_t(1) << 32;
  BOOST_CHECK_THROW(Tensor::zeros({big, big}), shape_error);
  BOOST_CHECK_THROW(Tensor::zeros({std::size_t(1) << 62}), shape_error);
  BOOST_CHECK_THROW(Tensor::full({big, big, 16}, 1.0f), shape_error);
  const Tensor x = Tensor::zeros({8});
  BOOST_CHECK_THROW(reshape(x, {(1L << 62) + 2, 4}), shape_error);
  BOOST_CHECK_THROW(reshape(x, {1L << 40, 1L << 40, -1}), shape_error);
  BOOST_TEST(reshape(x, {2, -1}).shape()[1] == 4u);
}

BOOST_AUTO_TEST_CASE(an_honest_out_of_memory_is_bad_alloc) {
  BOOST_CHECK_THROW(Tensor::zeros({std::size_t(1) << 50}), std::bad_alloc);
}

BOOST_AUTO_TEST_CASE(batch_norm_rejects_eps_zero_and_a_negative_running_variance) {
  Tensor x = Tensor::ones({4, 2});
  Tensor gamma = Tensor::ones({2}), beta = Tensor::zeros({2});
  Tensor mean = Tensor::zeros({2}), var = Tensor::ones({2});
  BOOST_CHECK_THROW(batch_norm(x, gamma, beta, mean, var, {.eps = 0.0}), value_error);
  var.mutable_value()[1] = -1.0f;
  const std::string message = testing::message_of<value_error>([&] { batch_norm(x, gamma, beta, mean, var, {.train = false}); });
  BOOST_TEST(message.find("running_var[1]") != std::string::npos, message);
}
