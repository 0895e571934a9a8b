// Regression with fit: an MLP learns Friedman's first benchmark function (data::friedman1) with the
// mean squared error (or the Huber loss) instead of cross-entropy. The targets are standardised with
// the training split's mean and deviation, as one standardises inputs; errors are reported in the
// targets' own units, beside the two references that say how good they are: predicting the mean
// (the targets' variance) and the noise, which no model can beat.
// Writes metrics.csv, curves.png and checkpoint.safetensors to --out.
#include <cmath>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <xgrad/xgrad.hpp>

#include "report_errors.hpp"

using namespace xg;

namespace {
struct TargetScale {
  float mean = 0, stddev = 1;
};

// The training split's mean and deviation of the targets, applied to every split.
TargetScale standardize_targets(data::Dataset& data) {
  const auto& train = data.train.values->value();
  const double mean = xt::mean(train)(), stddev = xt::stddev(train)();
  const TargetScale scale{float(mean), float(stddev > 0 ? stddev : 1.0)};
  for (data::Split* split : {&data.train, &data.validation, &data.test})
    split->values->mutable_value() = (split->values->value() - scale.mean) / scale.stddev;
  return scale;
}

train::LossFunction make_loss(const std::string& name) {
  if (name == "mse") return [](const Tensor& out, const data::Targets& y) { return mse_loss(out, y.values()); };
  if (name == "huber") return [](const Tensor& out, const data::Targets& y) { return huber_loss(out, y.values()); };
  throw value_error("unknown loss '" + name + "' (mse, huber)");
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fit an MLP to Friedman's first regression benchmark"};
  int epochs = 40;
  std::size_t batch_size = 64, hidden = 64;
  double lr = 1e-3, noise = 1.0;
  std::uint64_t seed = 0;
  std::string loss_name = "mse", out = "out/regression";
  bool overwrite = false;
  app.add_option("--epochs", epochs, "epochs to train")->capture_default_str();
  app.add_option("--batch-size", batch_size, "examples per step")->capture_default_str();
  app.add_option("--hidden", hidden, "units of each of the two hidden layers")->capture_default_str();
  app.add_option("--lr", lr, "Adam's learning rate")->capture_default_str();
  app.add_option("--loss", loss_name, "mse or huber")->capture_default_str();
  app.add_option("--noise", noise, "standard deviation of the noise in the targets")->capture_default_str();
  app.add_option("--seed", seed, "of the data, the initial weights and the shuffles")->capture_default_str();
  app.add_option("--out", out, "output folder")->capture_default_str();
  app.add_flag("--overwrite", overwrite, "start afresh, discarding the run already in --out");
  CLI11_PARSE(app, argc, argv);

  return run_reporting_errors([&] {
    nn::manual_seed(seed);
    data::Dataset data = data::friedman1({.noise = noise, .seed = seed});
    const TargetScale scale = standardize_targets(data);
    nn::Sequential model{nn::Linear(data.train.features(), hidden), nn::ReLU(), nn::Linear(hidden, hidden),
                         nn::ReLU(), nn::Linear(hidden, 1)};
    optim::Optimizer optimizer(model.parameters(), optim::adam({.lr = lr}));
    std::cout << model.describe({1, data.train.features()}) << "\n";

    const train::LossFunction loss = make_loss(loss_name);
    const std::filesystem::path out_dir(out);
    const train::History history = train::fit(
        model, optimizer, data,
        {.epochs = epochs, .batch_size = batch_size, .seed = seed, .out_dir = out_dir, .overwrite = overwrite, .loss = loss});
    const bool plotted = !history.epochs.empty() && train::plot_curves(out_dir / "metrics.csv", out_dir / "curves.png");

    // Mean squared error in the targets' units, whatever loss trained the model.
    const train::LossFunction mse = make_loss("mse");
    const double units = double(scale.stddev) * scale.stddev;
    const double test_mse = train::evaluate(model, data.test, mse).loss * units;
    const double variance = xt::variance(data.test.values->value())() * units;
    std::printf("\n%-32s %s\n", "result", "value");
    std::printf("%-32s %.3f (RMSE %.3f)\n", "test mean squared error", test_mse, std::sqrt(test_mse));
    std::printf("%-32s %.3f\n", "predicting the mean instead", variance);
    std::printf("%-32s %.3f\n", "the noise (no model does better)", noise * noise);
    std::printf("%-32s %.3f\n", "R^2 on the test split", 1 - test_mse / variance);
    std::printf("%-32s %.1f s (%zu epochs)\n", "training time", history.seconds, history.epochs.size());
    std::printf("%-32s %s\n", "curves", plotted ? (out_dir / "curves.png").c_str() : "(not drawn)");
    return 0;
  });
}
