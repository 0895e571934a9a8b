// dropout and l2_penalty.
#define BOOST_TEST_MODULE regularization
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <xgrad/xgrad.hpp>

using namespace xg;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_CASE(dropout_is_reproducible_with_a_seed) {
  const Tensor64 x = Tensor64::ones({50});
  Generator a(7), b(7), c(8);
  const array<double> ya = dropout(x, 0.5, true, a).value();
  BOOST_TEST(ya == dropout(x, 0.5, true, b).value());
  BOOST_TEST(ya != dropout(x, 0.5, true, c).value());
}

BOOST_AUTO_TEST_CASE(train_mode_drops_a_fraction_p_and_scales_the_rest_by_one_over_one_minus_p) {
  Generator gen(1);
  const Tensor64 x = uniform<double>({100, 100}, 0.5, 1.5, gen);
  const array<double> y = dropout(x, 0.3, true, gen).value();
  std::size_t dropped = 0;
  double total_x = 0, total_y = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double xi = x.value().data()[i], yi = y.data()[i];
    if (yi == 0.0) ++dropped;
    else BOOST_TEST(yi == xi / 0.7, tt::tolerance(1e-12));
    total_x += xi;
    total_y += yi;
  }
  BOOST_TEST(double(dropped) / double(y.size()) == 0.3, tt::tolerance(0.05));
  BOOST_TEST(total_y == total_x, tt::tolerance(0.02));  // inverted dropout keeps the expectation
}

BOOST_AUTO_TEST_CASE(the_gradient_is_the_same_mask) {
  Generator gen(2);
  const Tensor64 x(array<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, true);
  Tape tape;
  const Tensor64 y = dropout(x, 0.5, true, gen);
  tape.backward(sum(y));
  for (std::size_t i = 0; i < 8; ++i) BOOST_TEST(x.grad()(i) == y.value()(i) / x.value()(i), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(eval_mode_and_p_zero_are_the_identity) {
  Generator gen(3);
  const Tensor64 x(array<double>{1.0, -2.0, 3.0}, true);
  Tape tape;
  const Tensor64 y = dropout(x, 0.9, false, gen);
  BOOST_TEST(y.value() == x.value());
  BOOST_TEST(dropout(x, 0.0, true, gen).value() == x.value());
  tape.backward(sum(y));
  BOOST_TEST(x.grad() == xt::ones<double>({3}));
}

BOOST_AUTO_TEST_CASE(p_outside_zero_to_one_is_a_value_error) {
  Generator gen(4);
  const Tensor x = Tensor::ones({3});
  BOOST_CHECK_THROW(dropout(x, 1.0, true, gen), value_error);
  BOOST_CHECK_THROW(dropout(x, -0.1, true, gen), value_error);
  BOOST_CHECK_THROW(dropout(x, std::nan(""), false, gen), value_error);
}

BOOST_AUTO_TEST_CASE(l2_penalty_is_half_lambda_times_the_sum_of_squares_with_gradient_lambda_w) {
  const Tensor64 w(array<double>{{1.0, 2.0}, {3.0, -4.0}}, true), b(array<double>{1.0}, true);
  Tape tape;
  const Tensor64 penalty = l2_penalty<double>({w, b}, 0.5);
  BOOST_TEST(penalty.item() == 0.25 * (1 + 4 + 9 + 16 + 1));
  tape.backward(penalty);
  BOOST_TEST(w.grad()(1, 1) == -2.0);
  BOOST_TEST(b.grad()(0) == 0.5);
  BOOST_TEST(l2_penalty<float>({}, 0.5).item() == 0.f);
}
