// Independent training trials (as the tuner runs them) on different threads: each has its own
// model, optimizer and tape and reads one shared dataset. Run concurrently, every trial must end
// with exactly the parameters it ends with when the trials run one after another.
#define BOOST_TEST_MODULE threads
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <xgrad/train/train.hpp>
#include <xgrad/xgrad.hpp>

#include <cblas.h>
#include <array>

using namespace xg;

namespace {

// 512 random examples of 64 features in 10 classes, shared read-only by every trial.
const data::Split& shared_split() {
  static const data::Split split = [] {
    Generator gen(2024);
    data::Split s{normal<float>({512, 64}, 0.0f, 1.0f, gen), std::vector<int>(512), {}};
    for (int& label : s.labels) label = int(gen() % 10);
    return s;
  }();
  return split;
}

using Parameters = std::vector<array<float>>;

// Two epochs of a small MLP with batch norm and dropout, everything seeded from `seed`.
Parameters run_trial(std::uint64_t seed) {
  nn::manual_seed(seed);  // this thread's generator
  nn::Sequential model{nn::Linear(64, 32, nn::no_bias), nn::BatchNorm(32), nn::ReLU(), nn::Dropout(0.1),
                       nn::Linear(32, 10)};
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-2}));
  Tape tape;
  std::size_t step = 0;
  for (int epoch = 0; epoch < 2; ++epoch)
    for (auto [x, y] : shared_split().batches(32, data::Shuffle{seed * 100 + std::uint64_t(epoch)}))
      train::train_step(model, opt, tape, x, y, ++step);
  Parameters out;
  for (const Tensor& p : model.parameters()) out.push_back(p.value());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(trials_on_parallel_threads_match_the_same_trials_run_serially) {
  constexpr std::size_t trials = 8;
  std::vector<Parameters> serial(trials), parallel(trials);
  for (std::size_t t = 0; t < trials; ++t) serial[t] = run_trial(t);
  {
    std::vector<std::jthread> workers;
    for (std::size_t t = 0; t < trials; ++t) workers.emplace_back([&, t] { parallel[t] = run_trial(t); });
  }
  for (std::size_t t = 0; t < trials; ++t) {
    BOOST_TEST_CONTEXT("trial " << t) {
      BOOST_TEST_REQUIRE(parallel[t].size() == serial[t].size());
      for (std::size_t i = 0; i < serial[t].size(); ++i) BOOST_TEST((parallel[t][i] == serial[t][i]), "parameter " << i);
    }
  }
  BOOST_TEST((serial[0] != serial[1]));  // the seeds matter: the comparison above is not vacuous
}

namespace {
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
}  // namespace

// oneDNN's OpenMP threads must not spin once a convolution is done: the policy is set before libgomp
// starts (src/openmp_wait_policy.cpp). A spinning thread would burn its core through the sleep
// below (libgomp's default spins ~300,000 rounds, the active policy for ever).
BOOST_AUTO_TEST_CASE(onednn_threads_wait_passively_after_a_convolution) {
  BOOST_TEST(std::string(std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "") == "passive");
  set_num_threads(2);
  const Tensor x = Tensor::ones({16, 8, 32, 32}), w = Tensor::ones({16, 8, 3, 3});
  for (int i = 0; i < 3; ++i) (void)conv2d(x, w, {.padding = 1});
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double spent = process_cpu_seconds() - before;
  // A spinning thread burns about 0.3 s here; 0.1 s leaves room for a loaded machine.
  BOOST_TEST(spent < 0.1, "CPU time while every thread should sleep: " << spent << " s");
}

// Products share the cores through TBB: OpenBLAS's own pool stays at one thread whatever the
// setting, so that it never spins beside TBB's (ops/linalg.cpp).
BOOST_AUTO_TEST_CASE(blas_stays_single_threaded_whatever_the_thread_setting) {
  set_num_threads(2);
  BOOST_TEST(openblas_get_num_threads() == 1);
}

// A product cut into blocks, one per thread, computes each element as the whole product does: the
// same values with 1 and 2 threads, for each side cut (rows or columns, either operand transposed
// as backward passes them), blocks of uneven size included.
BOOST_AUTO_TEST_CASE(products_cut_between_threads_equal_the_product_on_one_thread) {
  Generator gen(5);
  for (const auto& [m, k, n] : {std::array<std::size_t, 3>{37, 300, 1000}, {1000, 300, 37}, {301, 257, 299}}) {
    Tensor a = normal<float>({m, k}, 0.0f, 1.0f, gen, true), b = normal<float>({k, n}, 0.0f, 1.0f, gen, true);
    std::vector<array<float>> results;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      Tape tape;
      a.zero_grad();
      b.zero_grad();
      const Tensor c = matmul(a, b);
      tape.backward(sum(c * c));  // dA = dC B^T and dB = A^T dC: both transposed forms
      results.insert(results.end(), {c.value(), a.grad(), b.grad()});
    }
    for (std::size_t i = 0; i < 3; ++i)
      BOOST_TEST(xt::allclose(results[i], results[i + 3], 1e-6, 1e-5), "m, k, n = " << m << ", " << k << ", " << n);
  }
}
