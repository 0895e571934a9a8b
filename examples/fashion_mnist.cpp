// Trains an MLP on Fashion-MNIST: Linear (no bias) -> BatchNorm -> ReLU per hidden layer, softmax
// cross-entropy, Adam. Writes metrics.csv, curves.png and checkpoint.safetensors to --out.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <xgrad/xgrad.hpp>

#include "report_errors.hpp"

using namespace xg;

namespace {
nn::Sequential make_model(const std::vector<std::size_t>& hidden, std::size_t inputs, std::size_t classes) {
  std::vector<std::shared_ptr<nn::Module>> layers;
  std::size_t width = inputs;
  for (std::size_t h : hidden) {
    layers.push_back(std::make_shared<nn::Linear>(width, h, nn::no_bias));  // BatchNorm's beta is the bias
    layers.push_back(std::make_shared<nn::BatchNorm>(h));
    layers.push_back(std::make_shared<nn::ReLU>());
    width = h;
  }
  layers.push_back(std::make_shared<nn::Linear>(width, classes));
  return nn::Sequential(std::move(layers));
}

optim::Chain make_optimizer(const std::string& name, double lr) {
  if (name == "adam") return optim::adam({.lr = lr});
  if (name == "adamw") return optim::adamw({.lr = lr});
  if (name == "sgd") return optim::sgd(lr);
  if (name == "momentum") return optim::momentum({.lr = lr});
  if (name == "rmsprop") return optim::rmsprop({.lr = lr});
  throw value_error("unknown optimizer '" + name + "' (adam, adamw, sgd, momentum, rmsprop)");
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train an MLP with batch norm on Fashion-MNIST"};
  int epochs = 15, threads = 0;
  std::size_t batch_size = 128, overfit = 0;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  std::vector<std::size_t> hidden{512, 256};
  std::string optimizer_name = "adam", out = "out/fashion_mnist", data_dir = data::FashionMnistOptions{}.dir;
  bool resume = false, overwrite = false, evaluate_only = false;
  app.add_option("--epochs", epochs, "epochs to train")->capture_default_str();
  app.add_option("--batch-size", batch_size, "mini-batch size")->capture_default_str();
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  app.add_option("--hidden", hidden, "hidden layer widths")->delimiter(',')->capture_default_str();
  app.add_option("--optimizer", optimizer_name, "adam, adamw, sgd, momentum or rmsprop")->capture_default_str();
  app.add_option("--out", out, "output folder")->capture_default_str();
  app.add_option("--data", data_dir, "folder with the Fashion-MNIST .gz files")->capture_default_str();
  app.add_option("--seed", seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--threads", threads, "threads for BLAS and TBB (0: all cores)");
  app.add_flag("--resume", resume, "continue from the checkpoint in --out");
  app.add_flag("--overwrite", overwrite, "start afresh, discarding the run already in --out");
  app.add_flag("--evaluate", evaluate_only, "load the checkpoint in --out and evaluate it on the test set");
  app.add_option("--overfit-small", overfit, "sanity check: train on N examples until 100% training accuracy");
  CLI11_PARSE(app, argc, argv);

  return run_reporting_errors([&] {
    if (threads > 0) set_num_threads(threads);
    if (auto warning = blas_kernel_warning()) std::fprintf(stderr, "warning: %s\n", warning->c_str());
    nn::manual_seed(seed);
    const data::Dataset data = data::fashion_mnist({.dir = data_dir, .seed = seed});
    nn::Sequential model = make_model(hidden, data.train.images.shape()[1], data.classes);
    optim::Optimizer optimizer(model.parameters(), make_optimizer(optimizer_name, lr));
    std::cout << model.describe() << "\n";

    if (overfit > 0) {
      const int needed = train::overfit_small(model, optimizer, data.train, overfit);
      std::printf("overfit-small: %zu examples reached 100%% training accuracy after %d epochs\n", overfit, needed);
      return 0;
    }
    const std::filesystem::path out_dir(out);
    if (evaluate_only) {
      const auto checkpoint = out_dir / "checkpoint.safetensors";
      data::Standardization trained_on;
      const int epoch = train::load_checkpoint(checkpoint, model, nullptr, nullptr, &trained_on);
      // Scoring inputs standardised otherwise than in training would give a wrong figure quietly.
      if (trained_on.mean != data.standardization.mean || trained_on.stddev != data.standardization.stddev)
        throw data_error(checkpoint.string() + ": trained on inputs standardised with mean " +
                         std::to_string(trained_on.mean) + ", std " + std::to_string(trained_on.stddev) +
                         ", but these data have mean " + std::to_string(data.standardization.mean) + ", std " +
                         std::to_string(data.standardization.stddev) + ": use the --seed of the training run");
      const train::Evaluation test = train::evaluate(model, data.test);
      std::printf("checkpoint after epoch %d: test accuracy %.2f%%, test loss %.4f\n", epoch, 100 * test.accuracy,
                  test.loss);
      return 0;
    }
    std::printf("train %zu, validation %zu, test %zu examples; %d epochs of batch %zu, %s lr %g, threads %d\n",
                data.train.size(), data.validation.size(), data.test.size(), epochs, batch_size,
                optimizer_name.c_str(), lr, num_threads());
    const train::History history = train::fit(
        model, optimizer, data,
        {.epochs = epochs, .batch_size = batch_size, .seed = seed, .out_dir = out_dir, .resume = resume,
         .overwrite = overwrite});
    const train::Evaluation test = train::evaluate(model, data.test);
    const bool trained = !history.epochs.empty();  // --epochs 0, or a resume with nothing left to do
    const bool plotted = trained && train::plot_curves(out_dir / "metrics.csv", out_dir / "curves.png");

    const std::size_t examples = history.epochs.size() * data.train.size();
    const auto& last = history.epochs.empty() ? train::EpochRecord{} : history.epochs.back();
    std::printf("\n%-28s %s\n", "result", "value");
    std::printf("%-28s %.2f%%\n", "test accuracy", 100 * test.accuracy);
    std::printf("%-28s %.4f\n", "test loss", test.loss);
    std::printf("%-28s %.2f%%\n", "validation accuracy", 100 * last.validation_accuracy);
    std::printf("%-28s %.2f%%\n", "train accuracy (last epoch)", 100 * last.train_accuracy);
    std::printf("%-28s %.1f s (%zu epochs)\n", "training time", history.seconds, history.epochs.size());
    std::printf("%-28s %.2f s\n", "seconds per epoch", history.epochs.empty() ? 0.0 : history.seconds / double(history.epochs.size()));
    std::printf("%-28s %.0f\n", "examples/s", history.seconds > 0 ? double(examples) / history.seconds : 0.0);
    std::printf("%-28s %s\n", "metrics", (out_dir / "metrics.csv").c_str());
    std::printf("%-28s %s\n", "curves", plotted ? (out_dir / "curves.png").c_str() : "(not drawn)");
    std::printf("%-28s %s\n", "checkpoint", trained ? (out_dir / "checkpoint.safetensors").c_str() : "(none written)");
    return 0;
  });
}
