// The Eigen baseline of the benchmarks computes what it claims: its hand-derived gradients agree with
// float64 central differences, and its Adam step is the textbook one.
#define BOOST_TEST_MODULE eigen_baseline
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "eigen_baseline.hpp"

using namespace xg::bench;
namespace tt = boost::test_tools;

namespace {

struct Batch {
  Matrix<double> x;
  std::vector<int> labels;
};

Batch random_batch(const MlpConfig& config, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> label(0, int(config.widths.back()) - 1);
  Batch batch{Matrix<double>(config.widths.front(), config.batch), std::vector<int>(config.batch)};
  for (Eigen::Index i = 0; i < batch.x.size(); ++i) batch.x.data()[i] = normal(gen);
  for (int& y : batch.labels) y = label(gen);
  return batch;
}

// Every parameter's analytic gradient against (L(p+h) - L(p-h)) / 2h, PyTorch gradcheck's tolerances.
void check_gradients_against_central_differences(const MlpConfig& config) {
  Mlp<double> model(config);
  const Batch batch = random_batch(config, 7);
  model.forward(batch.x, batch.labels);
  model.backward(batch.x);
  const double h = 1e-6, atol = 1e-5, rtol = 1e-3;
  int index = 0;
  for (Param<double>* p : model.parameters()) {
    for (Eigen::Index i = 0; i < p->value.size(); ++i) {
      double& w = p->value.data()[i];
      const double saved = w;
      w = saved + h;
      const double loss_plus = model.forward(batch.x, batch.labels);
      w = saved - h;
      const double loss_minus = model.forward(batch.x, batch.labels);
      w = saved;
      const double numeric = (loss_plus - loss_minus) / (2 * h);
      const double analytic = p->grad.data()[i];
      BOOST_TEST_CONTEXT("parameter " << index << " element " << i) {
        BOOST_TEST(std::abs(analytic - numeric) <= atol + rtol * std::abs(numeric),
                   "analytic " << analytic << " numeric " << numeric);
      }
    }
    ++index;
  }
}

MlpConfig tiny_mlp_bn() { return {.batch = 8, .widths = {12, 16, 16, 10}, .batch_norm = true}; }
MlpConfig tiny_mlp_small() { return {.batch = 8, .widths = {12, 16, 10}, .batch_norm = false}; }

}  // namespace

BOOST_AUTO_TEST_CASE(mlp_bn_gradients_match_central_differences) {
  check_gradients_against_central_differences(tiny_mlp_bn());
}

BOOST_AUTO_TEST_CASE(mlp_small_gradients_match_central_differences) {
  check_gradients_against_central_differences(tiny_mlp_small());
}

// The benchmarks run the float instantiation; it must compute what the checked double one does.
BOOST_AUTO_TEST_CASE(float_model_matches_double_model) {
  const MlpConfig config = tiny_mlp_bn();
  Mlp<double> reference(config);
  Mlp<float> model(config);
  const Batch batch = random_batch(config, 11);
  const Matrix<float> x = batch.x.cast<float>();
  BOOST_TEST(double(model.forward(x, batch.labels)) == reference.forward(batch.x, batch.labels), tt::tolerance(1e-5));
  model.backward(x);
  reference.backward(batch.x);
  for (std::size_t p = 0; p < model.parameters().size(); ++p) {
    const Matrix<double>& expected = reference.parameters()[p]->grad;
    const double error = (model.parameters()[p]->grad.cast<double>() - expected).cwiseAbs().maxCoeff();
    BOOST_TEST(error <= 1e-4 * std::max(1.0, expected.cwiseAbs().maxCoeff()), "parameter " << p);
  }
}

BOOST_AUTO_TEST_CASE(uniform_logits_cost_log_of_the_class_count) {
  const Matrix<double> logits = Matrix<double>::Constant(10, 4, 3.0);
  Matrix<double> dlogits(10, 4);
  const std::vector<int> labels{0, 3, 9, 3};
  BOOST_TEST(softmax_cross_entropy(logits, labels, dlogits) == std::log(10.0), tt::tolerance(1e-12));
  BOOST_TEST(dlogits(3, 1) == (0.1 - 1.0) / 4, tt::tolerance(1e-12));
  BOOST_TEST(dlogits(4, 1) == 0.1 / 4, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(adam_steps_follow_the_textbook_formula) {
  const AdamConfig config{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  Param<double> p;
  p.resize(1, 3);
  p.value << 1.0, -2.0, 0.5;
  Adam<double> adam(config);
  Param<double>* params[] = {&p};
  const double grads[2][3] = {{0.3, -1.5, 0.0}, {-0.2, 0.7, 2.0}};
  double w[3] = {1.0, -2.0, 0.5}, m[3] = {}, v[3] = {};
  for (int t = 1; t <= 2; ++t) {
    for (int i = 0; i < 3; ++i) p.grad(0, i) = grads[t - 1][i];
    adam.step(params);
    // The first step moves a weight by about lr against its gradient's sign (m_hat / sqrt(v_hat) = g / |g|).
    if (t == 1) BOOST_TEST(p.value(0, 0) == 1.0 - config.lr, tt::tolerance(1e-6));
    for (int i = 0; i < 3; ++i) {
      const double g = grads[t - 1][i];
      m[i] = config.beta1 * m[i] + (1 - config.beta1) * g;
      v[i] = config.beta2 * v[i] + (1 - config.beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(config.beta1, t));
      const double v_hat = v[i] / (1 - std::pow(config.beta2, t));
      w[i] -= config.lr * m_hat / (std::sqrt(v_hat) + config.eps);
      BOOST_TEST(p.value(0, i) == w[i], tt::tolerance(1e-12));
    }
  }
}
