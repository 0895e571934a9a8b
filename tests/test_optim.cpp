// Optimizers: each transformation against its textbook recurrence computed here, composition,
// schedules, the differentiable step, hypergradient descent, state round trips and allocation-free
// steps.
#define BOOST_TEST_MODULE optim
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <new>
#include <xgrad/xgrad.hpp>

using namespace xg;
using namespace xg::optim;
namespace tt = boost::test_tools;

// Counts heap allocations, so a test can assert that a step makes none. (GCC 12 warns that the
// replaced delete frees what the replaced new returned, a known false positive.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> allocations{0};
void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {
// The test problem: f(w) = 0.5 * (a0 w0^2 + a1 w1^2), gradient (a0 w0, a1 w1), from w = (1, -2).
constexpr double a[2] = {1.0, 4.0};
constexpr double w_start[2] = {1.0, -2.0};

Tensor quadratic_loss(const Tensor& w) {
  return 0.5f * sum(Tensor(array<float>{float(a[0]), float(a[1])}) * w * w);
}

struct Vec2 {
  double x[2];
};

// w after each of `steps` steps of the optimizer built from `transformations`.
std::vector<Vec2> trajectory(Chain transformations, int steps) {
  Tensor w(array<float>{float(w_start[0]), float(w_start[1])}, true);
  Optimizer opt({w}, std::move(transformations));
  std::vector<Vec2> out;
  for (int t = 0; t < steps; ++t) {
    opt.set_epoch(t);
    Tape tape;
    tape.backward(quadratic_loss(w));
    opt.step();
    opt.zero_grad();
    out.push_back({{w.value()(0), w.value()(1)}});
  }
  return out;
}

// The textbook recurrence, written out independently: next(w, g, t) returns the new w (t from 1).
template <class Next>
std::vector<Vec2> expected_trajectory(int steps, Next next) {
  Vec2 w{{w_start[0], w_start[1]}};
  std::vector<Vec2> out;
  for (int t = 1; t <= steps; ++t) {
    for (int i = 0; i < 2; ++i) w.x[i] = next(i, w.x[i], a[i] * w.x[i], t);
    out.push_back(w);
  }
  return out;
}

void check_same(const std::vector<Vec2>& got, const std::vector<Vec2>& want) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t t = 0; t < got.size(); ++t)
    for (int i = 0; i < 2; ++i) BOOST_TEST(got[t].x[i] == want[t].x[i], tt::tolerance(2e-5));
}
}  // namespace

BOOST_AUTO_TEST_CASE(sgd_follows_w_minus_lr_g) {
  const auto got = trajectory(sgd(0.1), 6);
  BOOST_TEST(got[0].x[0] == 0.9, tt::tolerance(1e-6));  // 1 - 0.1 * 1
  BOOST_TEST(got[0].x[1] == -1.2, tt::tolerance(1e-6)); // -2 - 0.1 * (-8)
  BOOST_TEST(got[1].x[1] == -0.72, tt::tolerance(1e-6));
  check_same(got, expected_trajectory(6, [](int, double w, double g, int) { return w - 0.1 * g; }));
}

BOOST_AUTO_TEST_CASE(momentum_averages_the_gradients) {
  const auto got = trajectory(momentum({.lr = 0.1, .beta = 0.9}), 6);
  BOOST_TEST(got[0].x[0] == 0.99, tt::tolerance(1e-6));  // v = 0.1 * 1, w = 1 - 0.1 * 0.1
  BOOST_TEST(got[0].x[1] == -1.92, tt::tolerance(1e-6)); // v = 0.1 * -8
  double v[2] = {0, 0};
  check_same(got, expected_trajectory(6, [&](int i, double w, double g, int) {
               v[i] = 0.9 * v[i] + 0.1 * g;
               return w - 0.1 * v[i];
             }));
}

BOOST_AUTO_TEST_CASE(rmsprop_divides_by_the_root_mean_square) {
  const auto got = trajectory(rmsprop({.lr = 0.01, .beta = 0.9, .eps = 1e-8}), 6);
  // s = 0.1 g^2, so the first update is 0.01 * g / (sqrt(0.1) |g|) = 0.01 / sqrt(0.1) = 0.0316228.
  BOOST_TEST(got[0].x[0] == 1 - 0.0316228, tt::tolerance(1e-5));
  BOOST_TEST(got[0].x[1] == -2 + 0.0316228, tt::tolerance(1e-5));
  double s[2] = {0, 0};
  check_same(got, expected_trajectory(6, [&](int i, double w, double g, int) {
               s[i] = 0.9 * s[i] + 0.1 * g * g;
               return w - 0.01 * g / (std::sqrt(s[i]) + 1e-8);
             }));
}

BOOST_AUTO_TEST_CASE(adam_corrects_the_bias_of_its_moments) {
  const auto got = trajectory(adam({.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}), 8);
  // Bias-corrected, the first step is lr * g / |g|: w moves by 0.1 against the gradient's sign.
  BOOST_TEST(got[0].x[0] == 0.9, tt::tolerance(1e-6));
  BOOST_TEST(got[0].x[1] == -1.9, tt::tolerance(1e-6));
  double m[2] = {0, 0}, v[2] = {0, 0};
  check_same(got, expected_trajectory(8, [&](int i, double w, double g, int t) {
               m[i] = 0.9 * m[i] + 0.1 * g;
               v[i] = 0.999 * v[i] + 0.001 * g * g;
               const double m_hat = m[i] / (1 - std::pow(0.9, t)), v_hat = v[i] / (1 - std::pow(0.999, t));
               return w - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8);
             }));
}

BOOST_AUTO_TEST_CASE(adamw_decays_the_weights_outside_the_moments) {
  const auto got = trajectory(adamw({.lr = 0.1, .weight_decay = 0.5}), 6);
  BOOST_TEST(got[0].x[0] == 1 - 0.1 * (1 + 0.5 * 1), tt::tolerance(1e-6));
  double m[2] = {0, 0}, v[2] = {0, 0};
  check_same(got, expected_trajectory(6, [&](int i, double w, double g, int t) {
               m[i] = 0.9 * m[i] + 0.1 * g;
               v[i] = 0.999 * v[i] + 0.001 * g * g;
               const double m_hat = m[i] / (1 - std::pow(0.9, t)), v_hat = v[i] / (1 - std::pow(0.999, t));
               return w - 0.1 * (m_hat / (std::sqrt(v_hat) + 1e-8) + 0.5 * w);
             }));
}

BOOST_AUTO_TEST_CASE(l2_decay_is_coupled_to_the_moments) {
  const auto got = trajectory(chain(l2(0.5), scale_by_momentum(0.9), scale_by_learning_rate(0.1)), 6);
  double v[2] = {0, 0};
  check_same(got, expected_trajectory(6, [&](int i, double w, double g, int) {
               v[i] = 0.9 * v[i] + 0.1 * (g + 0.5 * w);
               return w - 0.1 * v[i];
             }));
}

BOOST_AUTO_TEST_CASE(clip_by_global_norm_rescales_only_large_updates) {
  // The first gradient (1, -8) has norm sqrt(65) > 2: it is scaled to norm 2.
  const auto got = trajectory(chain(clip_by_global_norm(2.0), sgd(0.1)), 6);
  BOOST_TEST(got[0].x[0] == 1 - 0.1 * 2 / std::sqrt(65.0), tt::tolerance(1e-6));
  Vec2 w{{w_start[0], w_start[1]}};
  for (int t = 0; t < 6; ++t) {
    const double g[2] = {a[0] * w.x[0], a[1] * w.x[1]};
    const double norm = std::hypot(g[0], g[1]);
    const double factor = norm > 2 ? 2 / norm : 1;
    for (int i = 0; i < 2; ++i) w.x[i] -= 0.1 * factor * g[i];
    for (int i = 0; i < 2; ++i) BOOST_TEST(got[t].x[i] == w.x[i], tt::tolerance(2e-5));
  }
}

BOOST_AUTO_TEST_CASE(schedules_follow_their_formulas) {
  BOOST_TEST(inverse_time_decay(0.2, 1.0)(3) == 0.2 / 4, tt::tolerance(1e-12));
  BOOST_TEST(exponential_decay(0.2)(3) == 0.95 * 0.95 * 0.95 * 0.2, tt::tolerance(1e-12));
  BOOST_TEST(inverse_sqrt_decay(0.2, 0.5)(4) == 0.5 / 2 * 0.2, tt::tolerance(1e-12));
  BOOST_TEST(inverse_sqrt_decay(0.2, 0.5)(0) == 0.5 * 0.2, tt::tolerance(1e-12));  // epoch 0 counts as 1
  BOOST_TEST(staircase_decay(0.2, 0.5, 10)(9) == 0.2, tt::tolerance(1e-12));
  BOOST_TEST(staircase_decay(0.2, 0.5, 10)(25) == 0.05, tt::tolerance(1e-12));
  BOOST_TEST(cosine_decay(0.2, 10)(0) == 0.2, tt::tolerance(1e-12));
  BOOST_TEST(cosine_decay(0.2, 10, 0.02)(5) == 0.11, tt::tolerance(1e-12));
  BOOST_TEST(cosine_decay(0.2, 10, 0.02)(30) == 0.02, tt::tolerance(1e-12));
  BOOST_CHECK_THROW(staircase_decay(0.2, 0.5, 0), value_error);
}

BOOST_AUTO_TEST_CASE(learning_rate_reports_the_effective_rate) {
  Tensor w = Tensor::zeros({2}, true);
  Optimizer adam_opt({w}, adam({.lr = 1e-3}));
  BOOST_TEST(adam_opt.learning_rate() == 1e-3, tt::tolerance(1e-6));
  Optimizer scheduled({w}, chain(scale_by_adam(), scale_by_learning_rate(exponential_decay(0.1))));
  scheduled.set_epoch(2);
  BOOST_TEST(scheduled.learning_rate() == 0.1 * 0.95 * 0.95, tt::tolerance(1e-6));
  Optimizer hd({w}, sgd_hd(0.25, 0.01));
  BOOST_TEST(hd.learning_rate() == 0.25, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(a_chain_equals_its_links_applied_by_hand) {
  // clip to norm 3, Adam, then an exponentially decaying learning rate read from the epoch.
  const auto got = trajectory(chain(clip_by_global_norm(3.0), scale_by_adam({.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6}),
                                    scale_by_learning_rate(exponential_decay(0.1, 0.5))),
                              6);
  Vec2 w{{w_start[0], w_start[1]}};
  double m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 6; ++t) {
    double g[2] = {a[0] * w.x[0], a[1] * w.x[1]};
    const double norm = std::hypot(g[0], g[1]);
    for (double& gi : g) gi *= norm > 3 ? 3 / norm : 1;
    const double lr = 0.1 * std::pow(0.5, t - 1);  // the epoch is t - 1
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.8 * m[i] + 0.2 * g[i];
      v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
      w.x[i] -= lr * (m[i] / (1 - std::pow(0.8, t))) / (std::sqrt(v[i] / (1 - std::pow(0.99, t))) + 1e-6);
      BOOST_TEST(got[t - 1].x[i] == w.x[i], tt::tolerance(2e-5));
    }
  }
}

BOOST_AUTO_TEST_CASE(parameters_without_a_gradient_are_skipped) {
  Tensor used = Tensor::ones({2}, true), unused = Tensor::ones({3}, true);
  Optimizer opt({used, unused}, adam({.lr = 0.1}));
  {
    Tape tape;
    tape.backward(sum(used * used));
  }
  opt.step();
  BOOST_TEST(used.value()(0) == 0.9f, tt::tolerance(1e-6f));
  BOOST_TEST(unused.value()(0) == 1.0f);
  for (const auto& [name, t] : opt.state())
    if (name == "0.scale_by_adam.mu.1") BOOST_TEST(t.value()(0) == 0.0f);
}

BOOST_AUTO_TEST_CASE(state_round_trips_and_names_bad_entries) {
  Tensor w(array<float>{1.0f, -2.0f}, true);
  Optimizer opt({w}, chain(clip_by_global_norm(5.0), scale_by_adam(), scale(-0.05)));
  auto run = [&](int steps) {
    for (int i = 0; i < steps; ++i) {
      Tape tape;
      tape.backward(quadratic_loss(w));
      opt.step();
      opt.zero_grad();
    }
  };
  run(3);
  const NamedTensors saved = opt.state();
  const array<float> w_saved = w.value();
  bool has_mu = false;
  for (const auto& [name, t] : saved) has_mu = has_mu || name == "1.scale_by_adam.mu.0";
  BOOST_TEST(has_mu);
  BOOST_TEST(saved.front().first == "step");
  BOOST_TEST(saved.front().second.item() == 3.0f);
  run(2);
  const array<float> w_after = w.value();

  std::copy(w_saved.begin(), w_saved.end(), w.mutable_value().begin());
  opt.load_state(saved);
  BOOST_TEST(opt.steps() == 3);
  run(2);
  BOOST_TEST(w.value()(0) == w_after(0));
  BOOST_TEST(w.value()(1) == w_after(1));

  NamedTensors missing(saved.begin(), saved.end() - 1);
  try {
    opt.load_state(missing);
    BOOST_FAIL("load_state accepted a state with a missing entry");
  } catch (const value_error& e) {
    BOOST_TEST(std::string(e.what()).find("missing entry '1.scale_by_adam.nu.0'") != std::string::npos, e.what());
  }
  NamedTensors wrong_shape = saved;
  wrong_shape[1].second = Tensor::zeros({3});
  BOOST_CHECK_THROW(opt.load_state(wrong_shape), value_error);
  NamedTensors extra = saved;
  extra.emplace_back("7.scale_by_adam.mu.0", Tensor::zeros({2}));
  BOOST_CHECK_THROW(opt.load_state(extra), value_error);
}

BOOST_AUTO_TEST_CASE(bad_hyperparameters_throw_naming_the_transformation) {
  try {
    scale_by_adam({.beta1 = 1.5});
    BOOST_FAIL("beta1 = 1.5 was accepted");
  } catch (const value_error& e) {
    BOOST_TEST(std::string(e.what()) == "scale_by_adam: beta1 = 1.5 is outside [0, 1)");
  }
  BOOST_CHECK_THROW(clip_by_global_norm(0.0), value_error);
  BOOST_CHECK_THROW(scale_by_rmsprop(0.9, -1.0), value_error);
  BOOST_CHECK_THROW(Hyper(Tensor::zeros({2})), shape_error);
  BOOST_CHECK_THROW(Optimizer({Tensor::zeros({2})}, sgd(0.1)), value_error);
}

BOOST_AUTO_TEST_CASE(steps_allocate_nothing_once_the_state_exists) {
  Generator gen(3);
  std::vector<Tensor> params = {normal<float>({64, 32}, 0, 1, gen, true), normal<float>({32}, 0, 1, gen, true)};
  {
    Tape tape;  // gradients that stay in place for every step below
    tape.backward(sum(params[0] * params[0]) + sum(params[1] * params[1]));
  }
  const auto chains = [](int k) {
    if (k == 0) return adamw({.lr = 1e-3});
    if (k == 1) return chain(clip_by_global_norm(1.0), momentum({.lr = 0.1}));
    return rmsprop({});
  };
  const long baseline = allocations.load();
  BOOST_TEST(Tensor::zeros({4}).size() == 4u);
  BOOST_TEST(allocations.load() > baseline, "the allocation counter counts");
  for (int k = 0; k < 3; ++k) {
    Optimizer opt(params, chains(k));
    opt.step();  // creates the update buffers
    const long before = allocations.load();
    for (int i = 0; i < 5; ++i) opt.step();
    BOOST_TEST(allocations.load() - before == 0, "chain " << k);
  }
}

BOOST_AUTO_TEST_CASE(the_differentiable_step_matches_the_in_place_step) {
  Tensor w_fast(array<float>{1.0f, -2.0f}, true), w_tape(array<float>{1.0f, -2.0f}, true);
  Optimizer fast({w_fast}, chain(clip_by_global_norm(3.0), adamw({.lr = 0.1})));
  Optimizer taped({w_tape}, chain(clip_by_global_norm(3.0), adamw({.lr = 0.1})));
  for (int i = 0; i < 4; ++i) {
    Tape tape;
    tape.backward(quadratic_loss(w_fast));
    tape.backward(quadratic_loss(w_tape));
    fast.step();
    const Tensor updated = taped.differentiable_step()[0];
    BOOST_TEST(w_tape.value()(0) != updated.value()(0));  // the parameter itself is left as it was
    std::copy(updated.value().begin(), updated.value().end(), w_tape.mutable_value().begin());
    fast.zero_grad();
    taped.zero_grad();
    for (int j = 0; j < 2; ++j) BOOST_TEST(w_tape.value()(j) == w_fast.value()(j), tt::tolerance(1e-6f));
  }
}

// Large parameters run through the chain in blocks, on several threads: a parameter spanning many
// blocks (and a partial last one), with a link that needs every update at once in mid-chain, matches
// the textbook recurrence computed here in double, with 1 thread and with 2 bit for bit.
BOOST_AUTO_TEST_CASE(large_parameters_step_block_by_block_like_the_textbook) {
  const std::size_t n = 300'001;
  array<float> curvature = array<float>::from_shape({n}), start = array<float>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) {
    curvature(i) = float(1 + i % 7);
    start(i) = float(std::sin(double(i)));
  }
  const double b1 = 0.9, b2 = 0.99, eps = 1e-8, max_norm = 100.0, lr = 0.01;
  const int threads_before = num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor w(start, true);
    const Tensor c(curvature);
    Optimizer opt({w}, chain(scale_by_adam({.beta1 = b1, .beta2 = b2, .eps = eps}), clip_by_global_norm(max_norm),
                             scale_by_learning_rate(lr)));
    for (int t = 0; t < 3; ++t) {
      Tape tape;
      tape.backward(0.5f * sum(c * w * w));
      opt.step();
      opt.zero_grad();
    }
    set_num_threads(threads_before);
    return array<float>(w.value());
  };
  const array<float> serial = run(1), parallel = run(2);
  BOOST_TEST((serial == parallel), "1 and 2 threads agree bit for bit");

  std::vector<double> w(start.begin(), start.end()), m(n, 0.0), v(n, 0.0), d(n);
  for (int t = 1; t <= 3; ++t) {
    double squares = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double g = double(float(w[i])) * curvature(i);
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      d[i] = (m[i] / (1 - std::pow(b1, t))) / (std::sqrt(v[i] / (1 - std::pow(b2, t))) + eps);
      squares += d[i] * d[i];
    }
    const double clip = std::sqrt(squares) > max_norm ? max_norm / std::sqrt(squares) : 1.0;
    BOOST_TEST(clip < 1.0, "the clip acts, so the mid-chain path is exercised");
    for (std::size_t i = 0; i < n; ++i) w[i] -= lr * clip * d[i];
  }
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(serial(i) - w[i]) / (1e-3 + std::abs(w[i])));
  BOOST_TEST(worst < 1e-4, "worst relative difference " << worst);
}

BOOST_AUTO_TEST_CASE(the_loss_after_a_step_is_differentiable_in_the_learning_rate) {
  // w1 = w0 - lr g0, so d f(w1)/d lr = -grad f(w1) . g0.
  Tensor lr = Tensor::scalar(0.1f, true);
  Tensor w(array<float>{1.0f, -2.0f}, true);
  Optimizer opt({w}, sgd(lr));
  Tape tape;
  tape.backward(quadratic_loss(w));
  const Tensor w1 = opt.differentiable_step()[0];
  tape.backward(quadratic_loss(w1));
  const double g0[2] = {1.0, -8.0};
  const double w1_hand[2] = {1 - 0.1 * g0[0], -2 - 0.1 * g0[1]};
  const double expected = -(a[0] * w1_hand[0] * g0[0] + a[1] * w1_hand[1] * g0[1]);
  BOOST_TEST(lr.grad()() == expected, tt::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(sgd_hd_adapts_the_learning_rate_by_its_hypergradient) {
  // Baydin et al.: lr_t = lr_{t-1} + beta g_t . g_{t-1}. The first step has no previous gradient.
  Tensor w(array<float>{1.0f, -2.0f}, true);
  Optimizer opt({w}, sgd_hd(0.01, 0.001));
  double lr = 0.01, w_hand[2] = {1, -2}, g_previous[2] = {0, 0};
  for (int t = 0; t < 5; ++t) {
    Tape tape;
    tape.backward(quadratic_loss(w));
    opt.step();
    opt.zero_grad();
    const double g[2] = {a[0] * w_hand[0], a[1] * w_hand[1]};
    lr += 0.001 * (g[0] * g_previous[0] + g[1] * g_previous[1]);
    for (int i = 0; i < 2; ++i) {
      w_hand[i] -= lr * g[i];
      g_previous[i] = g[i];
    }
    BOOST_TEST(opt.learning_rate() == lr, tt::tolerance(1e-5));
    for (int i = 0; i < 2; ++i) BOOST_TEST(w.value()(i) == w_hand[i], tt::tolerance(1e-5));
  }
}

BOOST_AUTO_TEST_CASE(sgd_hd_beats_sgd_fivefold_from_a_learning_rate_100x_too_small) {
  // Least squares (convex); a good learning rate is about 0.2 (plain SGD with it needs 10 steps).
  Generator gen(42);
  const Tensor x = normal<float>({64, 8}, 0, 1, gen), w_true = normal<float>({8, 1}, 0, 1, gen);
  const Tensor y = matmul(x, w_true);
  const auto loss = [&](const Tensor& w) { return mean(pow(matmul(x, w) - y, 2.0f)); };
  const double target = 1e-3 * loss(Tensor::zeros({8, 1})).item();
  const auto steps_to_target = [&](Chain c) {
    Tensor w = Tensor::zeros({8, 1}, true);
    Optimizer opt({w}, std::move(c));
    long step = 0;
    for (Tape tape; step < 5000; ++step, tape.clear()) {
      Tensor l = loss(w);
      if (l.item() <= target) break;
      tape.backward(l);
      opt.step();
      opt.zero_grad();
    }
    return step;
  };
  const long hd = steps_to_target(sgd_hd(0.002, 1e-3)), plain = steps_to_target(sgd(0.002));
  BOOST_TEST_MESSAGE("steps to 1e-3 of the initial loss: sgd_hd " << hd << ", sgd " << plain);
  BOOST_TEST(hd < 5000);
  BOOST_TEST(plain >= 5 * hd);
}

BOOST_AUTO_TEST_CASE(adam_hd_learns_its_learning_rate) {
  // Adam's direction has magnitude ~1, so from lr 1e-3 the loss falls slowly; adam_hd raises lr.
  Tensor w(array<float>{1.0f, -2.0f}, true);
  Optimizer opt({w}, adam_hd({.lr = 1e-3}, 1e-3));
  for (int t = 0; t < 50; ++t) {
    Tape tape;
    tape.backward(quadratic_loss(w));
    opt.step();
    opt.zero_grad();
  }
  BOOST_TEST(opt.learning_rate() > 1e-2);
  BOOST_TEST(quadratic_loss(w).item() < 0.5 * (a[0] * 1 + a[1] * 4) * 0.5);
}

BOOST_AUTO_TEST_CASE(sgd_hd_replays_only_the_parameters_that_moved) {
  // Step 1 moves p and q by lr0 * 1; step 2 moves only p (q has no gradient); step 3's hypergradient
  // must then come from p alone: lr3 = lr2 + beta * g_p3 * g_p2.
  Tensor p = Tensor::ones({1}, true), q = Tensor::ones({1}, true);
  Optimizer opt({p, q}, sgd_hd(0.1, 0.1));
  const auto step = [&](bool with_q) {
    Tape tape;
    tape.backward(with_q ? 0.5f * sum(p * p) + 0.5f * sum(q * q) : 0.5f * sum(p * p));
    opt.step();
    opt.zero_grad();
  };
  step(true);   // lr 0.1, p = q = 0.9
  step(false);  // lr = 0.1 + 0.1 * 0.9 * 1 = 0.19, p = 0.9 - 0.19 * 0.9 = 0.729
  BOOST_TEST(opt.learning_rate() == 0.19, tt::tolerance(1e-5));
  step(true);   // lr = 0.19 + 0.1 * 0.729 * 0.9, nothing from q
  BOOST_TEST(opt.learning_rate() == 0.19 + 0.1 * 0.729 * 0.9, tt::tolerance(1e-5));
}
