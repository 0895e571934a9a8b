// Training end to end on real data: the loss falls, a tiny set is overfit, checkpoints round-trip
// exactly, and a NaN loss stops training with a useful message.
#define BOOST_TEST_MODULE train
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;
namespace fs = std::filesystem;
using testing::TempDir;

namespace {
const data::Dataset& small_fashion_mnist() {
  static const data::Dataset data = data::fashion_mnist({.validation = 1000, .limit = 6000});
  return data;
}

nn::Sequential small_model(std::uint64_t seed) {
  nn::manual_seed(seed);
  return nn::Sequential{nn::Linear(784, 64, nn::no_bias), nn::BatchNorm(64), nn::ReLU(), nn::Linear(64, 10)};
}


// n random examples of 4 features in 3 classes.
data::Split random_split(std::size_t n, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = int(i % 3);
  return {normal<float>({n, 4}, 0.0f, 1.0f, gen), labels, {}};
}

data::Dataset tiny_dataset(std::size_t train, std::size_t validation) {
  return {.train = random_split(train, 1), .validation = random_split(validation, 2), .classes = 3};
}

nn::Sequential tiny_model() {
  nn::manual_seed(0);
  return nn::Sequential{nn::Linear(4, 8, nn::no_bias), nn::BatchNorm(8), nn::ReLU(), nn::Linear(8, 3)};
}

std::vector<array<float>> values(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<array<float>> out;
  for (auto& [name, t] : named) out.push_back(t.value());
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(training_on_fashion_mnist_lowers_the_loss_and_beats_chance_by_far) {
  const data::Dataset& data = small_fashion_mnist();
  nn::Sequential model = small_model(0);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  const double before = train::evaluate(model, data.validation).loss;
  TempDir dir;
  const train::History h = train::fit(model, opt, data, {.epochs = 2, .batch_size = 64, .out_dir = dir.path, .quiet = true});
  BOOST_TEST_REQUIRE(h.epochs.size() == 2u);
  BOOST_TEST(h.epochs[1].train_loss < h.epochs[0].train_loss);
  const train::Evaluation after = train::evaluate(model, data.validation);
  BOOST_TEST(after.loss < before * 0.5);
  BOOST_TEST(after.accuracy > 0.7);  // chance is 0.1
  std::ifstream csv(dir.path / "metrics.csv");
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  BOOST_TEST(lines == 3);  // header and one row per epoch
}

BOOST_AUTO_TEST_CASE(overfit_small_reaches_full_training_accuracy) {
  nn::Sequential model = small_model(1);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-2}));
  const int epochs = train::overfit_small(model, opt, small_fashion_mnist().train, 50);
  BOOST_TEST(epochs >= 1);
  BOOST_TEST(train::evaluate(model, small_fashion_mnist().train.head(50)).accuracy == 1.0);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_round_trip_is_bit_identical_and_so_is_the_next_step) {
  const data::Dataset& data = small_fashion_mnist();
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential a = small_model(2);
  optim::Optimizer opt_a(a.parameters(), optim::adam({.lr = 1e-3}));
  Tape tape;
  std::size_t step = 0;
  auto batches = data.train.batches(32);
  auto it = batches.begin();
  for (int i = 0; i < 3; ++i, ++it) train::train_step(a, opt_a, tape, (*it).x, (*it).y, ++step);
  train::save_checkpoint(file, a, opt_a, 1);

  nn::Sequential b = small_model(99);  // different weights until loaded
  optim::Optimizer opt_b(b.parameters(), optim::adam({.lr = 1e-3}));
  BOOST_TEST(train::load_checkpoint(file, b, &opt_b) == 1);
  BOOST_TEST((values(a.named_parameters()) == values(b.named_parameters())));
  BOOST_TEST((values(a.named_buffers()) == values(b.named_buffers())));
  BOOST_TEST((values(opt_a.state()) == values(opt_b.state())));
  BOOST_TEST(opt_a.steps() == opt_b.steps());

  train::train_step(a, opt_a, tape, (*it).x, (*it).y, ++step);
  train::train_step(b, opt_b, tape, (*it).x, (*it).y, step);
  BOOST_TEST((values(a.named_parameters()) == values(b.named_parameters())));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_that_fails_on_the_optimizer_state_leaves_the_model_as_it_was) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential saved = small_model(10);
  optim::Optimizer adam(saved.parameters(), optim::adam({.lr = 1e-3}));
  train::save_checkpoint(file, saved, adam, 1);

  nn::Sequential target = small_model(11);
  const auto before = values(target.named_parameters());
  optim::Optimizer momentum(target.parameters(), optim::momentum({.lr = 1e-3}));  // other state entries
  testing::require_data_error([&] { train::load_checkpoint(file, target, &momentum); },
                              {file.string(), "optimizer", "unexpected entry"});
  BOOST_TEST((values(target.named_parameters()) == before));
}

BOOST_AUTO_TEST_CASE(the_step_count_survives_a_checkpoint_exactly_beyond_2_to_the_24) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential model = small_model(12);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  const long steps = (1L << 24) + 1;  // the first count a float cannot hold
  opt.load_state(opt.state(), steps);
  train::save_checkpoint(file, model, opt, 3);
  optim::Optimizer restored(model.parameters(), optim::adam({.lr = 1e-3}));
  BOOST_TEST(train::load_checkpoint(file, model, &restored) == 3);
  BOOST_TEST(restored.steps() == steps);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_the_earlier_format_still_loads_with_its_float_step_count) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential model = small_model(13);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  // xgrad-checkpoint-1: the step count as the float tensor "optimizer.step", no metrics rows.
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back("model." + name, t);
  for (auto& [name, t] : model.named_buffers()) tensors.emplace_back("buffer." + name, t);
  tensors.emplace_back("optimizer.step", Tensor::scalar(7.0f));
  for (auto& [name, t] : opt.state()) tensors.emplace_back("optimizer." + name, t);
  io::save_safetensors(file, tensors, {{"epoch", "2"}, {"format", "xgrad-checkpoint-1"}});

  optim::Optimizer restored(model.parameters(), optim::adam({.lr = 1e-3}));
  std::vector<train::EpochRecord> rows{{.epoch = 9}};
  BOOST_TEST(train::load_checkpoint(file, model, &restored, &rows) == 2);
  BOOST_TEST(restored.steps() == 7);
  BOOST_TEST(rows.empty());  // none saved: fit then reads metrics.csv
}

BOOST_AUTO_TEST_CASE(fit_resumes_after_the_last_saved_epoch) {
  const data::Dataset& data = small_fashion_mnist();
  TempDir dir;
  nn::Sequential model = small_model(3);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  train::fit(model, opt, data, {.epochs = 1, .batch_size = 256, .out_dir = dir.path, .quiet = true});
  nn::Sequential again = small_model(4);
  optim::Optimizer opt2(again.parameters(), optim::adam({.lr = 1e-3}));
  const train::History h =
      train::fit(again, opt2, data, {.epochs = 2, .batch_size = 256, .out_dir = dir.path, .resume = true, .quiet = true});
  BOOST_TEST(h.first_epoch == 2);
  BOOST_TEST_REQUIRE(h.epochs.size() == 1u);
  BOOST_TEST(h.epochs[0].epoch == 2);
  const auto rows = train::read_metrics_csv(dir.path / "metrics.csv");  // both runs' epochs
  BOOST_TEST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(rows[0].epoch == 1);
  BOOST_TEST(rows[1].epoch == 2);
}

BOOST_AUTO_TEST_CASE(a_nan_loss_stops_training_naming_the_step_and_the_learning_rate) {
  const data::Dataset& data = small_fashion_mnist();
  nn::Sequential model = small_model(5);
  optim::Optimizer opt(model.parameters(), optim::sgd(1e12));
  TempDir dir;
  try {
    train::fit(model, opt, data,
               {.epochs = 1, .batch_size = 64, .out_dir = dir.path, .checkpoints = false, .divergence_factor = 0, .quiet = true});
    BOOST_FAIL("expected numeric_error");
  } catch (const numeric_error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("step ") != std::string::npos);
    BOOST_TEST(what.find("learning rate") != std::string::npos);
    BOOST_TEST(what.find("op '") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(stopping_and_resuming_gives_bit_identical_parameters_to_an_uninterrupted_run) {
  const data::Dataset& data = small_fashion_mnist();
  // Dropout draws its masks from a generator, which the checkpoint must carry over; the shuffles
  // derive from (seed, epoch); the optimizer's moments and step count are in the checkpoint.
  auto make_model = [](std::uint64_t seed) {
    nn::manual_seed(seed);
    return nn::Sequential{nn::Linear(784, 64, nn::no_bias), nn::BatchNorm(64), nn::ReLU(), nn::Dropout(0.3),
                          nn::Linear(64, 10)};
  };
  const train::FitOptions options{.epochs = 3, .batch_size = 256, .seed = 5, .quiet = true};
  TempDir uninterrupted_dir, interrupted_dir;

  nn::Sequential uninterrupted = make_model(6);
  optim::Optimizer opt_u(uninterrupted.parameters(), optim::adam({.lr = 1e-3}));
  auto u_options = options;
  u_options.out_dir = uninterrupted_dir.path;
  train::fit(uninterrupted, opt_u, data, u_options);

  auto i_options = options;
  i_options.out_dir = interrupted_dir.path;
  i_options.epochs = 1;
  {
    nn::Sequential first = make_model(6);
    optim::Optimizer opt(first.parameters(), optim::adam({.lr = 1e-3}));
    train::fit(first, opt, data, i_options);
  }
  nn::Sequential resumed = make_model(7);  // other weights and another dropout stream until resumed
  optim::Optimizer opt_r(resumed.parameters(), optim::adam({.lr = 1e-3}));
  i_options.epochs = 3;
  i_options.resume = true;
  BOOST_TEST(train::fit(resumed, opt_r, data, i_options).first_epoch == 2);

  BOOST_TEST((values(resumed.named_parameters()) == values(uninterrupted.named_parameters())));
  BOOST_TEST((values(resumed.named_buffers()) == values(uninterrupted.named_buffers())));
  BOOST_TEST((values(opt_r.state()) == values(opt_u.state())));
  BOOST_TEST(opt_r.steps() == opt_u.steps());
}

BOOST_AUTO_TEST_CASE(an_exploding_finite_loss_stops_training_naming_epoch_step_and_learning_rate) {
  const data::Dataset& data = small_fashion_mnist();
  nn::Sequential model = small_model(5);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e6}));
  TempDir dir;
  BOOST_CHECK_EXCEPTION(
      train::fit(model, opt, data, {.epochs = 1, .batch_size = 64, .out_dir = dir.path, .quiet = true}), numeric_error,
      [](const numeric_error& e) {
        return testing::message_has(e, {"epoch 1, step ", "diverged", "100 x log(10)", "learning rate (1e+06)", "10x smaller"});
      });
  BOOST_TEST(!fs::exists(dir.path / "checkpoint.safetensors"));  // nothing diverged was saved
}

// ---- inputs checked before the first step ----

BOOST_AUTO_TEST_CASE(a_final_batch_of_one_example_is_dropped_in_training) {
  const data::Dataset data = tiny_dataset(9, 6);  // batches of 4, 4 and 1
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  TempDir dir;
  train::fit(model, opt, data, {.epochs = 2, .batch_size = 4, .out_dir = dir.path, .quiet = true});
  BOOST_TEST(opt.steps() == 4);  // two batches an epoch
}

BOOST_AUTO_TEST_CASE(fit_without_a_validation_split_trains_on_everything_and_records_no_validation) {
  // The final run on all the training data, once the hyperparameters are chosen.
  data::Dataset data = tiny_dataset(64, 0);
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-2}));
  TempDir dir;
  const train::History h = train::fit(model, opt, data, {.epochs = 3, .batch_size = 16, .out_dir = dir.path, .quiet = true});
  BOOST_TEST_REQUIRE(h.epochs.size() == 3u);
  BOOST_TEST(opt.steps() == 12u);
  BOOST_TEST(h.epochs.back().train_loss < h.epochs.front().train_loss);
  for (const train::EpochRecord& r : train::read_metrics_csv(dir.path / "metrics.csv")) {
    BOOST_TEST(std::isnan(r.validation_loss));
    BOOST_TEST(std::isnan(r.validation_accuracy));
    BOOST_TEST(!std::isnan(r.train_accuracy));
  }
}

BOOST_AUTO_TEST_CASE(fit_with_a_label_outside_the_classes_fails_before_training) {
  data::Dataset data = tiny_dataset(8, 4);
  data.train.labels[7] = 3;
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  TempDir dir;
  testing::require_error<value_error>([&] { train::fit(model, opt, data, {.epochs = 1, .batch_size = 4, .out_dir = dir.path, .quiet = true}); },
                                      {"fit", "training label 3", "example 7", "[0, 3)"});
  BOOST_TEST(opt.steps() == 0);
}

BOOST_AUTO_TEST_CASE(fit_into_a_folder_under_a_regular_file_is_an_io_error_with_the_reason) {
  TempDir dir;
  std::ofstream(dir.path / "file") << "x";
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  testing::require_error<io_error>(
      [&] { train::fit(model, opt, tiny_dataset(8, 4), {.epochs = 1, .batch_size = 4, .out_dir = dir.path / "file" / "run", .quiet = true}); },
      {(dir.path / "file" / "run").string(), "cannot create it", "Not a directory"});
}

// ---- metrics.csv and the checkpoint agree ----

BOOST_AUTO_TEST_CASE(a_fresh_run_into_the_folder_of_an_earlier_run_is_refused_unless_overwrite) {
  TempDir dir;
  const data::Dataset data = tiny_dataset(8, 4);
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  train::fit(model, opt, data, {.epochs = 2, .batch_size = 4, .out_dir = dir.path, .quiet = true});
  testing::require_error<value_error>([&] { train::fit(model, opt, data, {.epochs = 1, .batch_size = 4, .out_dir = dir.path, .quiet = true}); },
                                      {dir.path.string(), "already holds a run", "--resume", "--overwrite"});
  BOOST_TEST(train::read_metrics_csv(dir.path / "metrics.csv").size() == 2u);  // untouched

  train::fit(model, opt, data, {.epochs = 1, .batch_size = 4, .out_dir = dir.path, .overwrite = true, .checkpoints = false, .quiet = true});
  BOOST_TEST(train::read_metrics_csv(dir.path / "metrics.csv").size() == 1u);
  BOOST_TEST(!fs::exists(dir.path / "checkpoint.safetensors"));  // a later resume cannot pick up the old run
}

BOOST_AUTO_TEST_CASE(metrics_rows_lost_after_the_checkpoint_come_back_on_resume) {
  TempDir dir;
  const data::Dataset data = tiny_dataset(8, 4);
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  train::fit(model, opt, data, {.epochs = 2, .batch_size = 4, .out_dir = dir.path, .quiet = true});
  std::ofstream(dir.path / "metrics.csv", std::ios::trunc).flush();  // a crash right after truncating it

  nn::Sequential resumed = tiny_model();
  optim::Optimizer opt_r(resumed.parameters(), optim::sgd(0.1));
  train::fit(resumed, opt_r, data, {.epochs = 3, .batch_size = 4, .out_dir = dir.path, .resume = true, .quiet = true});
  const auto rows = train::read_metrics_csv(dir.path / "metrics.csv");
  BOOST_TEST_REQUIRE(rows.size() == 3u);
  for (int i = 0; i < 3; ++i) BOOST_TEST(rows[i].epoch == i + 1);
}

BOOST_AUTO_TEST_CASE(metrics_csv_round_trips_nan_and_infinite_values_exactly) {
  TempDir dir;
  train::History history;
  history.epochs.push_back({.epoch = 1, .train_loss = NAN, .train_accuracy = 0.1, .validation_loss = INFINITY,
                            .validation_accuracy = 1.0 / 3, .learning_rate = -INFINITY, .seconds = 1e-300});
  train::write_metrics_csv(dir.path / "metrics.csv", history);
  const auto rows = train::read_metrics_csv(dir.path / "metrics.csv");
  BOOST_TEST_REQUIRE(rows.size() == 1u);
  BOOST_TEST(std::isnan(rows[0].train_loss));
  BOOST_TEST(rows[0].validation_loss == INFINITY);
  BOOST_TEST(rows[0].validation_accuracy == 1.0 / 3);  // exact
  BOOST_TEST(rows[0].learning_rate == -INFINITY);
  BOOST_TEST(rows[0].seconds == 1e-300);
}

BOOST_AUTO_TEST_CASE(a_metrics_csv_that_cannot_be_written_says_why) {
  TempDir dir;
  const fs::path csv = dir.path / "missing" / "metrics.csv";
  testing::require_error<io_error>([&] { train::write_metrics_csv(csv, {}); }, {csv.string(), "No such file or directory"});
}

BOOST_AUTO_TEST_CASE(a_malformed_metrics_row_is_a_data_error_naming_the_line) {
  TempDir dir;
  const fs::path csv = dir.path / "metrics.csv";
  train::write_metrics_csv(csv, {});
  std::ofstream(csv, std::ios::app) << "1,0.5,0.5,0.5,0.5,0.001,1\n";  // 7 fields
  testing::require_data_error([&] { train::read_metrics_csv(csv); }, {csv.string(), "line 2", "8 numbers"});
}

BOOST_AUTO_TEST_CASE(evaluate_scores_in_eval_mode_whatever_the_mode_before_and_leaves_that_mode) {
  nn::manual_seed(0);
  nn::Sequential model{nn::Linear(4, 8, nn::no_bias), nn::BatchNorm(8), nn::ReLU(), nn::Dropout(0.5),
                       nn::Linear(8, 3)};
  const data::Split split = random_split(64, 3);
  model.eval();
  const train::Evaluation from_eval = train::evaluate(model, split, 16);
  BOOST_TEST(!model.training());
  model.train();
  const train::Evaluation from_train = train::evaluate(model, split, 16);
  BOOST_TEST(model.training());
  BOOST_TEST(from_train.loss == from_eval.loss);
  BOOST_TEST(from_train.accuracy == from_eval.accuracy);
  // In train mode the same model scores otherwise (batch statistics, dropout): the check above can fail.
  NoGrad no_grad;
  const Tensor x = split.images;
  BOOST_TEST(cross_entropy(model(x), split.labels).item() != from_eval.loss);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_holds_the_model_description_and_the_input_standardisation) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  const data::Standardization input{0.2860402f, 0.35302424f};  // Fashion-MNIST's, which no short decimal holds
  train::save_checkpoint(file, model, opt, 1, {}, input);
  const io::Safetensors saved = io::load_safetensors(file);
  BOOST_TEST(saved.metadata.at("model") == model.describe());
  data::Standardization loaded;
  train::load_checkpoint(file, model, nullptr, nullptr, &loaded);
  BOOST_TEST(loaded.mean == input.mean);
  BOOST_TEST(loaded.stddev == input.stddev);
}

BOOST_AUTO_TEST_CASE(fit_saves_the_datasets_input_standardisation_in_its_checkpoint) {
  TempDir dir;
  data::Dataset data = tiny_dataset(32, 8);
  data.standardization = {0.5f, 2.0f};
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  train::fit(model, opt, data, {.epochs = 1, .batch_size = 8, .out_dir = dir.path, .quiet = true});
  data::Standardization loaded;
  train::load_checkpoint(dir.path / "checkpoint.safetensors", model, nullptr, nullptr, &loaded);
  BOOST_TEST(loaded.mean == 0.5f);
  BOOST_TEST(loaded.stddev == 2.0f);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_another_model_is_a_data_error_naming_both) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential saved{nn::Linear(4, 3), nn::Dropout(0.25)};
  optim::Optimizer opt(saved.parameters(), optim::adam({.lr = 1e-3}));
  train::save_checkpoint(file, saved, opt, 1);
  nn::Sequential other{nn::Linear(4, 3), nn::Dropout(0.5)};  // the same tensors, another model
  testing::require_data_error([&] { train::load_checkpoint(file, other); },
                              {file.string(), "Dropout(0.25)", "Dropout(0.5)"});
}

BOOST_AUTO_TEST_CASE(a_checkpoint_with_a_malformed_input_standardisation_is_a_data_error_naming_it) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::Sequential model = tiny_model();
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  train::save_checkpoint(file, model, opt, 1);
  const io::Safetensors good = io::load_safetensors(file);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : good.tensors) tensors.emplace_back(name, std::get<Tensor>(t));
  const std::vector<std::pair<std::string, std::string>> bad{
      {"input.std", "0"}, {"input.std", "-1"}, {"input.std", "nan"}, {"input.mean", "inf"}, {"input.mean", "0.5x"},
      {"input.mean", ""}};
  for (const auto& [key, text] : bad) {
    io::Metadata metadata = good.metadata;
    metadata[key] = text;
    io::save_safetensors(file, tensors, metadata);
    testing::require_data_error([&] { train::load_checkpoint(file, model); }, {file.string(), key, "'" + text + "'"});
  }
  io::Metadata metadata = good.metadata;
  metadata.erase("input.std");
  io::save_safetensors(file, tensors, metadata);
  testing::require_data_error([&] { train::load_checkpoint(file, model); }, {file.string(), "input.mean", "no input.std"});
}

// ---- a loss other than cross-entropy: regression ----

namespace {
data::Dataset small_regression() {
  data::Dataset data = data::friedman1({.train = 2000, .validation = 500, .test = 500, .seed = 3});
  // Standardised targets (mean about 14.4, deviation about 5), as examples/regression.cpp does.
  for (data::Split* split : {&data.train, &data.validation, &data.test})
    split->values->mutable_value() = (split->values->value() - 14.4f) / 5.0f;
  return data;
}

nn::Sequential regression_model() {
  nn::manual_seed(0);
  return nn::Sequential{nn::Linear(10, 32), nn::ReLU(), nn::Linear(32, 32), nn::ReLU(), nn::Linear(32, 1)};
}

const train::LossFunction mse = [](const Tensor& out, const data::Targets& y) { return mse_loss(out, y.values()); };
}  // namespace

BOOST_AUTO_TEST_CASE(fit_with_mean_squared_error_lowers_a_regressions_loss_toward_the_noise) {
  const data::Dataset data = small_regression();
  nn::Sequential model = regression_model();
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 3e-3}));
  const double variance = xt::variance(data.validation.values->value())();
  TempDir dir;
  const train::History h =
      train::fit(model, opt, data, {.epochs = 10, .batch_size = 32, .out_dir = dir.path, .quiet = true, .loss = mse});
  BOOST_TEST_REQUIRE(h.epochs.size() == 10u);
  BOOST_TEST(h.epochs.back().train_loss < 0.3 * h.epochs.front().train_loss);
  // Predicting the mean scores the variance (about 1 here); the noise alone is 1/25 of it.
  const double validation = h.epochs.back().validation_loss;
  BOOST_TEST(validation < 0.2 * variance);
  BOOST_TEST(std::isnan(h.epochs.back().validation_accuracy));  // no classes, no accuracy
  // What fit recorded is evaluate's figure for the same model.
  BOOST_TEST(train::evaluate(model, data.validation, mse).loss == validation, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(evaluate_with_a_loss_averages_it_over_the_examples) {
  const data::Dataset data = small_regression();
  nn::Sequential model = regression_model();
  model.eval();
  const array<float> predictions = model(data.test.images).value();
  const double by_hand = xt::mean(xt::square(xt::cast<double>(predictions) - xt::cast<double>(data.test.values->value())))();
  const train::Evaluation e = train::evaluate(model, data.test, mse, 64);  // 500 = 7 x 64 + 52
  BOOST_TEST(e.loss == by_hand, boost::test_tools::tolerance(1e-5));
  BOOST_TEST(std::isnan(e.accuracy));
}

BOOST_AUTO_TEST_CASE(fit_on_values_without_a_loss_fails_before_training_and_says_what_to_set) {
  const data::Dataset data = small_regression();
  nn::Sequential model = regression_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  TempDir dir;
  testing::require_error<value_error>([&] { train::fit(model, opt, data, {.epochs = 1, .out_dir = dir.path, .quiet = true}); },
                                      {"fit", "values (regression)", "FitOptions::loss", "mse_loss"});
  BOOST_TEST(opt.steps() == 0);
}

BOOST_AUTO_TEST_CASE(a_loss_that_is_not_a_scalar_is_a_shape_error_naming_its_shape) {
  const data::Dataset data = small_regression();
  nn::Sequential model = regression_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  const train::LossFunction per_example = [](const Tensor& out, const data::Targets& y) {
    return mse_loss(out, y.values(), Reduction::none);
  };
  TempDir dir;
  testing::require_error<shape_error>(
      [&] { train::fit(model, opt, data, {.epochs = 1, .out_dir = dir.path, .quiet = true, .loss = per_example}); },
      {"loss function returned shape (128, 1)", "scalar"});
}

BOOST_AUTO_TEST_CASE(a_target_value_that_is_not_finite_fails_before_training_naming_the_example) {
  data::Dataset data = small_regression();
  data.validation.values->mutable_value()(7, 0) = std::numeric_limits<float>::quiet_NaN();
  nn::Sequential model = regression_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  TempDir dir;
  testing::require_error<value_error>(
      [&] { train::fit(model, opt, data, {.epochs = 1, .out_dir = dir.path, .quiet = true, .loss = mse}); },
      {"validation target value nan", "example 7", "not finite"});
  BOOST_TEST(opt.steps() == 0);
}

BOOST_AUTO_TEST_CASE(splits_that_predict_different_kinds_of_target_are_refused) {
  data::Dataset data = small_regression();
  data.validation.values.reset();  // labels, while training has values
  data.validation.labels.assign(data.validation.images.shape()[0], 0);
  nn::Sequential model = regression_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  TempDir dir;
  testing::require_error<value_error>(
      [&] { train::fit(model, opt, data, {.epochs = 1, .out_dir = dir.path, .quiet = true, .loss = mse}); },
      {"validation split holds labels but the training split values"});
}

BOOST_AUTO_TEST_CASE(with_a_loss_of_ones_own_divergence_is_measured_against_the_first_steps_loss) {
  const data::Dataset data = small_regression();
  nn::Sequential model = regression_model();
  optim::Optimizer opt(model.parameters(), optim::sgd(0.01));
  int calls = 0;  // the fourth step's loss is 1000 times what it would be
  const train::LossFunction exploding = [&](const Tensor& out, const data::Targets& y) {
    return mse_loss(out, y.values()) * (++calls == 4 ? 1000.0f : 1.0f);
  };
  TempDir dir;
  BOOST_CHECK_EXCEPTION(
      train::fit(model, opt, data, {.epochs = 1, .out_dir = dir.path, .quiet = true, .loss = exploding}), numeric_error,
      [](const numeric_error& e) { return testing::message_has(e, {"epoch 1, step 4", "the first step's loss", "diverged"}); });
}
