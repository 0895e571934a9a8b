// layer_norm: PyTorch's values, the gradient's structure, data far from zero, and agreement of the
// fused kernel with its composed form.
#define BOOST_TEST_MODULE layer_norm
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <xgrad/xgrad.hpp>

#include "agreement.hpp"

using namespace xg;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_CASE(layer_norm_of_a_row_matches_pytorch) {
  // torch.nn.functional.layer_norm(torch.tensor([[1., 2, 3, 4]]), (4,), weight=2, bias=1), float64
  const Tensor64 x(array<double>{{1.0, 2.0, 3.0, 4.0}, {-1.0, -2.0, -3.0, -4.0}});
  const Tensor64 y = layer_norm(x, Tensor64::full({4}, 2.0), Tensor64::ones({4}));
  const double expected[] = {-1.6832708399378538, 0.105576386687382, 1.894423613312618, 3.6832708399378538};
  for (std::size_t j = 0; j < 4; ++j) {
    BOOST_TEST(y.value()(0, j) == expected[j], tt::tolerance(1e-14));
    BOOST_TEST(y.value()(1, j) == expected[3 - j], tt::tolerance(1e-14));  // each row on its own
  }
}

BOOST_AUTO_TEST_CASE(layer_norm_normalises_over_the_trailing_dimensions_of_gamma) {
  const Tensor64 x = agreement::random_input({2, 3, 4}, 5);
  const Tensor64 y = layer_norm(x, Tensor64::ones({3, 4}), Tensor64::zeros({3, 4}), 0.0);
  for (std::size_t i = 0; i < 2; ++i) {
    double mean = 0, square = 0;
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) {
        mean += y.value()(i, j, k) / 12;
        square += y.value()(i, j, k) * y.value()(i, j, k) / 12;
      }
    BOOST_TEST(mean == 0.0, tt::tolerance(1e-12));
    BOOST_TEST(square == 1.0, tt::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(the_gradient_of_a_sum_of_normalised_values_is_zero_for_x) {
  // sum(x_hat) = 0 whatever x is, so d/dx is 0; d/dbeta counts the rows, d/dgamma sums x_hat.
  Tensor64 x(agreement::random_input({3, 5}, 2).value(), true);
  Tensor64 gamma = Tensor64::ones({5}, true), beta = Tensor64::zeros({5}, true);
  Tape tape;
  tape.backward(sum(layer_norm(x, gamma, beta)));
  for (double g : x.grad()) BOOST_TEST(g == 0.0, tt::tolerance(1e-12));
  for (double g : beta.grad()) BOOST_TEST(g == 3.0);
}

BOOST_AUTO_TEST_CASE(float_layer_norm_of_data_far_from_zero_keeps_its_digits) {
  Tensor x = Tensor::zeros({1, 4});
  for (std::size_t j = 0; j < 4; ++j) x.mutable_value()(0, j) = 10000.0f + float(j);
  const Tensor y = layer_norm(x, Tensor::ones({4}), Tensor::zeros({4}));
  BOOST_TEST(y.value()(0, 0) == -1.3416354f, tt::tolerance(1e-5f));
  BOOST_TEST(y.value()(0, 3) == 1.3416354f, tt::tolerance(1e-5f));
}

BOOST_AUTO_TEST_CASE(fused_and_composed_layer_norm_agree) {
  for (const auto& [shape, normalized] : {std::pair{shape_type{6, 5}, shape_type{5}}, std::pair{shape_type{2, 3, 4}, shape_type{3, 4}}}) {
    BOOST_TEST_CONTEXT("x " << shape_string(shape) << " over " << shape_string(normalized)) {
      agreement::expect_agreement([](const auto& in) { return layer_norm(in[0], in[1], in[2]); },
                                  [](const auto& in) { return composed::layer_norm(in[0], in[1], in[2]); },
                                  {agreement::random_input(shape, 1), agreement::random_input(normalized, 2),
                                   agreement::random_input(normalized, 3)});
    }
  }
}
