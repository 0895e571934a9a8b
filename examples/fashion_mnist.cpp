// Trains an MLP or a CNN on Fashion-MNIST, softmax cross-entropy, Adam. MLP: Linear (no bias) ->
// BatchNorm -> ReLU per hidden layer. CNN (--model cnn): two Conv 5x5 (no bias) -> BatchNorm -> ReLU
// -> MaxPool 2 blocks, then Linear 3136 -> 256 (no bias) -> BatchNorm -> ReLU -> Dropout 0.3 ->
// Linear 256 -> 10, with a cosine learning-rate decay and random shifts by default.
// Writes metrics.csv, curves.png and checkpoint.safetensors to --out.
// `mpirun -np K fashion_mnist --distributed` trains data-parallel: each global batch split over the
// K ranks (docs/distributed.md); rank 0 prints and writes.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

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

// The recipe: the published "2 Conv + pooling + BN" entry of the benchmark table.
nn::Sequential make_cnn(std::size_t classes) {
  return nn::Sequential{
      nn::Conv2d(1, 32, 5, {.padding = 2, .bias = false}), nn::BatchNorm(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 5, {.padding = 2, .bias = false}), nn::BatchNorm(64), nn::ReLU(), nn::MaxPool2d(2),
      nn::Flatten(), nn::Linear(3136, 256, nn::no_bias), nn::BatchNorm(256), nn::ReLU(), nn::Dropout(0.3),
      nn::Linear(256, classes)};
}

optim::Schedule make_schedule(const std::string& name, double lr, int epochs) {
  if (name == "constant") return optim::constant_schedule(lr);
  if (name == "cosine") return optim::cosine_decay(lr, std::max(epochs, 1));  // --epochs 0 trains nothing
  throw value_error("unknown schedule '" + name + "' (constant, cosine)");
}

optim::Chain make_optimizer(const std::string& name, const optim::Schedule& lr) {
  if (name == "adam") return optim::chain(optim::scale_by_adam(), optim::scale_by_learning_rate(lr));
  if (name == "adamw")
    return optim::chain(optim::scale_by_adam(), optim::add_decayed_weights(1e-2), optim::scale_by_learning_rate(lr));
  if (name == "sgd") return optim::chain(optim::scale_by_sgd(), optim::scale_by_learning_rate(lr));
  if (name == "momentum") return optim::chain(optim::scale_by_momentum(0.9), optim::scale_by_learning_rate(lr));
  if (name == "rmsprop") return optim::chain(optim::scale_by_rmsprop(0.9, 1e-8), optim::scale_by_learning_rate(lr));
  throw value_error("unknown optimizer '" + name + "' (adam, adamw, sgd, momentum, rmsprop)");
}
// Cross-entropy with label smoothing s (none for 0: fit's own cross-entropy, with its first-loss check).
train::LossFunction smoothed_cross_entropy(double s) {
  if (s == 0) return {};
  return [s](const Tensor& logits, const data::Targets& y) {
    return cross_entropy(logits, y.labels(), {.label_smoothing = s});
  };
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train an MLP or a CNN with batch norm on Fashion-MNIST"};
  int epochs = 15, threads = 0;
  std::size_t batch_size = 128, overfit = 0;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  std::vector<std::size_t> hidden{512, 256};
  std::string model_name = "mlp", optimizer_name = "adam", schedule_name, out, data_dir = data::FashionMnistOptions{}.dir;
  bool resume = false, overwrite = false, evaluate_only = false, distributed = false;
  std::size_t bucket_mb = 25, validation = data::FashionMnistOptions{}.validation;
  std::optional<std::size_t> max_shift;
  bool flip = false;
  double erase_probability = 0;
  double label_smoothing = 0;
  app.add_option("--model", model_name, "mlp or cnn (the recipe of issue 13)")->capture_default_str();
  app.add_option("--epochs", epochs, "epochs to train")->capture_default_str();
  app.add_option("--batch-size", batch_size, "mini-batch size")->capture_default_str();
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  app.add_option("--hidden", hidden, "hidden layer widths")->delimiter(',')->capture_default_str();
  app.add_option("--optimizer", optimizer_name, "adam, adamw, sgd, momentum or rmsprop")->capture_default_str();
  app.add_option("--schedule", schedule_name, "learning rate over the epochs: constant or cosine (default: constant for mlp, cosine for cnn)");
  app.add_option("--shift", max_shift, "random shifts of training images by up to N pixels (default: 0 for mlp, 2 for cnn)");
  // Off for both models: with the cnn recipe, flips cost validation accuracy (docs/performance.md).
  app.add_flag("--flip,!--no-flip", flip, "random horizontal flips of training images (default: off)");
  app.add_option("--erase", erase_probability,
                 "random erasing: probability of hiding a rectangle of each training image")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--out", out, "output folder (default: out/fashion_mnist, out/fashion_mnist_cnn for cnn)");
  app.add_option("--data", data_dir, "folder with the Fashion-MNIST .gz files")->capture_default_str();
  app.add_option("--validation", validation,
                 "training examples held out to validate on (0: train on all 60,000, once the settings are chosen)")
      ->capture_default_str();
  app.add_option("--seed", seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--label-smoothing", label_smoothing, "cross-entropy against (1 - s) one-hot + s uniform")
      ->capture_default_str();
  app.add_option("--threads", threads, "threads for BLAS and TBB (0: all cores)");
  app.add_flag("--resume", resume, "continue from the checkpoint in --out");
  app.add_flag("--overwrite", overwrite, "start afresh, discarding the run already in --out");
  app.add_flag("--evaluate", evaluate_only, "load the checkpoint in --out and evaluate it on the test set");
  app.add_option("--overfit-small", overfit, "sanity check: train on N examples until 100% training accuracy");
  app.add_flag("--distributed", distributed, "data-parallel over the ranks of mpirun (--batch-size is the global batch)");
  app.add_option("--bucket-mb", bucket_mb, "with --distributed: MiB of gradients per allreduce")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  return run_reporting_errors([&] {
#ifdef XGRAD_WITH_MPI
    std::unique_ptr<dist::Context> world = distributed ? std::make_unique<dist::Context>(argc, argv) : nullptr;
    // Quiet ranks: only rank 0 prints (errors still reach stderr from every rank).
    if (world && !world->is_main()) std::freopen("/dev/null", "w", stdout);
#else
    if (distributed) throw value_error("--distributed: this build has no MPI (install libopenmpi-dev, then reconfigure)");
#endif
    if (model_name != "mlp" && model_name != "cnn") throw value_error("unknown model '" + model_name + "' (mlp, cnn)");
    const bool cnn = model_name == "cnn";
    if (schedule_name.empty()) schedule_name = cnn ? "cosine" : "constant";
    if (out.empty()) out = cnn ? "out/fashion_mnist_cnn" : "out/fashion_mnist";
    const data::Augmentation augmentation{.max_shift = max_shift.value_or(cnn ? 2 : 0),
                                          .horizontal_flip = flip,
                                          .erase_probability = erase_probability};
    if (threads > 0) set_num_threads(threads);
    if (auto warning = blas_kernel_warning()) std::fprintf(stderr, "warning: %s\n", warning->c_str());
    nn::manual_seed(seed);
    const data::Dataset data = data::fashion_mnist({.dir = data_dir, .validation = validation, .seed = seed, .as_images = cnn});
    nn::Sequential model = cnn ? make_cnn(data.classes) : make_model(hidden, data.train.features(), data.classes);
    optim::Optimizer optimizer(model.parameters(),
                               make_optimizer(optimizer_name, make_schedule(schedule_name, lr, epochs)));
    std::cout << model.describe(data.train.images.shape_vector().size() == 4 ? shape_type{1, 1, 28, 28}
                                                                             : shape_type{1, data.train.features()})
              << "\n";
#ifdef XGRAD_WITH_MPI
    std::unique_ptr<dist::DataParallel> ddp =
        world ? std::make_unique<dist::DataParallel>(model, *world, dist::DataParallelOptions{.bucket_bytes = bucket_mb << 20})
              : nullptr;
    train::Replicas* replicas = ddp.get();
    if (world) std::printf("data-parallel over %d ranks: %zu gradient buckets of up to %zu MiB\n", world->size(),
                           ddp->buckets().bucket_count(), bucket_mb);
#else
    train::Replicas* replicas = nullptr;
#endif

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
                         std::to_string(data.standardization.stddev) + ": use the --seed and --validation of the training run");
      const train::Evaluation test = train::evaluate(model, data.test);
      std::printf("checkpoint after epoch %d: test accuracy %.2f%%, test loss %.4f\n", epoch, 100 * test.accuracy,
                  test.loss);
      return 0;
    }
    std::printf("train %zu, validation %zu, test %zu examples; %d epochs of batch %zu, %s lr %g (%s), shifts up to %zu px%s, erasing %g, threads %d\n",
                data.train.size(), data.validation.size(), data.test.size(), epochs, batch_size,
                optimizer_name.c_str(), lr, schedule_name.c_str(), augmentation.max_shift,
                augmentation.horizontal_flip ? ", flips" : "", augmentation.erase_probability, num_threads());
    const train::History history =
        train::fit(model, optimizer, data,
                   {.epochs = epochs, .batch_size = batch_size, .seed = seed, .out_dir = out_dir, .resume = resume,
                    .overwrite = overwrite, .augmentation = augmentation, .loss = smoothed_cross_entropy(label_smoothing),
                    .replicas = replicas});
    const train::Evaluation test = train::evaluate(model, data.test);
    const bool trained = !history.epochs.empty();  // --epochs 0, or a resume with nothing left to do
    const bool plotted = trained && (!replicas || replicas->is_main()) &&
                         train::plot_curves(out_dir / "metrics.csv", out_dir / "curves.png");

    const std::size_t examples = history.epochs.size() * data.train.size();
    const auto& last = history.epochs.empty() ? train::EpochRecord{} : history.epochs.back();
    std::printf("\n%-28s %s\n", "result", "value");
    std::printf("%-28s %.2f%%\n", "test accuracy", 100 * test.accuracy);
    std::printf("%-28s %.4f\n", "test loss", test.loss);
    if (data.validation.size() > 0)
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
