// Every public entry point rejects bad input with a typed exception whose message names the op (or
// file) and the values involved: one row per bad input, each its own test case. A second table
// checks that empty tensors, which are valid, give empty or zero results rather than crashes.
#define BOOST_TEST_MODULE bad_input
// GCC 12 warns of an overlapping memcpy inside Boost's data-test-case naming (a false positive,
// GCC bug 105651, in std::string code it inlines).
#pragma GCC diagnostic ignored "-Wrestrict"
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <functional>
#include <limits>
#include <ostream>
#include <typeinfo>
#include <xgrad/data/idx.hpp>
#include <xgrad/io/safetensors.hpp>
#include <xgrad/train/train.hpp>
#include <xgrad/xgrad.hpp>

using namespace xg;
namespace fs = std::filesystem;
namespace bdata = boost::unit_test::data;

namespace {

struct BadInput {
  const char* name;
  std::function<void()> call;
  const std::type_info& error;        // the exact exception type expected
  std::vector<std::string> message;  // parts the message must contain
};

std::ostream& operator<<(std::ostream& out, const BadInput& row) { return out << row.name; }

Tensor zeros(const shape_type& shape) { return Tensor::zeros(shape, true); }

const std::vector<int> labels_3{0, 1, 2};
const fs::path missing_file = fs::temp_directory_path() / "xgrad-no-such-file.bin";

// The pieces of a batch_norm call, to be spoiled one at a time.
struct BatchNormInputs {
  Tensor x = zeros({4, 3}), gamma = Tensor::ones({3}, true), beta = zeros({3});
  Tensor running_mean = Tensor::zeros({3}), running_var = Tensor::ones({3});
  BatchNormOptions options;
};

// The fused kernel, or with composed = true its composed form (which must reject the same input).
template <class Change>
std::function<void()> batch_norm_with(Change change, bool composed = false) {
  return [change, composed] {
    BatchNormInputs in;
    change(in);
    if (composed) composed::batch_norm(in.x, in.gamma, in.beta, in.running_mean, in.running_var, in.options);
    else batch_norm(in.x, in.gamma, in.beta, in.running_mean, in.running_var, in.options);
  };
}

// A checkpoint saved from a Linear(4, 3) model, loaded into another model.
std::function<void()> load_linear_checkpoint_into(std::function<std::shared_ptr<nn::Module>()> make_target) {
  return [make_target] {
    const fs::path file = fs::temp_directory_path() / ("xgrad-bad-input-" + std::to_string(::getpid()) + ".safetensors");
    nn::Sequential source{nn::Linear(4, 3)};
    optim::Optimizer opt(source.parameters(), optim::sgd(0.1));
    train::save_checkpoint(file, source, opt, 1);
    struct Remove {
      fs::path f;
      ~Remove() { fs::remove(f); }
    } remove{file};
    auto target = make_target();
    train::load_checkpoint(file, *target);
  };
}

// A checkpoint of Linear(4, 3, no bias) -> BatchNorm(3) under Adam, spoiled (its tensors and metadata
// changed, then written with a valid checksum, as a buggy or hostile writer would), loaded back.
using CheckpointParts = std::pair<std::vector<std::pair<std::string, Tensor>>, io::Metadata>;
std::function<void()> load_spoiled_checkpoint(std::function<void(CheckpointParts&)> spoil) {
  return [spoil] {
    const fs::path file = fs::temp_directory_path() / ("xgrad-bad-input-" + std::to_string(::getpid()) + ".safetensors");
    struct Remove {
      fs::path f;
      ~Remove() { fs::remove(f); }
    } remove{file};
    nn::Sequential model{nn::Linear(4, 3, nn::no_bias), nn::BatchNorm(3)};
    optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
    train::save_checkpoint(file, model, opt, 1);
    const io::Safetensors saved = io::load_safetensors(file);
    CheckpointParts parts{{}, saved.metadata};
    for (const auto& [name, tensor] : saved.tensors) parts.first.emplace_back(name, std::get<Tensor>(tensor));
    spoil(parts);
    io::save_safetensors(file, parts.first, parts.second);
    train::load_checkpoint(file, model, &opt);
  };
}

std::function<void()> load_checkpoint_with_metadata(std::string key, std::string value) {
  return load_spoiled_checkpoint([key, value](CheckpointParts& parts) { parts.second[key] = value; });
}

// The first element of the tensor whose name contains `part` set to `value`.
std::function<void()> load_checkpoint_with_element(std::string part, float value) {
  return load_spoiled_checkpoint([part, value](CheckpointParts& parts) {
    for (auto& [name, tensor] : parts.first)
      if (name.find(part) != std::string::npos) {
        tensor.mutable_value().data()[0] = value;
        return;
      }
    throw std::logic_error("no checkpoint tensor named like " + part);
  });
}

const std::vector<BadInput> bad_inputs = {
    // broadcasting arithmetic
    {"add of shapes that do not broadcast", [] { add(zeros({2, 3}), zeros({4})); }, typeid(shape_error), {"add", "(2, 3)", "(4,)"}},
    {"sub of shapes that do not broadcast", [] { sub(zeros({2, 3}), zeros({3, 2})); }, typeid(shape_error), {"sub", "(2, 3)", "(3, 2)"}},
    {"mul of shapes that do not broadcast", [] { mul(zeros({5}), zeros({4})); }, typeid(shape_error), {"mul", "(5,)", "(4,)"}},
    {"div of shapes that do not broadcast", [] { div(zeros({2, 2, 2}), zeros({3, 1})); }, typeid(shape_error), {"div", "(2, 2, 2)", "(3, 1)"}},
    {"where with a mask that does not broadcast", [] { where(zeros({5}), zeros({2, 3}), zeros({2, 3})); }, typeid(shape_error), {"where", "(5,)", "(2, 3)"}},
    {"where with branches that do not broadcast", [] { where(zeros({2, 3}), zeros({2, 3}), zeros({2})); }, typeid(shape_error), {"where", "(2, 3)", "(2,)"}},
    // element-wise ops
    {"maximum of shapes that do not broadcast", [] { maximum(zeros({2, 3}), zeros({2})); }, typeid(shape_error), {"maximum", "(2, 3)", "(2,)"}},
    {"minimum of shapes that do not broadcast", [] { minimum(zeros({4}), zeros({3})); }, typeid(shape_error), {"minimum", "(4,)", "(3,)"}},
    {"clamp with lo above hi", [] { clamp(zeros({3}), 1.0f, -1.0f); }, typeid(value_error), {"clamp", "[1.000000, -1.000000]", "lo <= hi"}},
    {"clamp with a NaN bound", [] { clamp(zeros({3}), NAN, 1.0f); }, typeid(value_error), {"clamp", "nan"}},
    {"less of shapes that do not broadcast", [] { less(zeros({2, 3}), zeros({3, 2})); }, typeid(shape_error), {"less", "(2, 3)", "(3, 2)"}},
    {"equal of shapes that do not broadcast", [] { equal(zeros({5}), zeros({2})); }, typeid(shape_error), {"equal", "(5,)", "(2,)"}},
    {"softplus with beta 0", [] { softplus(zeros({3}), 0.0f); }, typeid(value_error), {"softplus", "beta = 0"}},
    // losses
    {"mse_loss of mismatched shapes", [] { mse_loss(zeros({3}), zeros({2})); }, typeid(shape_error), {"mse_loss", "(2,)", "(3,)"}},
    {"mse_loss mean over no elements", [] { mse_loss(zeros({0}), zeros({0})); }, typeid(shape_error), {"mse_loss", "(0,)", "no elements"}},
    {"huber_loss of mismatched shapes", [] { huber_loss(zeros({2, 3}), zeros({3, 2})); }, typeid(shape_error), {"huber_loss", "(3, 2)", "(2, 3)"}},
    {"huber_loss with delta 0", [] { huber_loss(zeros({3}), zeros({3}), Reduction::mean, 0.0f); }, typeid(value_error), {"huber_loss", "delta = 0"}},
    {"binary_cross_entropy_with_logits of mismatched shapes", [] { binary_cross_entropy_with_logits(zeros({4}), zeros({4, 1})); },
     typeid(shape_error), {"binary_cross_entropy_with_logits", "(4, 1)", "(4,)"}},
    {"nll_loss with a label >= classes", [] { nll_loss(zeros({3, 2}), labels_3); }, typeid(value_error), {"nll_loss", "label 2", "row 2", "2 classes"}},
    {"nll_loss with fewer labels than rows", [] { nll_loss(zeros({4, 3}), labels_3); }, typeid(shape_error), {"nll_loss", "(4, 3)", "N = 3"}},
    {"nll_loss with a negative label that is not ignore_index", [] { nll_loss(zeros({3, 3}), std::vector<int>{0, -1, 1}); },
     typeid(value_error), {"nll_loss", "label -1", "row 1"}},
    {"cross_entropy with label_smoothing above 1", [] { cross_entropy(zeros({3, 3}), labels_3, {.label_smoothing = 1.5}); },
     typeid(value_error), {"cross_entropy", "label_smoothing = 1.5", "[0, 1]"}},
    {"cross_entropy with options and a label >= classes", [] { cross_entropy(zeros({3, 2}), labels_3, {.ignore_index = 0}); },
     typeid(value_error), {"cross_entropy", "label 2", "2 classes"}},
    {"cross_entropy with options and fewer labels than rows", [] { cross_entropy(zeros({2, 3}), labels_3, {.reduction = Reduction::sum}); },
     typeid(shape_error), {"cross_entropy", "(2, 3)", "N = 3"}},
    {"composed cross_entropy with a negative label_smoothing", [] { composed::cross_entropy(zeros({3, 3}), labels_3, {.label_smoothing = -0.1}); },
     typeid(value_error), {"cross_entropy", "label_smoothing = -0.1"}},
    // matmul and transpose
    {"matmul of mismatched inner sizes", [] { matmul(zeros({2, 3}), zeros({4, 5})); }, typeid(shape_error), {"matmul", "(2, 3)", "(4, 5)"}},
    {"matmul of vectors of different lengths", [] { matmul(zeros({3}), zeros({4})); }, typeid(shape_error), {"matmul", "(3,)", "(4,)", "inner sizes"}},
    {"matmul of batch dimensions that do not broadcast", [] { matmul(zeros({2, 3, 2, 2}), zeros({4, 2, 2})); }, typeid(shape_error),
     {"matmul", "(2, 3, 2, 2)", "(4, 2, 2)", "batch dimensions (2, 3) and (4,)"}},
    {"matmul of scalars", [] { matmul(Tensor::scalar(1.0f), Tensor::scalar(2.0f)); }, typeid(shape_error), {"matmul", "()"}},
    {"batched matmul of different batch sizes", [] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); }, typeid(shape_error), {"matmul", "(2, 3, 4)", "(3, 4, 5)"}},
    {"transpose with a repeated axis", [] { transpose(zeros({2, 3}), {0, 0}); }, typeid(value_error), {"transpose", "(0, 0)", "(2, 3)"}},
    {"transpose with too many axes", [] { transpose(zeros({2, 3}), {0, 1, 2}); }, typeid(value_error), {"transpose", "(0, 1, 2)", "(2, 3)"}},
    // reshape
    {"reshape to another element count", [] { reshape(zeros({2, 3}), {4, 2}); }, typeid(shape_error), {"reshape", "(2, 3)", "6 elements", "(4, 2)"}},
    {"reshape with two inferred dimensions", [] { reshape(zeros({2, 3}), {-1, -1}); }, typeid(value_error), {"reshape", "bad dimension -1", "(-1, -1)"}},
    {"reshape with a negative dimension", [] { reshape(zeros({2, 3}), {-2, 3}); }, typeid(value_error), {"reshape", "bad dimension -2"}},
    {"reshape with an inferred dimension that does not divide", [] { reshape(zeros({2, 3}), {-1, 4}); }, typeid(shape_error), {"reshape", "(2, 3)", "(-1, 4)"}},
    // reductions
    {"sum over an axis past the rank", [] { sum(zeros({2, 3}), {2}); }, typeid(value_error), {"sum", "axis 2", "rank 2"}},
    {"sum over a negative axis past the rank", [] { sum(zeros({2, 3}), {-3}); }, typeid(value_error), {"sum", "axis -3", "rank 2"}},
    {"sum over an axis given twice", [] { sum(zeros({2, 3}), {1, -1}); }, typeid(value_error), {"sum", "axis -1", "twice"}},
    {"mean over an axis past the rank", [] { mean(zeros({2}), {1}); }, typeid(value_error), {"mean", "axis 1", "rank 1"}},
    {"mean of an empty tensor", [] { mean(zeros({0, 3})); }, typeid(shape_error), {"mean", "(0, 3)", "no elements"}},
    {"mean over an empty axis", [] { mean(zeros({2, 0}), {1}); }, typeid(shape_error), {"mean", "(1,)", "(2, 0)"}},
    {"max over an axis past the rank", [] { max(zeros({2, 3}), 5); }, typeid(value_error), {"max", "axis 5", "rank 2"}},
    {"max of a scalar", [] { max(Tensor::scalar(1.0f), 0); }, typeid(value_error), {"max", "axis 0", "rank 0"}},
    {"max over an empty axis", [] { max(zeros({2, 0}), 1); }, typeid(shape_error), {"max", "axis 1", "(2, 0)", "empty"}},
    {"var unbiased of one value per output", [] { var(zeros({3, 1}), {1}); }, typeid(value_error), {"var", "unbiased", "(1,)", "(3, 1)", "hold 1"}},
    {"var over an axis past the rank", [] { var(zeros({3}), {1}); }, typeid(value_error), {"var", "axis 1", "rank 1"}},
    {"stddev biased over an empty axis", [] { stddev(zeros({3, 0}), {1}, false); }, typeid(value_error), {"stddev", "(3, 0)", "hold 0"}},
    {"logsumexp over an axis given twice", [] { logsumexp(zeros({2, 3}), {0, -2}); }, typeid(value_error), {"logsumexp", "axis -2", "twice"}},
    {"max over axes of an empty axis", [] { max(zeros({2, 0}), axes_type{1}); }, typeid(shape_error), {"max", "(1,)", "(2, 0)", "no elements"}},
    {"min over an axis past the rank", [] { min(zeros({2, 3}), axes_type{0, 2}); }, typeid(value_error), {"min", "axis 2", "rank 2"}},
    {"min along an empty axis", [] { min(zeros({2, 0}), 1); }, typeid(shape_error), {"min", "axis 1", "(2, 0)", "empty"}},
    {"max_with_indices along an axis past the rank", [] { max_with_indices(zeros({2, 3}), -3); }, typeid(value_error), {"max", "axis -3", "rank 2"}},
    // indexing
    {"concat of no tensors", [] { concat<float>({}, 0); }, typeid(value_error), {"concat", "no tensors"}},
    {"concat of mismatched shapes", [] { concat<float>({zeros({2, 3}), zeros({3, 3})}, 1); }, typeid(shape_error), {"concat", "tensor 1", "(3, 3)", "(2, 3)", "axis 1"}},
    {"concat of different ranks", [] { concat<float>({zeros({2, 3}), zeros({2, 3, 1})}, 0); }, typeid(shape_error), {"concat", "(2, 3, 1)"}},
    {"concat along an axis past the rank", [] { concat<float>({zeros({2, 3})}, 2); }, typeid(value_error), {"concat", "axis 2", "rank 2"}},
    {"stack of different shapes", [] { stack<float>({zeros({2}), zeros({3})}); }, typeid(shape_error), {"stack", "tensor 1", "(3,)", "(2,)"}},
    {"stack along an axis past the new rank", [] { stack<float>({zeros({2}), zeros({2})}, 2); }, typeid(value_error), {"stack", "axis 2", "rank 2"}},
    {"slice with step 0", [] { slice(zeros({4}), 0, 0, 4, 0); }, typeid(value_error), {"slice", "step 0"}},
    {"slice along an axis past the rank", [] { slice(zeros({4}), 1, 0, 4); }, typeid(value_error), {"slice", "axis 1", "rank 1"}},
    {"index_select with an index past the end", [] { index_select(zeros({3, 2}), 0, std::vector<int>{0, 3}); }, typeid(value_error),
     {"index_select", "index 3", "position 1", "size 3"}},
    {"index_select with an index before the start", [] { index_select(zeros({3, 2}), 1, std::vector<int>{-3}); }, typeid(value_error),
     {"index_select", "index -3", "size 2"}},
    {"gather with an index past the end", [] { gather(zeros({2, 3}), 1, array<int>{{0, 3}, {1, 1}}); }, typeid(value_error),
     {"gather", "index 3", "position 1", "size 3"}},
    {"gather with an index of another rank", [] { gather(zeros({2, 3}), 1, array<int>{0, 1}); }, typeid(shape_error), {"gather", "(2,)", "(2, 3)"}},
    {"gather with an index larger than the input off the axis", [] {
       array<int> index = array<int>::from_shape({3, 1});  // {{0}, {0}, {0}} is ambiguous to xtensor
       index.fill(0);
       gather(zeros({2, 3}), 1, index);
     }, typeid(shape_error),
     {"gather", "(3, 1)", "(2, 3)"}},
    // layer_norm
    {"layer_norm with gamma not the trailing shape", [] { layer_norm(zeros({4, 3}), Tensor::ones({4}), zeros({4})); }, typeid(shape_error),
     {"layer_norm", "gamma", "(4,)", "(4, 3)"}},
    {"layer_norm with beta of another shape than gamma", [] { layer_norm(zeros({4, 3}), Tensor::ones({3}), zeros({1, 3})); }, typeid(shape_error),
     {"layer_norm", "beta", "(1, 3)", "(3,)"}},
    {"layer_norm with a scalar gamma", [] { layer_norm(zeros({4, 3}), Tensor::scalar(1.0f), Tensor::scalar(0.0f)); }, typeid(shape_error),
     {"layer_norm", "gamma", "()"}},
    {"layer_norm with a negative eps", [] { layer_norm(zeros({4, 3}), Tensor::ones({3}), zeros({3}), -1.0); }, typeid(value_error),
     {"layer_norm", "eps = -1"}},
    {"composed layer_norm with gamma not the trailing shape", [] { composed::layer_norm(zeros({4, 3}), Tensor::ones({2}), zeros({2})); },
     typeid(shape_error), {"layer_norm", "gamma", "(2,)"}},
    // softmax family
    {"softmax over an axis past the rank", [] { softmax(zeros({2, 3}), 2); }, typeid(value_error), {"softmax", "axis 2", "rank 2"}},
    {"softmax of a scalar", [] { softmax(Tensor::scalar(1.0f)); }, typeid(value_error), {"softmax", "axis -1", "rank 0"}},
    {"softmax over an empty axis", [] { softmax(zeros({2, 0})); }, typeid(shape_error), {"softmax", "axis -1", "(2, 0)", "empty"}},
    {"log_softmax over an axis past the rank", [] { log_softmax(zeros({3}), -2); }, typeid(value_error), {"log_softmax", "axis -2", "rank 1"}},
    {"log_softmax over an empty axis", [] { log_softmax(zeros({0}), 0); }, typeid(shape_error), {"log_softmax", "axis 0", "(0,)"}},
    {"argmax over an axis past the rank", [] { argmax(zeros({2, 3}), 3); }, typeid(value_error), {"argmax", "axis 3", "rank 2"}},
    {"argmax over an empty axis", [] { argmax(zeros({2, 0}), 1); }, typeid(shape_error), {"argmax", "(2, 0)", "empty"}},
    // cross_entropy and accuracy
    {"cross_entropy with a label >= classes", [] { cross_entropy(zeros({3, 2}), labels_3); }, typeid(value_error), {"cross_entropy", "label 2", "row 2", "2 classes"}},
    {"cross_entropy with a negative label", [] { cross_entropy(zeros({3, 4}), std::vector<int>{0, -1, 2}); }, typeid(value_error), {"cross_entropy", "label -1", "row 1", "4 classes"}},
    {"cross_entropy with fewer labels than rows", [] { cross_entropy(zeros({4, 3}), labels_3); }, typeid(shape_error), {"cross_entropy", "(4, 3)", "N = 3"}},
    {"cross_entropy of rank-1 logits", [] { cross_entropy(zeros({3}), labels_3); }, typeid(shape_error), {"cross_entropy", "(3,)"}},
    {"cross_entropy of an empty batch", [] { cross_entropy(zeros({0, 3}), std::vector<int>{}); }, typeid(shape_error), {"cross_entropy", "(0, 3)"}},
    {"cross_entropy with no classes", [] { cross_entropy(zeros({3, 0}), labels_3); }, typeid(shape_error), {"cross_entropy", "(3, 0)", "C > 0"}},
    {"cross_entropy with targets of another shape", [] { cross_entropy(zeros({3, 4}), zeros({3, 5})); }, typeid(shape_error), {"cross_entropy", "(3, 5)", "(3, 4)"}},
    {"composed cross_entropy with a label >= classes", [] { composed::cross_entropy(zeros({3, 2}), labels_3); }, typeid(value_error), {"cross_entropy", "label 2", "2 classes"}},
    {"accuracy with a label >= classes", [] { accuracy(zeros({3, 2}), labels_3); }, typeid(value_error), {"accuracy", "label 2", "2 classes"}},
    {"accuracy with fewer labels than rows", [] { accuracy(zeros({2, 3}), labels_3); }, typeid(shape_error), {"accuracy", "(2, 3)", "N = 3"}},
    // batch_norm
    {"batch_norm of a vector (no channel axis)", batch_norm_with([](auto& in) { in.x = zeros({4}); }), typeid(shape_error), {"batch_norm", "(4,)", "no channel axis"}},
    {"batch_norm with gamma of the wrong size", batch_norm_with([](auto& in) { in.gamma = zeros({4}); }), typeid(shape_error), {"batch_norm", "gamma", "(4,)", "(3,)"}},
    {"batch_norm with a 2-D beta", batch_norm_with([](auto& in) { in.beta = zeros({1, 3}); }), typeid(shape_error), {"batch_norm", "beta", "(1, 3)"}},
    {"batch_norm with running_var of the wrong size", batch_norm_with([](auto& in) { in.running_var = Tensor::ones({2}); }), typeid(shape_error), {"batch_norm", "running_var", "(2,)"}},
    {"batch_norm in train mode on one example", batch_norm_with([](auto& in) { in.x = zeros({1, 3}); }), typeid(value_error), {"batch_norm", "(1, 3)", "batch size 1"}},
    {"batch_norm with momentum above 1", batch_norm_with([](auto& in) { in.options.momentum = 1.5; }), typeid(value_error), {"batch_norm", "momentum = 1.5"}},
    {"batch_norm with a negative eps", batch_norm_with([](auto& in) { in.options.eps = -1e-3; }), typeid(value_error), {"batch_norm", "eps = -0.001"}},
    {"composed batch_norm with momentum below 0", batch_norm_with([](auto& in) { in.options.momentum = -0.5; }, true), typeid(value_error), {"batch_norm", "momentum = -0.5"}},
    {"composed batch_norm with gamma of the wrong size", batch_norm_with([](auto& in) { in.gamma = zeros({2}); }, true), typeid(shape_error), {"batch_norm", "gamma", "(2,)"}},
    {"batch_norm with a NaN eps", batch_norm_with([](auto& in) { in.options.eps = std::numeric_limits<double>::quiet_NaN(); }), typeid(value_error), {"batch_norm", "eps = nan"}},
    // regularisation
    {"dropout with p = 1", [] { Generator g(0); dropout(zeros({3}), 1.0, true, g); }, typeid(value_error), {"dropout", "p = 1", "[0, 1)"}},
    {"dropout with a negative p", [] { Generator g(0); dropout(zeros({3}), -0.1, true, g); }, typeid(value_error), {"dropout", "p = -0.1"}},
    {"dropout with a NaN p", [] { Generator g(0); dropout(zeros({3}), std::nan(""), false, g); }, typeid(value_error), {"dropout", "p = nan"}},
    {"l2_penalty with a negative lambda", [] { l2_penalty<float>({zeros({2})}, -0.5); }, typeid(value_error), {"l2_penalty", "lambda = -0.5"}},
    {"l2_penalty with an infinite lambda", [] { l2_penalty<float>({zeros({2})}, INFINITY); }, typeid(value_error), {"l2_penalty", "lambda = inf"}},
    // the tape and tensors
    {"backward of a non-scalar without a seed", [] { Tape t; Tensor x = zeros({2}); t.backward(x * 2.0f); }, typeid(shape_error), {"backward", "(2,)"}},
    {"backward with a seed of the wrong shape", [] { Tape t; Tensor x = zeros({2}); t.backward(x * 2.0f, array<float>::from_shape({3})); }, typeid(shape_error), {"backward", "seed", "(3,)", "(2,)"}},
    {"item of a tensor of several elements", [] { zeros({2, 2}).item(); }, typeid(shape_error), {"item", "(2, 2)"}},
    {"set_num_threads(0)", [] { set_num_threads(0); }, typeid(value_error), {"set_num_threads", "got 0"}},
    // nn and optim
    {"Linear with no inputs", [] { nn::Linear(0, 3); }, typeid(value_error), {"Linear", "Linear(0, 3)"}},
    {"Linear on input of the wrong width", [] { nn::Linear layer(4, 3); layer(zeros({2, 5})); }, typeid(shape_error), {"Linear(4, 3)", "(N, 4)", "(2, 5)"}},
    {"Linear on a vector", [] { nn::Linear layer(4, 3); layer(zeros({4})); }, typeid(shape_error), {"Linear(4, 3)", "(4,)"}},
    {"BatchNorm module on the wrong number of features", [] { nn::BatchNorm bn(3); bn(zeros({4, 5})); }, typeid(shape_error), {"batch_norm", "(3,)", "(4, 5)"}},
    {"Embedding with no rows", [] { nn::Embedding(0, 4); }, typeid(value_error), {"Embedding", "Embedding(0, 4)"}},
    {"Embedding of an id past the table", [] { nn::Embedding table(5, 2); table(std::vector<int>{1, 5}); }, typeid(value_error),
     {"Embedding(5, 2)", "id 5", "element 1", "[0, 5)"}},
    {"Embedding of a negative id", [] { nn::Embedding table(5, 2); table(Tensor(array<float>{-1.0f})); }, typeid(value_error),
     {"Embedding(5, 2)", "id -1", "element 0"}},
    {"Embedding of an id that is not a whole number", [] { nn::Embedding table(5, 2); table(Tensor(array<float>{0.0f, 2.5f})); },
     typeid(value_error), {"Embedding(5, 2)", "id 2.5", "element 1", "whole number"}},
    {"LayerNorm module on input of another trailing shape", [] { nn::LayerNorm norm(4); norm(zeros({2, 5})); }, typeid(shape_error),
     {"layer_norm", "(4,)", "(2, 5)"}},
    {"Dropout module with p = 2", [] { nn::Dropout(2.0); }, typeid(value_error), {"Dropout", "2.0"}},
    {"Optimizer over a constant", [] { optim::Optimizer(std::vector<Tensor>{Tensor::zeros({2, 2})}, optim::sgd(0.1)); }, typeid(value_error), {"Optimizer", "parameter 0", "(2, 2)"}},
    {"clip_by_global_norm with max_norm 0", [] { optim::clip_by_global_norm(0.0); }, typeid(value_error), {"clip_by_global_norm", "max_norm = 0"}},
    {"Optimizer over no parameters", [] { optim::Optimizer({}, optim::sgd(0.1)); }, typeid(value_error), {"Optimizer", "parameter list is empty"}},
    {"Optimizer over a non-leaf", [] { Tape tape; Tensor w = Tensor::ones({2}, true); optim::Optimizer({w * w}, optim::sgd(0.1)); }, typeid(value_error), {"Optimizer", "parameter 0", "not a leaf", "'mul'"}},
    {"Optimizer over one parameter twice", [] { Tensor w = Tensor::ones({2}, true); optim::Optimizer({w, w}, optim::sgd(0.1)); }, typeid(value_error), {"Optimizer", "parameter 1", "parameter 0 again"}},
    {"sgd with a negative learning rate", [] { optim::sgd(-1.0); }, typeid(value_error), {"scale_by_learning_rate", "lr = -1"}},
    {"adam with a NaN learning rate", [] { optim::adam({.lr = std::nan("")}); }, typeid(value_error), {"scale_by_learning_rate", "lr = nan"}},
    {"adam with beta1 = 1", [] { optim::adam({.beta1 = 1.0}); }, typeid(value_error), {"scale_by_adam", "beta1 = 1", "[0, 1)"}},
    // data
    {"read_idx of a missing file", [] { data::read_idx(missing_file); }, typeid(data_error), {missing_file.string(), "does not exist"}},
    {"batches of size 0", [] {
       data::Split split{Tensor::zeros({2, 3}), {0, 1}, {}};
       split.batches(0);
     }, typeid(value_error), {"batches", "at least 1"}},
    {"select of a row past the end", [] {
       data::Split split{Tensor::zeros({2, 3}), {0, 1}, {}};
       const std::size_t rows[] = {0, 2};
       split.select(rows);
     }, typeid(value_error), {"select", "row 2", "2"}},
    {"fashion_mnist from a folder without it", [] { data::fashion_mnist({.dir = missing_file.string()}); }, typeid(data_error), {missing_file.string()}},
    // io and checkpoints
    {"load_safetensors of a missing file", [] { io::load_safetensors(missing_file); }, typeid(io_error), {missing_file.string(), "No such file"}},
    {"save_safetensors into a missing folder", [] { io::save_safetensors(missing_file / "m.safetensors", {{"w", Tensor::ones({1})}}); },
     typeid(io_error), {(missing_file / "m.safetensors").string(), "temporary file"}},
    {"save_safetensors with an empty tensor name", [] { io::save_safetensors(missing_file, {{"", Tensor::ones({1})}}); },
     typeid(value_error), {"save_safetensors", missing_file.string(), "''"}},
    {"fit with batch size 0", [] {
       nn::Linear model(3, 2);
       optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
       data::Dataset data{.train = {Tensor::zeros({2, 3}), {0, 1}, {}}, .classes = 2};
       train::fit(model, opt, data, {.epochs = 1, .batch_size = 0, .out_dir = missing_file, .quiet = true});
     }, typeid(value_error), {"fit", "batch_size is 0"}},
    {"fit on an empty training split", [] {
       nn::Linear model(3, 2);
       optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
       train::fit(model, opt, data::Dataset{.classes = 2}, {.epochs = 1, .out_dir = missing_file, .quiet = true});
     }, typeid(value_error), {"fit", "0 examples"}},
    {"load_checkpoint of a missing file", [] { nn::Linear m(4, 3); train::load_checkpoint(missing_file, m); }, typeid(io_error), {missing_file.string()}},
    {"load_checkpoint into a model of another shape",
     load_linear_checkpoint_into([] { return std::make_shared<nn::Sequential>(nn::Linear(4, 5)); }), typeid(data_error),
     {"model.0.weight", "(4, 3)", "(4, 5)"}},
    {"load_checkpoint into a model with a tensor the checkpoint lacks",
     load_linear_checkpoint_into([] { return std::make_shared<nn::Sequential>(nn::Linear(4, 3), nn::BatchNorm(3)); }),
     typeid(data_error), {"no tensor named 'model.1.gamma'"}},
    {"load_checkpoint into a model with a generator the checkpoint lacks",
     load_linear_checkpoint_into([] { return std::make_shared<nn::Sequential>(nn::Linear(4, 3), nn::Dropout(0.5)); }),
     typeid(data_error), {"generator '1.mask'"}},
    {"fit with a negative epoch count", [] {
       nn::Linear model(3, 2);
       optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
       data::Dataset data{.train = {Tensor::zeros({2, 3}), {0, 1}, {}}, .validation = {Tensor::zeros({2, 3}), {0, 1}, {}}, .classes = 2};
       train::fit(model, opt, data, {.epochs = -1, .out_dir = missing_file, .quiet = true});
     }, typeid(value_error), {"fit", "epochs is -1"}},
    {"fit with both resume and overwrite", [] {
       nn::Linear model(3, 2);
       optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
       data::Dataset data{.train = {Tensor::zeros({2, 3}), {0, 1}, {}}, .validation = {Tensor::zeros({2, 3}), {0, 1}, {}}, .classes = 2};
       train::fit(model, opt, data, {.epochs = 1, .out_dir = missing_file, .resume = true, .overwrite = true, .quiet = true});
     }, typeid(value_error), {"fit", "resume and overwrite"}},
    {"fit with a validation split of another width", [] {
       nn::Linear model(3, 2);
       optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
       data::Dataset data{.train = {Tensor::zeros({2, 3}), {0, 1}, {}}, .validation = {Tensor::zeros({2, 4}), {0, 1}, {}}, .classes = 2};
       train::fit(model, opt, data, {.epochs = 1, .out_dir = missing_file, .quiet = true});
     }, typeid(shape_error), {"fit", "validation images", "(2, 4)", "(2, 3)"}},
    {"read_idx of a folder", [] { data::read_idx(fs::temp_directory_path()); }, typeid(data_error), {"is a folder, not an IDX file"}},
    {"check_writable_folder under a regular file", [] { io::check_writable_folder("/proc/version/out"); },
     typeid(io_error), {"/proc/version/out", "Not a directory"}},
    {"tune::search with 0 trials", [] {
       tune::SearchSpace space;
       space.add("lr", tune::log_uniform(1e-3, 1));
       tune::search(space, [](const tune::Config&, std::uint64_t) -> std::unique_ptr<tune::Run> { return nullptr; }, {.trials = 0});
     }, typeid(value_error), {"tune::search", "trials must be >= 1"}},
    {"load_checkpoint with an epoch that would overflow", load_checkpoint_with_metadata("epoch", "2147483647"),
     typeid(data_error), {"epoch '2147483647'", "[0, 2147483646]"}},
    {"load_checkpoint with a negative epoch", load_checkpoint_with_metadata("epoch", "-3"), typeid(data_error), {"epoch '-3'"}},
    {"load_checkpoint with a NaN step count", load_checkpoint_with_metadata("optimizer.steps", "nan"),
     typeid(data_error), {"optimizer.steps 'nan'", "whole number"}},
    {"load_checkpoint with a negative step count", load_checkpoint_with_metadata("optimizer.steps", "-3"),
     typeid(data_error), {"optimizer.steps '-3'"}},
    {"load_checkpoint with a fractional step count", load_checkpoint_with_metadata("optimizer.steps", "2.5"),
     typeid(data_error), {"optimizer.steps '2.5'"}},
    {"load_checkpoint with a running variance of -1", load_checkpoint_with_element("running_var", -1.0f),
     typeid(data_error), {"buffer.1.running_var", "-1", "variance", ">= 0"}},
    {"load_checkpoint with an Adam second moment of -1", load_checkpoint_with_element(".nu.", -1.0f),
     typeid(data_error), {".nu.0", "-1", ">= 0"}},
    {"load_checkpoint with a NaN weight", load_checkpoint_with_element("model.0.weight", NAN),
     typeid(data_error), {"model.0.weight", "nan", "finite"}},
    {"load_checkpoint with an infinite running mean", load_checkpoint_with_element("running_mean", INFINITY),
     typeid(data_error), {"buffer.1.running_mean", "inf", "finite"}},
};

std::string type_name(const std::type_info& t) {
  if (t == typeid(shape_error)) return "xg::shape_error";
  if (t == typeid(value_error)) return "xg::value_error";
  if (t == typeid(data_error)) return "xg::data_error";
  if (t == typeid(io_error)) return "xg::io_error";
  return t.name();
}

}  // namespace

BOOST_DATA_TEST_CASE(bad_input_throws_the_documented_error_naming_the_op_and_values, bdata::make(bad_inputs), row) {
  try {
    row.call();
    BOOST_ERROR("no exception; expected " << type_name(row.error));
  } catch (const std::exception& e) {
    BOOST_TEST(type_name(typeid(e)) == type_name(row.error), "message: " << e.what());
    const std::string what = e.what();
    for (const std::string& part : row.message)
      BOOST_TEST(what.find(part) != std::string::npos, "message '" << what << "' lacks '" << part << "'");
  }
}

// ---- empty tensors are valid input: empty or zero results, never a crash or garbage ----

BOOST_AUTO_TEST_CASE(matmul_with_an_empty_inner_dimension_is_all_zeros_and_backward_flows_past_it) {
  Tape tape;
  Tensor a = zeros({2, 0}), b = zeros({0, 3});
  Tensor bias = Tensor::ones({3}, true);
  Tensor c = matmul(a, b) + bias;  // an empty sum is 0: BLAS would leave c's buffer as garbage
  BOOST_TEST(c.shape_vector() == (shape_type{2, 3}));
  for (float v : c.value()) BOOST_TEST(v == 1.0f);
  tape.backward(sum(c));
  // Backward reached the empty operands, with gradients of their shapes.
  BOOST_TEST(shape_type(a.grad().shape().begin(), a.grad().shape().end()) == (shape_type{2, 0}));
  BOOST_TEST(shape_type(b.grad().shape().begin(), b.grad().shape().end()) == (shape_type{0, 3}));
  for (float v : bias.grad()) BOOST_TEST(v == 2.0f);  // one per row of c
}

BOOST_AUTO_TEST_CASE(matmul_with_no_rows_gives_no_rows_and_a_zero_gradient_for_the_weight) {
  Tape tape;
  Tensor x = zeros({0, 4}), w = Tensor::ones({4, 3}, true);
  Tensor y = matmul(x, w);
  BOOST_TEST(y.shape_vector() == (shape_type{0, 3}));
  tape.backward(sum(y));
  for (float v : w.grad()) BOOST_TEST(v == 0.0f);
}

BOOST_AUTO_TEST_CASE(element_wise_ops_and_sum_accept_empty_tensors) {
  Tape tape;
  Tensor x = zeros({0, 5});
  BOOST_TEST(relu(x).size() == 0u);
  BOOST_TEST(exp(x + 1.0f).size() == 0u);
  BOOST_TEST(softmax(x, 1).shape_vector() == (shape_type{0, 5}));
  BOOST_TEST(sum(x).item() == 0.0f);
  BOOST_TEST(sum(x, {0}).shape_vector() == (shape_type{5}));
  BOOST_TEST(reshape(x, {-1, 5}).shape_vector() == (shape_type{0, 5}));
}
