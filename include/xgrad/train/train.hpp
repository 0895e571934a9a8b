#pragma once
// Training: one step you can call from your own loop, evaluation, and a fit() helper with the
// course's babysitting checks, progress output, metrics CSV, curves PNG and checkpoints.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "xgrad/data/fashion_mnist.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optim.hpp"

namespace xg::train {

struct StepResult {
  double loss = 0;
  std::size_t correct = 0;  // examples of the batch classified right
};

// Forward, cross-entropy, backward and the optimizer's update on one batch, recorded on `tape`
// (cleared afterwards, so its buffers serve the next step). A NaN or Inf loss throws
// xg::numeric_error naming the step and the first op that produced a non-finite value.
StepResult train_step(nn::Module& model, optim::Optimizer& optimizer, Tape& tape, const Tensor& x,
                      std::span<const int> y, std::size_t step);

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};
// Loss and accuracy over a split in eval mode, recording nothing; the mode is restored after.
Evaluation evaluate(nn::Module& model, const data::Split& split, std::size_t batch_size = 1000);

struct EpochRecord {
  int epoch = 0;  // from 1
  double train_loss = 0, train_accuracy = 0;
  double validation_loss = 0, validation_accuracy = 0;
  double learning_rate = 0;
  double seconds = 0;
  double examples_per_second = 0;
};

struct FitOptions {
  int epochs = 15;
  std::size_t batch_size = 128;
  std::uint64_t seed = 0;                 // the per-epoch shuffles derive from it
  std::filesystem::path out_dir = "out";  // metrics.csv, curves.png, checkpoint.safetensors
  bool resume = false;                    // continue from out_dir's checkpoint when there is one
  bool checkpoints = true;                // save one at the end of every epoch
  bool check_initial_loss = true;         // compare the first loss with log(classes)
  bool quiet = false;                     // no progress output at all
  data::Augmentation augmentation{};      // applied to each training batch of images, drawn from the seed
  std::function<void(const EpochRecord&)> on_epoch_end{};  // e.g. to change the learning rate
};

struct History {
  std::vector<EpochRecord> epochs;
  int first_epoch = 1;  // > 1 after a resume
  double seconds = 0;   // training time of this run (evaluations excluded)
};

History fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& data, const FitOptions& options);

// Trains on the first n examples until every one is classified right (the course's sanity
// check: a model that cannot overfit a tiny set has a bug). Returns the epochs it took, or throws
// xg::value_error when max_epochs pass without reaching 100%.
int overfit_small(nn::Module& model, optim::Optimizer& optimizer, const data::Split& split, std::size_t n,
                  int max_epochs = 300);

// Checkpoints (safetensors): parameters, buffers and optimizer state, plus the epoch.
void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch);
// Loads into an existing model (and optimizer, when given); returns the epoch saved.
int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer = nullptr);

// metrics.csv and curves.png (gnuplot; without it the CSV is still written and a message says how
// to get the plot). Returns whether the PNG was drawn.
void write_metrics_csv(const std::filesystem::path& path, const History& history);
std::vector<EpochRecord> read_metrics_csv(const std::filesystem::path& path);  // empty if there is none
bool plot_curves(const std::filesystem::path& csv, const std::filesystem::path& png);

// Writes png's gnuplot script (png with .gp: a 1x2 multiplot whose plots plot_commands writes) and
// runs it. Without gnuplot it says where the CSV with the `what` is and how to get the plot.
bool draw_with_gnuplot(const std::filesystem::path& csv, const std::filesystem::path& png, const std::string& what,
                       const std::function<void(std::ostream&)>& plot_commands);

}  // namespace xg::train
