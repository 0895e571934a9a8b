// Zero heap allocations per training step once shapes repeat (issue 6): the tape hands its nodes and
// buffers to the next step, backward closures live inside the nodes, shapes are inline, and the
// optimizer's state exists after the first step. Counted by benchmarks/allocation_counter.cpp
// (operator new, and malloc with xtensor's aligned buffers, except under AddressSanitizer).
#define BOOST_TEST_MODULE allocations
#include <boost/test/unit_test.hpp>
#include <random>
#include <vector>
#include <xgrad/xgrad.hpp>

#include "allocation_counter.hpp"

using namespace xg;

namespace {
// Allocations over five steps, after three that make the buffers, nodes and state.
template <class Step>
bench::AllocationCounts allocations_over_steps(Step&& step) {
  for (int i = 0; i < 3; ++i) step();
  const bench::AllocationCounts before = bench::allocation_counts();
  for (int i = 0; i < 5; ++i) step();
  const bench::AllocationCounts after = bench::allocation_counts();
  return {after.news - before.news, after.mallocs - before.mallocs};
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_counter_counts) {
  const bench::AllocationCounts counts = allocations_over_steps([] { (void)Tensor::zeros({3, 4}); });
  BOOST_TEST(counts.news > 0, "a node per tensor");
#ifndef __SANITIZE_ADDRESS__
  BOOST_TEST(counts.mallocs > counts.news, "and an aligned buffer per tensor");
#endif
}

BOOST_AUTO_TEST_CASE(a_scalar_step_allocates_nothing) {
  Tensor w = Tensor::scalar(0.0f, true);
  Tape tape;
  const bench::AllocationCounts counts = allocations_over_steps([&] {
    tape.clear();
    Tensor cost = w * w - 10.0f * w + 25.0f;
    tape.backward(cost);
    w.mutable_value()() -= 0.01f * w.grad()();
    w.zero_grad();
  });
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

namespace {
// Five training steps of `model` on one batch of random inputs, after three, on one thread
// (OpenBLAS's threaded GEMM mallocs a job buffer per call, xgrad or not: the benchmark's GEMM-only
// rows show it); the steps must train.
bench::AllocationCounts training_allocations(nn::Sequential& model, std::size_t rows, std::size_t inputs) {
  const int threads_before = num_threads();
  set_num_threads(1);
  optim::Optimizer optimizer(model.parameters(), optim::adam({.lr = 1e-3}));
  array<float> x = array<float>::from_shape({rows, inputs});
  std::mt19937 gen(2);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(gen);
  const Tensor batch(std::move(x));
  std::vector<int> labels(rows);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int(i % 10);
  Tape tape;
  std::size_t step = 0;
  double first_loss = 0, loss = 0;
  const bench::AllocationCounts counts = allocations_over_steps([&] {
    loss = train::train_step(model, optimizer, tape, batch, labels, ++step).loss;
    if (step == 1) first_loss = loss;
  });
  BOOST_TEST(loss < first_loss, "the steps train: loss " << first_loss << " -> " << loss);
  set_num_threads(threads_before);
  return counts;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_training_step_of_an_mlp_allocates_nothing) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 10)};
  const bench::AllocationCounts counts = training_allocations(model, 32, 784);
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

// 256 x 1024 activations: batch norm and ReLU run in parallel parts.
BOOST_AUTO_TEST_CASE(a_training_step_with_batch_norm_allocates_nothing) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(64, 1024, nn::no_bias), nn::BatchNorm(1024), nn::ReLU(), nn::Linear(1024, 10)};
  const bench::AllocationCounts counts = training_allocations(model, 256, 64);
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

BOOST_AUTO_TEST_CASE(a_training_step_with_layer_norm_gelu_and_silu_allocates_nothing) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(64, 256), nn::LayerNorm(256), nn::GELU(), nn::Linear(256, 64), nn::SiLU(),
                       nn::Linear(64, 10)};
  const bench::AllocationCounts counts = training_allocations(model, 32, 64);
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

BOOST_AUTO_TEST_CASE(an_embedding_lookup_and_cross_entropy_with_options_allocate_nothing_per_step) {
  nn::manual_seed(1);
  nn::Embedding table(50, 10);
  Tensor ids = Tensor::zeros({8, 3});
  for (std::size_t i = 0; i < ids.size(); ++i) ids.value().data()[i] = float(i * 7 % 50);
  std::vector<int> labels(24);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = i == 5 ? -100 : int(i % 10);  // one ignored row
  Tensor weight = table.weight();
  const axes_type rows_by_classes{24, 10};
  Tape tape;
  const bench::AllocationCounts counts = allocations_over_steps([&] {
    tape.clear();
    const Tensor logits = reshape(table(ids), rows_by_classes);
    tape.backward(cross_entropy(logits, labels, {.label_smoothing = 0.1}));
    weight.zero_grad();
  });
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}
