// batch_norm: normalisation, recovering the input, the running statistics (momentum by hand and
// convergence), eval mode on one example, errors, fused vs composed agreement, and the same bits
// with any number of threads.
#define BOOST_TEST_MODULE batch_norm
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <thread>
#include <xgrad/threads.hpp>
#include <xgrad/xgrad.hpp>

#include "agreement.hpp"

using namespace xg;
namespace tt = boost::test_tools;

namespace {
// The mean and biased variance of channel c of x viewed as (N, C, inner), computed plainly.
std::pair<double, double> channel_stats(const array<double>& x, std::size_t c) {
  const std::size_t n = x.shape()[0], channels = x.shape()[1], inner = x.size() / (n * channels);
  double s = 0, s2 = 0;
  for (std::size_t o = 0; o < n; ++o)
    for (std::size_t i = 0; i < inner; ++i) {
      const double v = x.data()[(o * channels + c) * inner + i];
      s += v;
      s2 += v * v;
    }
  const double m = double(n * inner), mean = s / m;
  return {mean, s2 / m - mean * mean};
}

struct State {
  Tensor64 gamma, beta, running_mean, running_var;
  explicit State(std::size_t c)
      : gamma(Tensor64::ones({c})), beta(Tensor64::zeros({c})), running_mean(Tensor64::zeros({c})),
        running_var(Tensor64::ones({c})) {}
};
}  // namespace

BOOST_AUTO_TEST_CASE(train_mode_output_has_zero_mean_and_unit_variance_per_feature) {
  for (const shape_type& shape : {shape_type{16, 5}, shape_type{4, 3, 5, 2}}) {
    BOOST_TEST_CONTEXT("shape " << shape_string(shape)) {
      Generator gen(1);
      const Tensor64 x = normal<double>(shape, 3.0, 2.0, gen);
      State s(shape[1]);
      const array<double> y = batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var).value();
      for (std::size_t c = 0; c < shape[1]; ++c) {
        const auto [mean, var] = channel_stats(y, c);
        BOOST_TEST(std::abs(mean) < 1e-12);
        BOOST_TEST(var == 1.0, tt::tolerance(1e-4));  // var / (var + eps)
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(gamma_sqrt_var_plus_eps_and_beta_mean_recover_the_input) {
  Generator gen(2);
  const Tensor64 x = normal<double>({10, 3, 2, 2}, -1.0, 3.0, gen);
  State s(3);
  for (std::size_t c = 0; c < 3; ++c) {
    const auto [mean, var] = channel_stats(x.value(), c);
    s.gamma.mutable_value()(c) = std::sqrt(var + 1e-5);
    s.beta.mutable_value()(c) = mean;
  }
  const array<double> y = batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var).value();
  for (std::size_t i = 0; i < y.size(); ++i) BOOST_TEST(y.data()[i] == x.value().data()[i], tt::tolerance(1e-10));
}

BOOST_AUTO_TEST_CASE(running_statistics_follow_pytorch_momentum_with_the_unbiased_variance) {
  // One column [1, 2, 3, 4]: mean 2.5, biased variance 1.25, unbiased 5/3.
  // Step 1 from (0, 1): mean 0.9 * 0 + 0.1 * 2.5 = 0.25; var 0.9 * 1 + 0.1 * 5/3 = 16/15.
  // Step 2: mean 0.9 * 0.25 + 0.25 = 0.475; var 0.9 * 16/15 + 1/6 = 1.12666...
  const Tensor64 x = reshape(Tensor64(array<double>{1.0, 2.0, 3.0, 4.0}), {4, 1});
  State s(1);
  const Tensor64 mean_handle = s.running_mean;  // a second handle sees the in-place update
  batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var);
  BOOST_TEST(mean_handle.value()(0) == 0.25, tt::tolerance(1e-12));
  BOOST_TEST(s.running_var.value()(0) == 16.0 / 15.0, tt::tolerance(1e-12));
  batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var, {.train = true, .momentum = 0.1});
  BOOST_TEST(s.running_mean.value()(0) == 0.475, tt::tolerance(1e-12));
  BOOST_TEST(s.running_var.value()(0) == 0.9 * 16.0 / 15.0 + 1.0 / 6.0, tt::tolerance(1e-12));
  // Momentum 1 takes the batch's statistics outright.
  batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var, {.train = true, .momentum = 1.0});
  BOOST_TEST(s.running_mean.value()(0) == 2.5, tt::tolerance(1e-12));
  BOOST_TEST(s.running_var.value()(0) == 5.0 / 3.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(running_statistics_converge_to_the_data_statistics) {
  const double means[] = {3.0, -1.0, 0.5}, stds[] = {2.0, 0.5, 1.0};
  Generator gen(3);
  State s(3);
  for (int step = 0; step < 300; ++step) {
    array<double> batch = array<double>::from_shape({128, 3});
    for (std::size_t c = 0; c < 3; ++c) {
      std::normal_distribution<double> dist(means[c], stds[c]);
      for (std::size_t i = 0; i < 128; ++i) batch(i, c) = dist(gen);
    }
    batch_norm(Tensor64(std::move(batch)), s.gamma, s.beta, s.running_mean, s.running_var);
  }
  for (std::size_t c = 0; c < 3; ++c) {
    BOOST_TEST(std::abs(s.running_mean.value()(c) - means[c]) < 0.1 * stds[c]);
    BOOST_TEST(s.running_var.value()(c) == stds[c] * stds[c], tt::tolerance(0.1));
  }
}

BOOST_AUTO_TEST_CASE(eval_mode_on_one_example_uses_the_running_statistics) {
  State s(2);
  s.running_mean.mutable_value() = array<double>{1.0, -2.0};
  s.running_var.mutable_value() = array<double>{4.0, 0.25};
  s.gamma.mutable_value() = array<double>{2.0, 0.5};
  s.beta.mutable_value() = array<double>{0.1, -0.3};
  const Tensor64 x(array<double>{{3.0, -1.0}});
  const BatchNormOptions eval{.train = false, .eps = 1e-5};
  const array<double> y = batch_norm(x, s.gamma, s.beta, s.running_mean, s.running_var, eval).value();
  BOOST_TEST(y(0, 0) == 2.0 * (3.0 - 1.0) / std::sqrt(4.0 + 1e-5) + 0.1, tt::tolerance(1e-12));
  BOOST_TEST(y(0, 1) == 0.5 * (-1.0 + 2.0) / std::sqrt(0.25 + 1e-5) - 0.3, tt::tolerance(1e-12));
  BOOST_TEST(s.running_mean.value()(0) == 1.0);  // eval mode leaves them alone
  BOOST_TEST(s.running_var.value()(1) == 0.25);
}

BOOST_AUTO_TEST_CASE(train_mode_with_batch_size_one_is_a_clear_error) {
  State s(3);
  const Tensor64 one(array<double>{{1.0, 2.0, 3.0}});
  for (auto f : {&batch_norm<double>, &composed::batch_norm<double>}) {
    try {
      f(one, s.gamma, s.beta, s.running_mean, s.running_var, {});
      BOOST_FAIL("no error");
    } catch (const value_error& e) {
      BOOST_TEST(std::string(e.what()).find("batch size 1") != std::string::npos, e.what());
    }
  }
  BOOST_TEST(s.running_var.value()(0) == 1.0);  // untouched, no NaN
  // One image still has H * W values per channel.
  const array<double> y = batch_norm(Tensor64::ones({1, 3, 2, 2}) + Tensor64(array<double>{0.0, 1.0}),
                                     s.gamma, s.beta, s.running_mean, s.running_var).value();
  BOOST_TEST(std::isfinite(y(0, 0, 0, 0)));
}

BOOST_AUTO_TEST_CASE(parameters_of_the_wrong_shape_are_shape_errors) {
  State s(3);
  Tensor64 four = Tensor64::ones({4});
  BOOST_CHECK_THROW(batch_norm(Tensor64::ones({5, 4}), s.gamma, s.beta, s.running_mean, s.running_var), shape_error);
  BOOST_CHECK_THROW(batch_norm(Tensor64::ones({5, 3}), four, s.beta, s.running_mean, s.running_var), shape_error);
  BOOST_CHECK_THROW(batch_norm(Tensor64::ones({5}), s.gamma, s.beta, s.running_mean, s.running_var), shape_error);
}

BOOST_AUTO_TEST_CASE(fused_and_composed_batch_norm_agree_in_value_gradient_and_running_statistics) {
  for (bool train : {true, false})
    for (const shape_type& shape : {shape_type{8, 5}, shape_type{4, 5, 3, 2}}) {
      BOOST_TEST_CONTEXT((train ? "train " : "eval ") << shape_string(shape)) {
        const Tensor64 x = agreement::random_input(shape, 10, 3.0), gamma = agreement::random_input({5}, 11),
                       beta = agreement::random_input({5}, 12);
        const Tensor64 mean0 = agreement::random_input({5}, 13);
        const Tensor64 var0(xt::abs(agreement::random_input({5}, 14).value()) + 0.5);
        State fused(5), composed(5);
        for (State* s : {&fused, &composed}) {
          s->running_mean.mutable_value() = mean0.value();
          s->running_var.mutable_value() = var0.value();
        }
        const BatchNormOptions options{.train = train, .momentum = 0.2};
        agreement::expect_agreement(
            [&](const auto& in) { return batch_norm(in[0], in[1], in[2], fused.running_mean, fused.running_var, options); },
            [&](const auto& in) {
              return composed::batch_norm(in[0], in[1], in[2], composed.running_mean, composed.running_var, options);
            },
            {x, gamma, beta});
        agreement::expect_close(fused.running_mean.value(), composed.running_mean.value(), 1e-12, "running mean");
        agreement::expect_close(fused.running_var.value(), composed.running_var.value(), 1e-12, "running var");
      }
    }
}

// Data far from zero in float: E[x^2] - E[x]^2 would lose every digit of the variance (1e6 against
// 1). 512 samples are cut into parts whose statistics are combined; the later samples are shifted,
// so that the parts' means differ, and the combination must account for that too.
BOOST_AUTO_TEST_CASE(float_statistics_of_data_far_from_zero_keep_their_digits) {
  Generator gen(4);
  Tensor x = normal<float>({512, 256}, 1000.0f, 1.5f, gen);
  for (std::size_t i = x.size() / 2; i < x.size(); ++i) x.mutable_value().data()[i] += 3.0f;
  Tensor gamma = Tensor::ones({256}), beta = Tensor::zeros({256});
  Tensor running_mean = Tensor::zeros({256}), running_var = Tensor::ones({256});
  batch_norm(x, gamma, beta, running_mean, running_var, {.train = true, .momentum = 1.0});  // takes the batch's
  const array<double> exact(x.value());
  for (std::size_t c = 0; c < 256; c += 51) {
    const auto [mean, var] = channel_stats(exact, c);
    BOOST_TEST(running_mean.value()(c) == mean, tt::tolerance(1e-6));
    BOOST_TEST(running_var.value()(c) == var * 512 / 511, tt::tolerance(1e-6));
  }
}

// Large enough to be cut into parts; 1000 channels are not a whole number of SIMD registers, and
// (N, C, H, W) input takes the other kernels.
BOOST_AUTO_TEST_CASE(forward_and_backward_are_bit_identical_with_one_and_two_threads) {
  for (const shape_type& shape : {shape_type{300, 1000}, shape_type{16, 37, 16, 16}}) {
    BOOST_TEST_CONTEXT("shape " << shape_string(shape)) {
      const auto run = [&](int threads) {
        set_num_threads(threads);
        Generator gen(5);
        const std::size_t c = shape[1];
        Tensor x = normal<float>(shape, 3.0f, 2.0f, gen, true), gamma = normal<float>({c}, 1.0f, 0.5f, gen, true),
               beta = normal<float>({c}, 0.0f, 1.0f, gen, true), weights = normal<float>(shape, 0.0f, 1.0f, gen);
        Tensor running_mean = Tensor::zeros({c}), running_var = Tensor::ones({c});
        Tape tape;
        const Tensor y = batch_norm(x, gamma, beta, running_mean, running_var);
        tape.backward(sum(y * weights));
        return std::vector<array<float>>{y.value(), x.grad(), gamma.grad(), beta.grad(), running_mean.value(),
                                         running_var.value()};
      };
      const std::vector<array<float>> one = run(1), two = run(2);
      const char* names[] = {"output", "d(x)", "d(gamma)", "d(beta)", "running mean", "running var"};
      for (std::size_t i = 0; i < one.size(); ++i) BOOST_TEST((one[i] == two[i]), names[i]);
    }
  }
  set_num_threads(int(std::thread::hardware_concurrency()));  // every core again, as before the test
}
