#pragma once
// Training: one step you can call from your own loop, evaluation, and a fit() helper with the
// course's babysitting checks, progress output, metrics CSV, curves PNG and checkpoints.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>

#include "xgrad/data/fashion_mnist.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/train/checkpoint.hpp"
#include "xgrad/train/metrics.hpp"

namespace xg::train {

// What training needs from data parallelism over processes (dist::DataParallel implements it; this
// header builds without MPI). Every process runs the same loop over the same global batches.
class Replicas {
 public:
  virtual ~Replicas() = default;
  virtual std::size_t count() const = 0;
  virtual bool is_main() const = 0;  // writes checkpoints, metrics and progress; the others are quiet
  // This process's rows of a global batch; the model's forward then runs on them.
  virtual data::Batch shard(const data::Batch& global) = 0;
  // What the shard's mean loss is multiplied by before backward (count * shard rows / global rows,
  // 1 when the batch splits evenly), so that the averaged gradient is the global batch's mean.
  virtual double loss_scale() const = 0;
  // Between backward and the optimizer's step: every gradient becomes the mean over the processes.
  virtual void synchronize_gradients() = 0;
  // Sums over the processes in place (the epoch's loss and accuracy counts).
  virtual void sum(std::span<double> values) = 0;
  // Throws xg::value_error on every process when they hold different values of `what`.
  virtual void check_same(const std::string& what, std::uint64_t value) = 0;
};

// What training minimises: the model's output and the batch's targets -> the loss as a scalar, the
// mean over the batch's examples (PyTorch's reduction='mean'), e.g.
//   [](const Tensor& out, const data::Targets& y) { return mse_loss(out, y.values()); }
// An empty one is cross_entropy on class labels.
using LossFunction = std::function<Tensor(const Tensor& output, const data::Targets& targets)>;

struct StepResult {
  double loss = 0;
  std::size_t correct = 0;  // examples of the batch classified right (0 when the targets are values)
};

// Forward, the loss, backward and the optimizer's update on one batch, recorded on `tape` (cleared
// afterwards, so its buffers serve the next step). A NaN or Inf loss throws xg::numeric_error
// naming the step and the first op that produced a non-finite value; a loss that is not a scalar,
// xg::shape_error. With replicas, x and y are this process's shard and the gradients are averaged
// before the update.
StepResult train_step(nn::Module& model, optim::Optimizer& optimizer, Tape& tape, const Tensor& x,
                      const data::Targets& y, std::size_t step, Replicas* replicas = nullptr,
                      const LossFunction& loss = {});

struct Evaluation {
  double loss = 0;
  double accuracy = 0;  // NaN when the split's targets are values (regression)
};
// Loss and accuracy over a split in eval mode (batch norm's running averages, no dropout) whatever
// the model's mode before, recording nothing; that mode is restored after, so a model in train mode
// stays in it. The loss is the mean over the split's examples.
Evaluation evaluate(nn::Module& model, const data::Split& split, std::size_t batch_size = 1000);
Evaluation evaluate(nn::Module& model, const data::Split& split, const LossFunction& loss,
                    std::size_t batch_size = 1000);

// Whether a training pass skips this batch: a final batch of one example when the split has more
// (batch norm cannot normalise one example; PyTorch's drop_last, for that case only). fit and the
// tuner's runs both train this way.
inline bool is_dropped_batch(std::size_t batch_examples, std::size_t split_examples) {
  return batch_examples == 1 && split_examples > 1;
}

struct FitOptions {
  int epochs = 15;
  std::size_t batch_size = 128;
  std::uint64_t seed = 0;                 // the per-epoch shuffles derive from it
  std::filesystem::path out_dir = "out";  // metrics.csv, checkpoint.safetensors (plot_curves draws)
  bool resume = false;                    // continue from out_dir's checkpoint when there is one
  bool overwrite = false;                 // discard the run already in out_dir (else fit refuses to start)
  bool checkpoints = true;                // save one at the end of every epoch
  bool check_initial_loss = true;         // compare the first loss with log(classes)
  double divergence_factor = 100;         // stop when a step's loss exceeds it x log(classes); 0: never
                                          // (with `loss` set: it x the first step's loss, if that is > 0)
  bool quiet = false;                     // no progress output at all
  data::Augmentation augmentation{};      // applied to each training batch of images, drawn from the seed
  LossFunction loss{};                    // empty: cross_entropy; needed when the targets are values
  std::function<void(const EpochRecord&)> on_epoch_end{};  // e.g. to change the learning rate
  // Data parallelism: each global batch of batch_size split over the processes, whose metrics are
  // summed; the main one alone writes (a global batch smaller than the process count is skipped).
  Replicas* replicas = nullptr;
};

// Trains for options.epochs epochs (in total: after a resume, the remaining ones), evaluating on the
// validation split when it has examples (none: a final run on all the training data, with NaN
// validation figures), printing progress, and after each epoch saving the checkpoint, then metrics.csv.
// A classifier's splits hold labels; a regression's hold values (Split::values), with options.loss
// (e.g. mse_loss) and accuracy recorded as NaN. Checks its inputs before the first step
// (xg::value_error or shape_error: batch size, epochs, an empty training split, labels outside [0, classes),
// values that are not finite, values without a loss, an out_dir holding an earlier run without
// resume or overwrite). A final batch of one example is dropped (batch norm cannot normalise it). Stops with
// xg::numeric_error naming the epoch, step and learning rate when the loss is NaN or Inf or
// diverges (see divergence_factor). The checkpoint holds the model's describe() and
// data.standardization too. The model is left in train mode: call model.eval() before predicting.
// While it runs, the optimizer steps inside backward where its chain allows (optim::StepInBackward).
History fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& data, const FitOptions& options);

// Trains on the first n examples until every one is classified right (the course's sanity
// check: a model that cannot overfit a tiny set has a bug). Returns the epochs it took, or throws
// xg::value_error when max_epochs pass without reaching 100%.
int overfit_small(nn::Module& model, optim::Optimizer& optimizer, const data::Split& split, std::size_t n,
                  int max_epochs = 300);

}  // namespace xg::train
