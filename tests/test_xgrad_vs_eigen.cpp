// xgrad and the Eigen baseline compute the same thing: from the same weights and batch, the same loss,
// the same gradients, and the same weights after an Adam step. (The baseline's own gradients are
// checked against central differences in test_eigen_baseline.cpp.)
#define BOOST_TEST_MODULE xgrad_vs_eigen
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "xgrad_models.hpp"

using namespace xg::bench;

namespace {

struct Batch {
  Matrix<float> x;  // [inputs x batch]
  std::vector<int> labels;
};

Batch random_batch(const MlpConfig& config) {
  std::mt19937 gen(13);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> label(0, int(config.widths.back()) - 1);
  Batch b{Matrix<float>(config.widths.front(), config.batch), std::vector<int>(config.batch)};
  for (Eigen::Index i = 0; i < b.x.size(); ++i) b.x.data()[i] = normal(gen);
  for (int& y : b.labels) y = label(gen);
  return b;
}

// Largest |a - b| over the buffer, relative to the largest |b| (at least 1).
double relative_difference(const float* a, const float* b, std::size_t n) {
  double diff = 0, scale = 1;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, double(std::abs(a[i] - b[i])));
    scale = std::max(scale, double(std::abs(b[i])));
  }
  return diff / scale;
}

// Adam's first step moves a weight by lr * g / (|g| + eps): where |g| is within a few orders of eps,
// float rounding in g changes that step by up to lr. Elsewhere the weights must agree closely.
std::size_t weights_differing_after_adam(const float* a, const float* b, const float* grad, std::size_t n,
                                         const AdamConfig& adam) {
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double tolerance = std::abs(grad[i]) > 100 * adam.eps ? 1e-6 : adam.lr;
    if (std::abs(a[i] - b[i]) > tolerance) ++differing;
  }
  return differing;
}

void check_same_computation(const MlpConfig& config) {
  Mlp<float> eigen(config);
  XgradMlp xgrad(eigen);
  const Batch batch = random_batch(config);
  const xg::Tensor x = to_tensor(batch.x);

  const float eigen_loss = eigen.forward(batch.x, batch.labels);
  eigen.backward(batch.x);
  const float xgrad_loss = xgrad.forward_backward(x, batch.labels);
  BOOST_TEST(xgrad_loss == eigen_loss, boost::test_tools::tolerance(1e-4f));

  const auto eigen_params = eigen.parameters();
  const auto& xgrad_params = xgrad.parameters();
  BOOST_TEST_REQUIRE(xgrad_params.size() == eigen_params.size());
  for (std::size_t p = 0; p < eigen_params.size(); ++p) {
    const Matrix<float>& expected = eigen_params[p]->grad;
    BOOST_TEST_REQUIRE(xgrad_params[p].grad().size() == std::size_t(expected.size()));
    BOOST_TEST(relative_difference(xgrad_params[p].grad().data(), expected.data(), expected.size()) < 1e-4,
               "gradient of parameter " << p);
  }

  eigen.adam_step();
  xgrad.adam_step();
  for (std::size_t p = 0; p < eigen_params.size(); ++p) {
    const Param<float>& expected = *eigen_params[p];
    BOOST_TEST(weights_differing_after_adam(xgrad_params[p].value().data(), expected.value.data(),
                                            expected.grad.data(), expected.value.size(), config.adam) == 0u,
               "parameter " << p << " after one Adam step");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(tiny_mlp_bn_matches_eigen) {
  check_same_computation({.batch = 8, .widths = {12, 16, 16, 10}, .batch_norm = true});
}

BOOST_AUTO_TEST_CASE(mlp_small_matches_eigen) { check_same_computation(mlp_small_config()); }

BOOST_AUTO_TEST_CASE(mlp_bn_matches_eigen) { check_same_computation(mlp_bn_config()); }
