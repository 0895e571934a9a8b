// nn modules: parameter registration, names, train/eval propagation and initialisation.
#define BOOST_TEST_MODULE nn
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <iostream>
#include <sstream>
#include <xgrad/xgrad.hpp>
#include <xtensor/xview.hpp>

using namespace xg;
namespace tt = boost::test_tools;

namespace {
double variance(const array<float>& v) {
  double mean = 0, sq = 0;
  for (float x : v) mean += x;
  mean /= double(v.size());
  for (float x : v) sq += (x - mean) * (x - mean);
  return sq / double(v.size());
}
}  // namespace

BOOST_AUTO_TEST_CASE(sequential_registers_parameters_and_buffers_with_dotted_names) {
  nn::Sequential model{nn::Linear(4, 3, nn::no_bias), nn::BatchNorm(3), nn::ReLU(), nn::Linear(3, 2)};
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  const std::vector<std::string> expected{"0.weight", "1.gamma", "1.beta", "3.weight", "3.bias"};
  BOOST_TEST(names == expected, tt::per_element());
  std::vector<std::string> buffers;
  for (auto& [name, t] : model.named_buffers()) buffers.push_back(name);
  const std::vector<std::string> expected_buffers{"1.running_mean", "1.running_var"};
  BOOST_TEST(buffers == expected_buffers, tt::per_element());
  for (auto& p : model.parameters()) BOOST_TEST(p.requires_grad());
  for (auto& [name, b] : model.named_buffers()) BOOST_TEST(!b.requires_grad());
}

BOOST_AUTO_TEST_CASE(parameters_are_shared_handles_not_copies) {
  nn::Sequential model{nn::Linear(2, 2)};
  model.parameters()[0].mutable_value().fill(7.0f);
  BOOST_TEST(model.named_parameters()[0].second.value()(0, 0) == 7.0f);
}

BOOST_AUTO_TEST_CASE(train_and_eval_propagate_to_children) {
  nn::Sequential inner{nn::Linear(2, 2), nn::Dropout(0.5)};
  nn::Sequential model{nn::Linear(2, 2), std::move(inner)};
  BOOST_TEST(model.training());
  model.eval();
  BOOST_TEST(!model[0].training());
  BOOST_TEST(!model[1].training());
  auto& nested = dynamic_cast<nn::Sequential&>(model[1]);
  BOOST_TEST(!nested[1].training());
  model.train();
  BOOST_TEST(nested[1].training());
}

BOOST_AUTO_TEST_CASE(he_initialisation_has_variance_two_over_fan_in) {
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(500, 400), nn::ReLU()};
  const auto& w = dynamic_cast<nn::Linear&>(model[0]).weight();
  BOOST_TEST(variance(w.value()) == 2.0 / 500, tt::tolerance(0.03));
}

BOOST_AUTO_TEST_CASE(xavier_initialisation_before_tanh_and_for_the_output_layer) {
  nn::Sequential model{nn::Linear(300, 200), nn::Tanh(), nn::Linear(200, 100)};
  for (std::size_t i : {0u, 2u}) {
    const auto& w = dynamic_cast<nn::Linear&>(model[i]).weight();
    const double fan_in = double(w.shape()[0]), fan_out = double(w.shape()[1]);
    BOOST_TEST(variance(w.value()) == 2.0 / (fan_in + fan_out), tt::tolerance(0.05));  // U(-a,a): a^2/3
  }
}

BOOST_AUTO_TEST_CASE(initialisation_is_reproducible_from_a_seed) {
  nn::manual_seed(42);
  nn::Linear a(10, 10);
  nn::manual_seed(42);
  nn::Linear b(10, 10);
  BOOST_TEST(a.weight().value() == b.weight().value());
  nn::Linear c(10, 10);
  BOOST_TEST(!(a.weight().value() == c.weight().value()));
}

BOOST_AUTO_TEST_CASE(zero_initialisation_is_possible_but_warns) {
  std::stringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  nn::Linear layer(3, 2, nn::Init::zeros);
  std::cerr.rdbuf(old);
  BOOST_TEST(captured.str().find("symmetry") != std::string::npos);
  for (float w : layer.weight().value()) BOOST_TEST(w == 0.0f);
}

BOOST_AUTO_TEST_CASE(linear_rejects_a_wrong_input_width_naming_the_layer) {
  nn::Linear layer(4, 2);
  try {
    layer(Tensor::ones({3, 5}));
    BOOST_FAIL("expected shape_error");
  } catch (const shape_error& e) {
    BOOST_TEST(std::string(e.what()).find("Linear(4, 2)") != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("(3, 5)") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(batch_norm_module_uses_running_statistics_in_eval_mode) {
  nn::BatchNorm bn(2, /*momentum=*/1.0);  // momentum 1: the running stats become the last batch's
  Tensor x(array<float>{{1.f, 10.f}, {3.f, 30.f}});
  bn(x);
  bn.eval();
  const Tensor y = bn(Tensor(array<float>{{2.f, 20.f}}));  // the batch mean: normalises to 0
  BOOST_TEST(y.value()(0, 0) == 0.0f, tt::tolerance(1e-5f));
  BOOST_TEST(y.value()(0, 1) == 0.0f, tt::tolerance(1e-5f));
}

BOOST_AUTO_TEST_CASE(activations_and_dropout_in_eval_mode) {
  Tensor x(array<float>{-1.f, 2.f});
  BOOST_TEST(nn::ReLU()(x).value()(0) == 0.0f);
  BOOST_TEST(nn::LeakyReLU(0.1f)(x).value()(0) == -0.1f, tt::tolerance(1e-6f));
  BOOST_TEST(nn::Sigmoid()(x).value()(1) == 1.0f / (1.0f + std::exp(-2.0f)), tt::tolerance(1e-6f));
  nn::Dropout drop(0.5);
  drop.eval();
  BOOST_TEST(drop(x).value() == x.value());
}

BOOST_AUTO_TEST_CASE(dropout_on_a_shard_draws_the_global_batchs_rows_and_skips_past_the_batch) {
  const Tensor x = Tensor::ones({6, 5});
  nn::manual_seed(3);
  nn::Dropout whole(0.5);
  nn::manual_seed(3);
  nn::Dropout shard(0.5);
  shard.set_batch_shard({.offset = 2, .global_rows = 6});
  for (int step = 0; step < 2; ++step) {  // the second step checks where the first left the stream
    const array<float> all = whole(x).value();
    const array<float> rows = shard(Tensor(array<float>(xt::view(x.value(), xt::range(2, 5), xt::all())))).value();
    BOOST_TEST(rows == xt::view(all, xt::range(2, 5), xt::all()));
  }
}

BOOST_AUTO_TEST_CASE(apply_visits_a_module_and_all_its_descendants) {
  nn::Sequential model{nn::Linear(2, 3), nn::Sequential{nn::ReLU(), nn::Dropout(0.1)}};
  std::vector<std::string> seen;
  model.apply([&](nn::Module& m) { seen.push_back(m.describe().substr(0, 4)); });
  BOOST_TEST(seen == (std::vector<std::string>{"Sequ", "Line", "Sequ", "ReLU", "Drop"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(layer_norm_module_has_pytorch_parameter_names_and_normalises_each_sample) {
  nn::LayerNorm norm(shape_type{2, 3});
  std::vector<std::string> names;
  for (auto& [name, t] : norm.named_parameters()) names.push_back(name + " " + shape_string(t.shape()));
  BOOST_TEST(names == (std::vector<std::string>{"weight (2, 3)", "bias (2, 3)"}), tt::per_element());
  BOOST_TEST(norm.describe() == "LayerNorm((2, 3), eps=1e-05)");
  Tensor x = Tensor::zeros({4, 2, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x.mutable_value().data()[i] = float(i * i % 7);
  norm.eval();  // no running statistics: eval mode changes nothing
  const Tensor y = norm(x);
  double mean = 0;
  for (std::size_t j = 0; j < 6; ++j) mean += y.value().data()[6 + j] / 6.0;
  BOOST_TEST(mean == 0.0, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(embedding_looks_up_rows_for_ids_of_any_shape_and_adds_gradients_of_repeats) {
  nn::manual_seed(3);
  nn::Embedding table(10, 4);
  BOOST_TEST(table.describe() == "Embedding(10, 4)");
  Tensor ids(array<float>{{1.0f, 7.0f, 1.0f}, {0.0f, 9.0f, 7.0f}});
  Tape tape;
  const Tensor out = table(ids);
  BOOST_TEST(out.shape_vector() == (shape_type{2, 3, 4}));
  for (std::size_t k = 0; k < 4; ++k) BOOST_TEST(out.value()(1, 2, k) == table.weight().value()(7, k));
  const std::vector<int> as_ints{7, 7, 2};
  BOOST_TEST(table(as_ints).shape_vector() == (shape_type{3, 4}));
  tape.backward(sum(out));
  BOOST_TEST(table.weight().grad()(1, 0) == 2.0f);  // id 1 twice
  BOOST_TEST(table.weight().grad()(9, 3) == 1.0f);
  BOOST_TEST(table.weight().grad()(2, 0) == 0.0f);
}

BOOST_AUTO_TEST_CASE(gelu_and_silu_modules_apply_their_ops) {
  const Tensor x(array<float>{-1.0f, 0.5f, 2.0f});
  nn::GELU gelu_erf;
  nn::GELU gelu_tanh(GeluApproximation::tanh);
  nn::SiLU swish;
  BOOST_TEST(gelu_erf(x).value() == gelu(x).value());
  BOOST_TEST(gelu_tanh(x).value() == gelu(x, GeluApproximation::tanh).value());
  BOOST_TEST(swish(x).value() == silu(x).value());
  BOOST_TEST(gelu_tanh.describe() == "GELU(approximate='tanh')");
  BOOST_TEST(nn::Sequential(nn::Linear(3, 2), nn::SiLU()).describe().find("SiLU()") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(conv2d_he_initialisation_uses_channels_times_kernel_as_fan_in) {
  nn::manual_seed(3);
  nn::Sequential model{nn::Conv2d(8, 64, 5, {.bias = false}), nn::ReLU()};
  const Tensor w = model.named_parameters()[0].second;  // a copy: named_parameters() is a temporary
  BOOST_TEST(w.shape_vector() == (shape_type{64, 8, 5, 5}), tt::per_element());
  BOOST_TEST(variance(w.value()) == 2.0 / (8 * 5 * 5), tt::tolerance(0.05));
}

BOOST_AUTO_TEST_CASE(describe_prints_each_layers_output_shape_and_parameter_count) {
  // The course's example: 10 filters of 5x5x3 plus a bias each: 760 parameters.
  nn::Sequential model{nn::Conv2d(3, 10, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(), nn::Linear(10 * 14 * 14, 4)};
  const std::string text = model.describe({1, 3, 32, 32});
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("-> (1, 10, 28, 28)") != std::string::npos);
  BOOST_TEST(text.find(" 760 parameters") != std::string::npos);
  BOOST_TEST(text.find("-> (1, 10, 14, 14)") != std::string::npos);
  BOOST_TEST(text.find("-> (1, 1960)") != std::string::npos);
  BOOST_TEST(text.find("total " + std::to_string(760 + 1960 * 4 + 4) + " parameters") != std::string::npos);
  BOOST_TEST(model.training(), "describe restores the mode");
}

BOOST_AUTO_TEST_CASE(batch_norm_after_a_convolution_normalises_each_channel_and_names_its_state) {
  nn::Sequential model{nn::Conv2d(1, 2, 3, {.padding = 1, .bias = false}), nn::BatchNorm(2)};
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_buffers()) names.push_back(name);
  BOOST_TEST(names == (std::vector<std::string>{"1.running_mean", "1.running_var"}), tt::per_element());
  array<float> x = array<float>::from_shape({4, 1, 5, 5});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 7) - 2.0f;
  const Tensor y = model(Tensor(x));
  for (std::size_t c = 0; c < 2; ++c) {  // each channel over (N, H, W): mean 0
    double mean = 0;
    for (std::size_t n = 0; n < 4; ++n)
      for (std::size_t i = 0; i < 25; ++i) mean += y.value().data()[(n * 2 + c) * 25 + i];
    BOOST_TEST(mean / 100 == 0.0, tt::tolerance(1e-5));
  }
  BOOST_TEST(model.named_buffers()[0].second.value()(0) != 0.0f, "train mode updated the running mean");
}

// PyTorch's rule: a module used twice (or a tensor two modules share) is one set of parameters, so
// the optimizer updates it once a step with the gradient summed over both uses.
BOOST_AUTO_TEST_CASE(a_module_used_twice_lists_its_parameters_once_and_is_updated_once) {
  nn::manual_seed(3);
  auto shared = std::make_shared<nn::Linear>(4, 4);
  nn::Sequential model(std::vector<std::shared_ptr<nn::Module>>{shared, std::make_shared<nn::ReLU>(), shared});
  const auto named = model.named_parameters();
  BOOST_TEST_REQUIRE(named.size() == 2u);
  BOOST_TEST(named[0].first == "0.weight");
  BOOST_TEST(named[1].first == "0.bias");
  const array<float> before = shared->weight().value();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  Tape tape;
  Generator gen(1);
  tape.backward(sum(model(normal<float>({8, 4}, 0.0f, 1.0f, gen))));
  const array<float> grad = shared->weight().grad();
  opt.step();
  BOOST_TEST(xt::allclose(shared->weight().value(), before - 0.1f * grad));
}
