// Tunes the Fashion-MNIST MLP (Linear -> BatchNorm -> ReLU, widths h and h/2, AdamW): learning rate,
// beta1, hidden width, batch size and weight decay, by random search under successive halving,
// synchronous or asynchronous (ASHA), or median stopping (budget unit: epochs of the training split,
// fractions allowed) with trials in parallel, over coarse-to-fine
// rounds; then retrains the best configuration and the default one the same way and compares them
// on the test set. Writes trials.csv, trials.png, best.json and each retrain's fit() files to --out.
#include <chrono>
#include <cstdio>

#include <memory>

#include <CLI/CLI.hpp>
#include <xgrad/xgrad.hpp>

#include "report_errors.hpp"

using namespace xg;

namespace {
// What examples/fashion_mnist.cpp trains by default, as a point of the search space.
const tune::Config default_config({{"lr", 1e-3}, {"beta1", 0.9}, {"hidden", 512}, {"batch_size", 128}, {"weight_decay", 0}});

tune::SearchSpace search_space() {
  tune::SearchSpace space;
  space.add("lr", tune::log_uniform(1e-4, 1))
      .add("beta1", tune::one_minus_log_uniform(0.9, 0.999))
      .add("hidden", tune::choice({64, 128, 256, 512, 1024}))
      .add("batch_size", tune::choice({32, 64, 128, 256}))
      .add("weight_decay", tune::log_uniform(1e-6, 1e-2));
  return space;
}

std::shared_ptr<nn::Sequential> make_model(const tune::Config& c, std::size_t inputs, std::size_t classes) {
  const auto h = std::size_t(c.integer("hidden"));
  return std::make_shared<nn::Sequential>(nn::Linear(inputs, h, nn::no_bias), nn::BatchNorm(h), nn::ReLU(),
                                          nn::Linear(h, h / 2, nn::no_bias), nn::BatchNorm(h / 2), nn::ReLU(),
                                          nn::Linear(h / 2, classes));
}

optim::Chain make_optimizer(const tune::Config& c, optim::Hyper lr) {
  return optim::adamw({.lr = lr, .beta1 = c["beta1"], .weight_decay = c["weight_decay"]});
}

std::string describe(const tune::Config& c) {
  char text[160];
  std::snprintf(text, sizeof text, "lr %.3g  beta1 %.4f  hidden %ld  batch %ld  weight decay %.2g", c["lr"],
                c["beta1"], c.integer("hidden"), c.integer("batch_size"), c["weight_decay"]);
  return text;
}

// The "panda" approach: one model babysat by fit() (progress, checkpoints, metrics), its learning
// rate halved between epochs whenever the validation accuracy stops improving.
train::Evaluation retrain(const tune::Config& c, const data::Dataset& data, int epochs, std::uint64_t seed,
                          const std::filesystem::path& out_dir, bool overwrite) {
  nn::manual_seed(seed);
  auto model = make_model(c, data.train.features(), data.classes);
  tune::AdjustableLearningRate rate(c["lr"]);
  optim::Optimizer optimizer(model->parameters(), make_optimizer(c, rate.lr()));
  double best_validation = 0;
  const auto halve_on_plateau = [&](const train::EpochRecord& r) {
    if (r.validation_accuracy <= best_validation) {
      rate.set(rate.get() / 2);
      std::printf("validation accuracy did not improve: learning rate now %.3g\n", rate.get());
    }
    best_validation = std::max(best_validation, r.validation_accuracy);
  };
  train::fit(*model, optimizer, data,
             {.epochs = epochs, .batch_size = std::size_t(c.integer("batch_size")), .seed = seed, .out_dir = out_dir,
              .overwrite = overwrite, .on_epoch_end = halve_on_plateau});
  train::plot_curves(out_dir / "metrics.csv", out_dir / "curves.png");
  return train::evaluate(*model, data.test);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tune the Fashion-MNIST MLP: random search, successive halving (synchronous or ASHA), coarse to fine"};
  std::size_t trials = 40, keep = 5, train_examples = 0;
  int rounds = 2, threads = 1, asha_workers = 4, retrain_epochs = 10;
  double eta = 3, min_budget = 0.25, max_budget = 2.25;
  std::uint64_t seed = 0;
  std::string scheduler = "halving", out = "out/tune_fashion_mnist", data_dir = data::FashionMnistOptions{}.dir;
  app.add_option("--trials", trials, "trials per coarse-to-fine round")->capture_default_str();
  app.add_option("--rounds", rounds, "coarse-to-fine rounds")->capture_default_str();
  app.add_option("--keep", keep, "best trials each round narrows the ranges around")->capture_default_str();
  app.add_option("--scheduler", scheduler, "halving (successive halving), asha (asynchronous successive halving) or median (median stopping)")
      ->check(CLI::IsMember({"halving", "asha", "median"}))
      ->capture_default_str();
  app.add_option("--asha-workers", asha_workers, "ASHA's virtual workers: jobs in flight at once, whatever --threads")
      ->capture_default_str();
  app.add_option("--eta", eta, "successive halving keeps 1/eta per rung; budgets grow by eta")->capture_default_str();
  app.add_option("--min-budget", min_budget, "first rung's budget, in epochs")->capture_default_str();
  app.add_option("--max-budget", max_budget, "last rung's budget, in epochs")->capture_default_str();
  app.add_option("--train-examples", train_examples, "train the trials on the first N training examples (0: all)");
  app.add_option("--threads", threads, "trials trained at once (BLAS single-threaded inside each)")->capture_default_str();
  app.add_option("--retrain-epochs", retrain_epochs, "epochs to retrain the best and the default configuration (0: skip)")
      ->capture_default_str();
  app.add_option("--seed", seed, "search seed: the same seed gives the same trials and results")->capture_default_str();
  app.add_option("--out", out, "output folder")->capture_default_str();
  app.add_option("--data", data_dir, "folder with the Fashion-MNIST .gz files")->capture_default_str();
  bool overwrite = false;
  app.add_flag("--overwrite", overwrite, "replace the retrained runs already in --out");
  CLI11_PARSE(app, argc, argv);

  return run_reporting_errors([&] {
#ifdef XGRAD_WITH_MPI
    // Under mpirun the trials spread over the ranks; rank 0 prints, writes and retrains.
    std::unique_ptr<dist::Context> world = dist::launched_by_mpi() ? std::make_unique<dist::Context>(argc, argv) : nullptr;
    std::unique_ptr<dist::TrialProcesses> ranks = world ? std::make_unique<dist::TrialProcesses>(*world) : nullptr;
    if (world && !world->is_main()) std::freopen("/dev/null", "w", stdout);
    tune::Processes* processes = ranks.get();
#else
    tune::Processes* processes = nullptr;
#endif
    if (auto warning = blas_kernel_warning()) std::fprintf(stderr, "warning: %s\n", warning->c_str());
    const std::filesystem::path out_dir(out);
    if (train_examples == 1)
      throw value_error("--train-examples 1: the model's batch norm needs at least 2 examples in a batch");
    // Every place results go, checked before hours of searching rather than after.
    for (const auto& folder : {out_dir, out_dir / "best", out_dir / "default"}) io::check_writable_folder(folder);
    if (retrain_epochs > 0 && !overwrite)
      for (const auto& folder : {out_dir / "best", out_dir / "default"})
        if (io::file_exists(folder / "checkpoint.safetensors") || io::file_exists(folder / "metrics.csv"))
          throw value_error(folder.string() + " already holds a retrained run: pass --overwrite to replace it, or "
                            "choose another --out");
    const data::Dataset data = data::fashion_mnist({.dir = data_dir, .seed = seed});
    data::Dataset trial_data = data;  // the trials' copy, maybe smaller; shared read-only by all of them
    if (train_examples > 0) trial_data.train = data.train.head(train_examples);

    const tune::Objective objective = [&](const tune::Config& c, std::uint64_t trial_seed) {
      nn::manual_seed(trial_seed);  // this thread's generator: the model depends on the trial alone
      auto model = make_model(c, trial_data.train.features(), trial_data.classes);
      auto chain = make_optimizer(c, c["lr"]);
      return std::make_unique<tune::ClassifierRun>(model, std::move(chain), trial_data,
                                                   std::size_t(c.integer("batch_size")), trial_seed);
    };
    const tune::SearchOptions search{
        .trials = trials,
        .scheduler = scheduler == "asha"     ? tune::Scheduler::asha
                     : scheduler == "median" ? tune::Scheduler::median_stopping
                                             : tune::Scheduler::successive_halving,
        .eta = eta, .min_budget = min_budget, .max_budget = max_budget, .seed = seed, .threads = threads,
        .asha_workers = asha_workers,
        .on_rung_end = [](const tune::Trial& t) {
          std::printf("round %d trial %3zu rung %d (%.2f epochs)  val acc %6.2f%%  loss %.4f  %5.1fs  %s%s%s\n", t.round,
                      t.id, t.rung, t.budget, 100 * t.score.accuracy, t.score.loss, t.seconds,
                      describe(t.config).c_str(), t.error.empty() ? "" : "  failed: ", t.error.c_str());
          std::fflush(stdout);
        },
        .processes = processes};
    std::printf("%zu trials x %d rounds on %zu training examples, %s, rungs of", trials, rounds, trial_data.train.size(),
                scheduler.c_str());
    for (double b : tune::rung_budgets(search)) std::printf(" %.3g", b);
    std::printf(" epochs, %d at a time", threads);
    if (processes) std::printf(" on each of %zu ranks", processes->count());
    if (search.scheduler == tune::Scheduler::asha) std::printf(" (%d virtual workers)", asha_workers);
    std::printf("\n");

    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<tune::Trial> results =
        tune::coarse_to_fine(search_space(), objective, {.rounds = rounds, .keep = keep, .search = search});
    const double search_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (processes && processes->index() != 0) return 0;  // rank 0 has the same results and writes them
    if (results.front().rung < 0)  // sorted best first: none completed a rung
      throw value_error("every trial failed before its first rung, e.g. with: " + results.front().error);

    tune::write_trials_csv(out_dir / "trials.csv", results);
    tune::save_trial_json(out_dir / "best.json", results.front());
    const bool plotted = tune::plot_trials(out_dir / "trials.csv", out_dir / "trials.png", search_space(), "lr", "beta1");
    const tune::Trial& best = results.front();
    std::printf("\nsearch: %zu trials in %.1f s with %d thread(s)\n", results.size(), search_seconds, threads);
    std::printf("best: trial %zu (round %d), validation accuracy %.2f%% after %.3g epochs\n      %s\n", best.id,
                best.round, 100 * best.score.accuracy, best.budget, describe(best.config).c_str());
    std::printf("files: %s, %s, %s\n", (out_dir / "trials.csv").c_str(), (out_dir / "best.json").c_str(),
                plotted ? (out_dir / "trials.png").c_str() : "(no plot)");
    if (retrain_epochs <= 0) return 0;

    set_num_threads(threads);  // one model now: BLAS gets the threads
    std::printf("\nretraining the best configuration for %d epochs\n", retrain_epochs);
    const train::Evaluation tuned = retrain(best.config, data, retrain_epochs, seed, out_dir / "best", overwrite);
    std::printf("\nretraining the default configuration for %d epochs\n", retrain_epochs);
    const train::Evaluation baseline = retrain(default_config, data, retrain_epochs, seed, out_dir / "default", overwrite);
    std::printf("\n%-9s %-70s %s\n", "model", "configuration", "test accuracy");
    std::printf("%-9s %-70s %.2f%%\n", "tuned", describe(best.config).c_str(), 100 * tuned.accuracy);
    std::printf("%-9s %-70s %.2f%%\n", "default", describe(default_config).c_str(), 100 * baseline.accuracy);
    return 0;
  });
}
