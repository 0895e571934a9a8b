// softmax, log_softmax, cross_entropy, argmax and accuracy: the course's worked examples, numerical
// stability, errors, and agreement of the fused kernels with their composed forms.
#define BOOST_TEST_MODULE softmax
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <xgrad/xgrad.hpp>

#include "agreement.hpp"
#include "test_support.hpp"

using namespace xg;
namespace tt = boost::test_tools;

using testing::t;

BOOST_AUTO_TEST_CASE(softmax_of_the_course_example) {
  // z = [5, 2, -1, 3]: e^z / sum(e^z) = [148.4, 7.39, 0.368, 20.1] / 176.2.
  const array<double> y = softmax(t({5.0, 2.0, -1.0, 3.0})).value();
  const double rounded[] = {0.842, 0.042, 0.002, 0.114};  // the course's figures, to 3 decimals
  for (std::size_t i = 0; i < 4; ++i) BOOST_TEST(std::abs(y(i) - rounded[i]) < 5e-4, "element " << i << ": " << y(i));
  BOOST_TEST(y(0) / y(3) == std::exp(2.0), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(softmax_normalises_along_the_given_axis) {
  const Tensor64 x = agreement::random_input({2, 3, 4}, 1);
  const array<double> y = softmax(x, 1).value();
  for (std::size_t o = 0; o < 2; ++o)
    for (std::size_t i = 0; i < 4; ++i)
      BOOST_TEST(y(o, 0, i) + y(o, 1, i) + y(o, 2, i) == 1.0, tt::tolerance(1e-12));
  const array<double> l = log_softmax(x, 1).value();
  BOOST_TEST(std::exp(l(1, 2, 3)) == y(1, 2, 3), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(extreme_logits_give_finite_correct_results) {
  const Tensor64 z = t({{1000.0, -1000.0, 0.0}, {-1000.0, -1000.0, -1000.0}});
  const array<double> y = softmax(z).value();
  BOOST_TEST(y(0, 0) == 1.0);
  BOOST_TEST(y(0, 1) == 0.0);
  BOOST_TEST(y(1, 2) == 1.0 / 3.0, tt::tolerance(1e-12));
  const array<double> l = log_softmax(z).value();
  BOOST_TEST(l(0, 0) == 0.0);
  BOOST_TEST(l(0, 1) == -2000.0);
  BOOST_TEST(l(0, 2) == -1000.0);
  BOOST_TEST(l(1, 0) == -std::log(3.0), tt::tolerance(1e-12));
  const std::vector<int> labels = {1, 0};
  BOOST_TEST(cross_entropy(z, labels).item() == (2000.0 + std::log(3.0)) / 2, tt::tolerance(1e-12));
  BOOST_TEST(composed::cross_entropy(z, labels).item() == (2000.0 + std::log(3.0)) / 2, tt::tolerance(1e-12));
  // float: exp(1000) overflows without the shift.
  const Tensor zf(array<float>{1000.f, -1000.f});
  BOOST_TEST(softmax(zf).value()(0) == 1.f);
  BOOST_TEST(std::isfinite(log_softmax(zf).value()(1)));
  BOOST_TEST(std::isfinite(composed::log_softmax(zf).value()(1)));
}

BOOST_AUTO_TEST_CASE(cross_entropy_of_the_course_example_is_minus_log_of_the_true_class) {
  // y = [0, 1, 0, 0], y_hat = [0.3, 0.2, 0.1, 0.4]: logits log(y_hat) have softmax y_hat.
  const Tensor64 logits = log(t({{0.3, 0.2, 0.1, 0.4}}));
  const std::vector<int> label = {1};
  BOOST_TEST(cross_entropy(logits, label).item() == -std::log(0.2), tt::tolerance(1e-12));
  BOOST_TEST(cross_entropy(logits, t({{0.0, 1.0, 0.0, 0.0}})).item() == -std::log(0.2), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(uniform_logits_over_ten_classes_give_log_10) {
  const std::vector<int> labels = {0, 9, 4};
  BOOST_TEST(cross_entropy(Tensor64::full({3, 10}, 0.7), labels).item() == 2.302585, tt::tolerance(1e-6));
  BOOST_TEST(cross_entropy(Tensor::zeros({3, 10}), labels).item() == std::log(10.f), tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(cross_entropy_is_the_mean_over_the_batch_of_soft_targets) {
  const Tensor64 z = t({{1.0, 2.0}, {0.0, 0.0}});
  const Tensor64 targets = t({{0.25, 0.75}, {0.5, 0.5}});
  const array<double> l = log_softmax(z).value();
  const double expected = -(0.25 * l(0, 0) + 0.75 * l(0, 1) + 0.5 * l(1, 0) + 0.5 * l(1, 1)) / 2;
  BOOST_TEST(cross_entropy(z, targets).item() == expected, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(cross_entropy_gradient_is_softmax_minus_target_over_m) {
  const Tensor64 z = t({{1.0, -0.5, 2.0}, {0.3, 0.1, -1.0}}, true);
  const std::vector<int> labels = {2, 0};
  const array<double> p = softmax(z).value();
  Tape tape;
  tape.backward(cross_entropy(z, labels));
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      BOOST_TEST(z.grad()(i, j) == (p(i, j) - (int(j) == labels[i])) / 2, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_label_out_of_range_names_the_label_and_the_number_of_classes) {
  const Tensor64 z = Tensor64::zeros({2, 3});
  const std::vector<int> too_big = {0, 3}, negative = {-1, 0};
  BOOST_CHECK_THROW(cross_entropy(z, too_big), value_error);
  const std::string m = testing::message_of<error>([&] { cross_entropy(z, too_big); });
  BOOST_TEST(m.find("label 3") != std::string::npos, m);
  BOOST_TEST(m.find("3 classes") != std::string::npos, m);
  BOOST_TEST(testing::message_of<error>([&] { cross_entropy(z, negative); }).find("label -1") != std::string::npos);
  BOOST_TEST(testing::message_of<error>([&] { composed::cross_entropy(z, too_big); }) == m);
}

BOOST_AUTO_TEST_CASE(mismatched_shapes_are_shape_errors) {
  const Tensor64 z = Tensor64::zeros({2, 3});
  const std::vector<int> three_labels = {0, 1, 2};
  BOOST_CHECK_THROW(cross_entropy(z, three_labels), shape_error);
  BOOST_CHECK_THROW(cross_entropy(z, Tensor64::zeros({2, 4})), shape_error);
  BOOST_CHECK_THROW(cross_entropy(Tensor64::zeros({6}), three_labels), shape_error);
  BOOST_CHECK_THROW(softmax(z, 2), value_error);
}

BOOST_AUTO_TEST_CASE(argmax_picks_the_first_maximum_along_the_axis) {
  const Tensor64 x = t({{1.0, 3.0, 2.0}, {5.0, 0.0, 5.0}});
  BOOST_TEST(argmax(x) == std::vector<int>({1, 0}), tt::per_element());
  BOOST_TEST(argmax(x, 0) == std::vector<int>({1, 0, 1}), tt::per_element());
  const std::vector<int> labels = {1, 2};
  BOOST_TEST(accuracy(x, labels) == 0.5);
  const std::vector<int> right = {1, 0};
  BOOST_TEST(accuracy(x, right) == 1.0);
}

BOOST_AUTO_TEST_CASE(fused_and_composed_softmax_agree) {
  for (long axis : {-1L, 0L, 1L}) {
    BOOST_TEST_CONTEXT("axis " << axis) {
      const std::vector<Tensor64> x = {agreement::random_input({3, 4, 5}, 2, 5.0)};
      agreement::expect_agreement([axis](const auto& in) { return softmax(in[0], axis); },
                                  [axis](const auto& in) { return composed::softmax(in[0], axis); }, x);
      agreement::expect_agreement([axis](const auto& in) { return log_softmax(in[0], axis); },
                                  [axis](const auto& in) { return composed::log_softmax(in[0], axis); }, x);
    }
  }
}

BOOST_AUTO_TEST_CASE(fused_and_composed_cross_entropy_agree) {
  const std::vector<int> labels = {3, 0, 6, 6, 1, 2, 5, 4};
  agreement::expect_agreement([&](const auto& in) { return cross_entropy(in[0], labels); },
                              [&](const auto& in) { return composed::cross_entropy(in[0], labels); },
                              {agreement::random_input({8, 7}, 3, 4.0)});
  // Soft targets, differentiable too.
  Tensor64 targets = softmax(agreement::random_input({8, 7}, 4));
  agreement::expect_agreement([](const auto& in) { return cross_entropy(in[0], in[1]); },
                              [](const auto& in) { return composed::cross_entropy(in[0], in[1]); },
                              {agreement::random_input({8, 7}, 5, 4.0), targets});
}

BOOST_AUTO_TEST_CASE(fused_and_composed_cross_entropy_with_options_agree) {
  const std::vector<int> labels = {3, 0, -100, 6, 1, 2, 5, 4};  // row 2 ignored
  const CrossEntropyOptions cases[] = {{.reduction = Reduction::none},
                                       {.reduction = Reduction::sum, .label_smoothing = 0.3},
                                       {.ignore_index = -100, .label_smoothing = 0.1},
                                       {.reduction = Reduction::none, .ignore_index = 3, .label_smoothing = 1.0}};
  const std::vector<int> labels_ignoring_3 = {3, 0, 2, 6, 1, 2, 5, 4};
  for (const CrossEntropyOptions& o : cases) {
    BOOST_TEST_CONTEXT("reduction " << int(o.reduction) << ", ignore_index " << o.ignore_index << ", smoothing " << o.label_smoothing) {
      const std::vector<int>& y = o.ignore_index == 3 ? labels_ignoring_3 : labels;
      agreement::expect_agreement([&](const auto& in) { return cross_entropy(in[0], y, o); },
                                  [&](const auto& in) { return composed::cross_entropy(in[0], y, o); },
                                  {agreement::random_input({8, 7}, 6, 4.0)});
    }
  }
}
