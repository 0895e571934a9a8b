// Zero heap allocations per training step once shapes repeat (issue 6): the tape hands its nodes and
// buffers to the next step, backward closures live inside the nodes, shapes are inline, and the
// optimizer's state exists after the first step. Counted by benchmarks/allocation_counter.cpp
// (operator new, and malloc with xtensor's aligned buffers, except under AddressSanitizer).
#define BOOST_TEST_MODULE allocations
#include <boost/test/unit_test.hpp>
#include <array>
#include <random>
#include <vector>
#include <xgrad/detail/conv.hpp>
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
  return {after.news - before.news, after.mallocs - before.mallocs, after.malloc_bytes - before.malloc_bytes};
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

// The pool hands each op of a repeated step the node and the buffers the same op had last step, so
// nothing moves between the nodes and the pool's table (tape_pool.hpp). Two ops of one size are
// where a first-in, last-out pool would swap their buffers.
BOOST_AUTO_TEST_CASE(each_op_of_a_repeated_step_gets_back_its_own_node_and_buffers) {
  Tensor x = Tensor::full({3}, 2.0f, true);
  Tape tape;
  // Where the step's first op keeps its node, output and gradient, and the second its output.
  const auto step = [&] {
    tape.clear();
    Tensor doubled = x * 2.0f, squared = doubled * doubled;
    tape.backward(squared, xt::xarray<float>{1.0f, 1.0f, 1.0f});
    return std::array<const void*, 4>{doubled.node().get(), doubled.value().data(), doubled.grad().data(),
                                      squared.value().data()};
  };
  (void)step();  // makes the nodes and buffers
  const auto first = step(), second = step();
  BOOST_TEST(first[0] == second[0], "the first op's node");
  BOOST_TEST(first[1] == second[1], "its output buffer");
  BOOST_TEST(first[2] == second[2], "its gradient buffer");
  BOOST_TEST(first[3] == second[3], "the second op's output buffer");
}

// A result that is not recorded (no gradients wanted) takes a node from the pool too; the gradient
// buffer that node kept goes back to the pool instead of dying with the constant.
BOOST_AUTO_TEST_CASE(a_constant_made_from_a_pooled_node_leaves_its_gradient_buffer_to_the_pool) {
  Tensor x = Tensor::full({3}, 2.0f, true);
  Tape tape;
  Tensor doubled = x * 2.0f;
  tape.backward(doubled, xt::xarray<float>{1.0f, 1.0f, 1.0f});
  const float* kept_grad = doubled.grad().data();
  doubled = Tensor();
  tape.clear();  // doubled's node goes to the pool with its gradient buffer
  NoGrad no_grad;
  Tensor constant = x * 2.0f;
  BOOST_TEST(constant.node()->grad.size() == 0u);
  BOOST_TEST(detail::new_buffer<float>({3}).data() == kept_grad, "the next buffer of that size is the kept one");
}

namespace {
// Five training steps of `model` on one batch of random inputs, after three, on one thread
// (OpenBLAS's threaded GEMM mallocs a job buffer per call, xgrad or not: the benchmark's GEMM-only
// rows show it); the steps must train.
bench::AllocationCounts training_allocations(nn::Sequential& model, const shape_type& input) {
  const int threads_before = num_threads();
  set_num_threads(1);
  optim::Optimizer optimizer(model.parameters(), optim::adam({.lr = 1e-3}));
  const std::size_t rows = input[0];
  array<float> x = array<float>::from_shape(input);
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
  const bench::AllocationCounts counts = training_allocations(model, {32, 784});
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

// 256 x 1024 activations: batch norm and ReLU run in parallel parts.
BOOST_AUTO_TEST_CASE(a_training_step_with_batch_norm_allocates_nothing) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(64, 1024, nn::no_bias), nn::BatchNorm(1024), nn::ReLU(), nn::Linear(1024, 10)};
  const bench::AllocationCounts counts = training_allocations(model, {256, 64});
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

BOOST_AUTO_TEST_CASE(a_training_step_with_layer_norm_gelu_and_silu_allocates_nothing) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(64, 256), nn::LayerNorm(256), nn::GELU(), nn::Linear(256, 64), nn::SiLU(),
                       nn::Linear(64, 10)};
  const bench::AllocationCounts counts = training_allocations(model, {32, 64});
  BOOST_TEST(counts.news == 0);
  BOOST_TEST(counts.mallocs == 0);
}

BOOST_AUTO_TEST_CASE(an_embedding_lookup_and_cross_entropy_with_options_allocate_nothing_per_step) {
  nn::manual_seed(1);
  nn::Embedding table(50, 10);
  Tensor ids = Tensor::zeros({8, 3});
  for (std::size_t i = 0; i < ids.size(); ++i) ids.mutable_value().data()[i] = float(i * 7 % 50);
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

// conv2d and pooling on oneDNN: its primitives, memories and scratchpads are made in the first step
// and reused; the max-pool workspace and gradient scratch come from the tape. What remains is
// oneDNN's own bookkeeping inside each primitive call (dnnl_primitive_execute builds a
// std::unordered_map of its arguments: a few small blocks per call), which no caller can avoid:
// no buffer, no scratchpad, nothing that grows with the tensors.
BOOST_AUTO_TEST_CASE(a_training_step_of_a_cnn_allocates_no_buffers_and_creates_no_primitives) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Conv2d(1, 8, 3, {.padding = 1, .bias = false}), nn::BatchNorm(8), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(8, 8, 3, {.padding = 1}), nn::ReLU(), nn::AvgPool2d(2), nn::Flatten(),
                       nn::Linear(72, 10)};
  const bench::AllocationCounts counts = training_allocations(model, {16, 1, 12, 12});
  // 8 computations a step (the first convolution's input needs no gradient) and their reorders, 5 steps.
  const long calls = 5 * 8;
  BOOST_TEST_MESSAGE("5 CNN steps: " << counts.news << " news, " << counts.mallocs << " mallocs, "
                                     << counts.malloc_bytes << " bytes");
  BOOST_TEST(counts.news <= 16 * calls);
#ifndef __SANITIZE_ADDRESS__
  BOOST_TEST(counts.malloc_bytes <= 1024 * calls, "the smallest buffer of this model holds 16 * 8 * 3 * 3 floats (4,608 bytes)");
#endif
  // Another eight steps of the same shapes create none.
  const std::size_t primitives = detail::onednn::primitives_created();
  training_allocations(model, {16, 1, 12, 12});
  BOOST_TEST(primitives > 0u);
  BOOST_TEST(detail::onednn::primitives_created() == primitives);
}
