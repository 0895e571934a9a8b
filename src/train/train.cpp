#include "xgrad/train/train.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>

#include "xgrad/io/files.hpp"
#include "xgrad/ops.hpp"

namespace xg::train {

namespace {
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// "epoch 3/15 [########------------] 210/430  loss 0.3412  41,200 ex/s  ETA 4s", redrawn in place.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && isatty(STDOUT_FILENO)) {}
  bool live() const { return enabled_; }

  void update(int epoch, int epochs, std::size_t step, std::size_t steps, double loss, double examples_per_s) {
    if (!enabled_ || (step != steps && seconds_since(last_) < 0.1)) return;
    last_ = clock_type::now();
    const int width = 24, filled = int(width * step / std::max<std::size_t>(steps, 1));
    const double eta = examples_per_s > 0 ? double(steps - step) * batch_examples_ / examples_per_s : 0;
    std::printf("\repoch %d/%d [%s%s] %zu/%zu  loss %.4f  %.0f ex/s  ETA %.0fs ", epoch, epochs,
                std::string(filled, '#').c_str(), std::string(width - filled, '-').c_str(), step, steps, loss,
                examples_per_s, eta);
    std::fflush(stdout);
  }
  void set_batch_examples(double n) { batch_examples_ = n; }
  void finish_line() {
    if (enabled_) std::printf("\r\033[K");
  }

 private:
  bool enabled_;
  double batch_examples_ = 1;
  clock_type::time_point last_ = clock_type::now();
};

// " acc 91.25%", or nothing for a regression (accuracy NaN).
std::string accuracy_text(double accuracy) {
  if (std::isnan(accuracy)) return "";
  char text[32];
  std::snprintf(text, sizeof text, " acc %.2f%%", 100 * accuracy);
  return text;
}

void print_epoch(const EpochRecord& r, int epochs) {
  char validation[64] = "";  // nothing without a validation split (NaN)
  if (!std::isnan(r.validation_loss))
    std::snprintf(validation, sizeof validation, "  val loss %.4f%s", r.validation_loss,
                  accuracy_text(r.validation_accuracy).c_str());
  std::printf("epoch %2d/%d  train loss %.4f%s%s  lr %.2g  %.1fs  %.0f ex/s\n", r.epoch, epochs, r.train_loss,
              accuracy_text(r.train_accuracy).c_str(), validation, r.learning_rate, r.seconds, r.examples_per_second);
  std::fflush(stdout);
}

void warn_if_initial_loss_is_off(double loss, std::size_t classes) {
  const double expected = std::log(double(classes));
  if (std::abs(loss - expected) > 0.5 * expected)
    std::cerr << "warning: the first loss is " << loss << ", but a freshly initialised model over " << classes
              << " classes should give about log(" << classes << ") = " << expected
              << ": the initial weights may be too large (or the loss or the labels wrong)\n";
}

void report_gap(const EpochRecord& last) {
  if (std::isnan(last.validation_accuracy)) return;
  const double gap = 100 * (last.train_accuracy - last.validation_accuracy);
  std::printf("train/validation gap: %.2f points (train %.2f%%, validation %.2f%%)%s\n", gap,
              100 * last.train_accuracy, 100 * last.validation_accuracy,
              gap > 5 ? ": high variance; regularisation (weight decay, dropout) or more data may help" : "");
}
// The batch's loss: the user's function, or cross-entropy on labels.
Tensor batch_loss(const LossFunction& loss, const Tensor& output, const data::Targets& y) {
  if (!loss) return cross_entropy(output, y.labels());
  Tensor value = loss(output, y);
  if (value.size() != 1)
    throw shape_error("the loss function returned shape " + shape_string(value.shape()) +
                      "; it must return a scalar, the mean over the batch (e.g. Reduction::mean)");
  return value;
}
}  // namespace

StepResult train_step(nn::Module& model, optim::Optimizer& optimizer, Tape& tape, const Tensor& x,
                      const data::Targets& y, std::size_t step, Replicas* replicas, const LossFunction& loss_function) {
  StepResult result;
  {
    Tensor output = model(x);
    Tensor loss = batch_loss(loss_function, output, y);
    result.loss = loss.item();
    if (!std::isfinite(result.loss)) {
      const auto where = tape.first_non_finite();
      std::ostringstream msg;
      msg << "step " << step << ": the loss is " << result.loss;
      if (where) msg << "; the first non-finite value came from op '" << where->op << "' (record " << where->index << ")";
      msg << ". A NaN or Inf loss usually means the learning rate is too high (it is " << optimizer.learning_rate()
          << "): try a smaller one";
      tape.clear();
      throw numeric_error(msg.str());
    }
    if (y.are_labels()) result.correct = std::size_t(std::lround(accuracy(output, y.labels()) * double(y.size())));
    if (replicas && replicas->loss_scale() != 1.0) loss = loss * float(replicas->loss_scale());
    tape.backward(loss);
  }
  if (replicas) replicas->synchronize_gradients();
  optimizer.step();
  optimizer.zero_grad();
  tape.clear();
  return result;
}

Evaluation evaluate(nn::Module& model, const data::Split& split, std::size_t batch_size) {
  return evaluate(model, split, LossFunction{}, batch_size);
}

Evaluation evaluate(nn::Module& model, const data::Split& split, const LossFunction& loss, std::size_t batch_size) {
  const bool was_training = model.training();
  model.eval();
  NoGrad no_grad;
  double loss_sum = 0;
  std::size_t correct = 0;
  for (auto [x, y] : split.batches(batch_size)) {
    Tensor output = model(x);
    loss_sum += batch_loss(loss, output, y).item() * double(y.size());
    if (y.are_labels()) correct += std::size_t(accuracy(output, y.labels()) * double(y.size()) + 0.5);
  }
  model.train(was_training);
  const double n = double(std::max<std::size_t>(split.size(), 1));
  return {loss_sum / n, split.values ? std::nan("") : double(correct) / n};
}

namespace {
// The batches an epoch trains on (see is_dropped_batch).
std::size_t batches_per_epoch(std::size_t examples, std::size_t batch_size) {
  const std::size_t full = examples / batch_size, rest = examples % batch_size;
  return full + (rest > 0 && !is_dropped_batch(rest, examples) ? 1 : 0);
}

void check_split(const char* name, const data::Split& split, const data::Split& train, std::size_t classes) {
  const std::size_t features = train.features();
  if (split.images.shape().size() < 2 || split.images.shape()[0] != split.size() || split.features() != features)
    throw shape_error(std::string("fit: the ") + name + " images have shape " + shape_string(split.images.shape()) +
                      "; expected " + shape_string(shape_type{split.size(), features}) +
                      " (an example per target, as many values each as the training images)");
  if (bool(split.values) != bool(train.values))
    throw value_error(std::string("fit: the ") + name + " split holds " + (split.values ? "values" : "labels") +
                      " but the training split " + (train.values ? "values" : "labels") + "; both must predict the same");
  if (split.values) {
    if (!split.labels.empty())
      throw value_error(std::string("fit: the ") + name + " split holds both labels and values; it predicts one or the other");
    const std::size_t row = split.size() ? split.values->size() / split.size() : 0;
    const auto& values = split.values->value();
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values.data()[i]))
        throw value_error(std::string("fit: ") + name + " target value " + std::to_string(values.data()[i]) +
                          " (example " + std::to_string(i / row) + ") is not finite");
    return;
  }
  for (std::size_t i = 0; i < split.size(); ++i)
    if (split.labels[i] < 0 || std::size_t(split.labels[i]) >= classes)
      throw value_error(std::string("fit: ") + name + " label " + std::to_string(split.labels[i]) + " (example " +
                        std::to_string(i) + ") is outside [0, " + std::to_string(classes) + ")");
}

// Everything fit can check before the first step, so that a bad input fails in a second, not after
// an epoch of training.
void check_fit_inputs(const data::Dataset& data, const FitOptions& options) {
  if (options.batch_size == 0) throw value_error("fit: batch_size is 0; it must be at least 1");
  if (options.epochs < 0) throw value_error("fit: epochs is " + std::to_string(options.epochs) + "; it must be >= 0");
  if (!(options.divergence_factor >= 0))
    throw value_error("fit: divergence_factor is " + std::to_string(options.divergence_factor) + "; it must be >= 0");
  if (options.resume && options.overwrite)
    throw value_error("fit: resume and overwrite both set; resume continues the run in out_dir, overwrite discards it");
  if (data.train.size() == 0) throw value_error("fit: the training split is empty (0 examples)");
  if (data.train.values) {
    if (!options.loss)
      throw value_error("fit: the training split holds values (regression), not class labels: set FitOptions::loss, "
                        "e.g. mse_loss(output, targets.values())");
  } else if (data.classes < 2) {
    throw value_error("fit: the dataset has " + std::to_string(data.classes) + " classes; at least 2 are needed");
  }
  check_split("training", data.train, data.train, data.classes);
  // No validation split: a final run on all the training data, once the hyperparameters are chosen.
  if (data.validation.size() > 0) check_split("validation", data.validation, data.train, data.classes);
}

// Stops a run whose loss exceeds divergence_factor times a reference: the loss of a uniform guess
// over the classes (log(classes)) for cross-entropy, whose scale is known; for a loss of the user's,
// the run's first step's, when it is > 0.
class DivergenceCheck {
 public:
  DivergenceCheck(const FitOptions& options, std::size_t classes) : factor_(options.divergence_factor) {
    if (!options.loss) {
      const std::string log_classes = "log(" + std::to_string(classes) + ")";
      reference_ = {std::log(double(classes)), log_classes, " (a uniform guess scores " + log_classes + ")"};
    }
  }

  void check(double loss, int epoch, std::size_t step, double learning_rate) {
    if (factor_ == 0) return;
    if (!reference_) {
      std::ostringstream name;
      name << "the first step's loss " << loss;
      reference_ = {loss > 0 ? loss : std::numeric_limits<double>::infinity(), name.str(), ""};
      return;
    }
    const double limit = factor_ * reference_->loss;
    if (!(loss > limit)) return;
    std::ostringstream msg;
    msg << "epoch " << epoch << ", step " << step << ": the loss is " << loss << ", over " << factor_ << " x "
        << reference_->name << " = " << limit << reference_->why
        << ": training diverged. The learning rate (" << learning_rate
        << ") is probably too high: try one 10x smaller. The last checkpoint, if any, is from before this epoch";
    throw numeric_error(msg.str());
  }

 private:
  struct Reference {
    double loss;
    std::string name, why;
  };
  double factor_;
  std::optional<Reference> reference_;
};
}  // namespace

History fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& data, const FitOptions& options) {
  check_fit_inputs(data, options);
  Replicas* replicas = options.replicas;
  const bool writes = !replicas || replicas->is_main();
  if (replicas) replicas->check_same("the batch size", options.batch_size);
  if (writes) io::create_folder(options.out_dir);
  const auto checkpoint = options.out_dir / "checkpoint.safetensors";
  const auto csv = options.out_dir / "metrics.csv";
  // A folder whose metrics hold no epoch (a run stopped in its first) has nothing to lose.
  const bool earlier_run = io::file_exists(checkpoint) || !read_metrics_csv(csv).empty();
  if (earlier_run && !options.resume && !options.overwrite)
    throw value_error("fit: " + options.out_dir.string() +
                      " already holds a run (checkpoint.safetensors or metrics.csv): resume it (resume, --resume), "
                      "start over (overwrite, --overwrite) or choose another out_dir");
  History history;
  History logged;  // what metrics.csv holds: after a resume, the earlier run's rows too
  if (options.overwrite && writes) io::remove_file(checkpoint);  // so that a later resume cannot find the old run
  if (options.resume && io::file_exists(checkpoint)) {
    history.first_epoch = load_checkpoint(checkpoint, model, &optimizer, &logged.epochs) + 1;
    if (logged.epochs.empty())  // a checkpoint from before the metrics were kept in it
      for (const EpochRecord& r : read_metrics_csv(csv))
        if (r.epoch < history.first_epoch) logged.epochs.push_back(r);
    if (!options.quiet && writes) std::printf("resumed from %s after epoch %d\n", checkpoint.c_str(), history.first_epoch - 1);
  }
  // Every process reads the checkpoint (a shared folder): they must all have found the same one.
  if (replicas) replicas->check_same("the epoch to resume after", std::uint64_t(history.first_epoch - 1));
  if (writes) write_metrics_csv(csv, logged);  // rebuilt from the checkpoint: a row lost to a crash comes back
  const bool quiet = options.quiet || !writes;
  ProgressBar bar(!quiet);
  bar.set_batch_examples(double(options.batch_size));
  // Each update while its gradient is in cache; not with replicas, whose gradients are only final
  // once they are averaged across the processes.
  std::optional<optim::StepInBackward> in_backward;
  if (!replicas) in_backward.emplace(optimizer);
  Tape tape;
  const std::size_t steps_per_epoch = batches_per_epoch(data.train.size(), options.batch_size);
  DivergenceCheck divergence(options, data.classes);
  std::size_t step = std::size_t(history.first_epoch - 1) * steps_per_epoch;
  for (int epoch = history.first_epoch; epoch <= options.epochs; ++epoch) {
    model.train();
    optimizer.set_epoch(epoch - 1);
    const auto t0 = clock_type::now();
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0, batch_index = 0;
    // A stream per epoch, so that a resumed run draws what the uninterrupted one would have.
    Generator augmentation_gen(options.seed * 1000003 + std::uint64_t(epoch) + 0x5eed);
    const float background = -data.standardization.mean / data.standardization.stddev;
    for (auto [x, y] : data.train.batches(options.batch_size, data::Shuffle{options.seed * 1000003 + std::uint64_t(epoch)})) {
      if (is_dropped_batch(y.size(), data.train.size())) break;
      if (replicas && y.size() < replicas->count()) continue;
      if (options.augmentation.enabled()) data::augment(x, options.augmentation, background, augmentation_gen);
      const data::Batch local = replicas ? replicas->shard({x, y}) : data::Batch{x, y};
      const StepResult r = train_step(model, optimizer, tape, local.x, local.y, ++step, replicas, options.loss);
      if (options.check_initial_loss && !options.loss && writes && step == 1)
        warn_if_initial_loss_is_off(r.loss, data.classes);
      divergence.check(r.loss, epoch, step, optimizer.learning_rate());
      loss_sum += r.loss * double(local.y.size());
      correct += r.correct;
      seen += local.y.size();
      bar.update(epoch, options.epochs, ++batch_index, steps_per_epoch, loss_sum / double(seen),
                 double(seen) / seconds_since(t0));
    }
    if (replicas) {
      double totals[] = {loss_sum, double(correct), double(seen)};
      replicas->sum(totals);
      loss_sum = totals[0];
      correct = std::size_t(totals[1]);
      seen = std::size_t(totals[2]);
    }
    EpochRecord record;
    record.epoch = epoch;
    record.seconds = seconds_since(t0);
    record.examples_per_second = double(seen) / record.seconds;
    record.train_loss = loss_sum / double(seen);
    record.train_accuracy = data.train.values ? std::nan("") : double(correct) / double(seen);
    record.learning_rate = optimizer.learning_rate();
    if (data.validation.size() > 0) {
      const Evaluation validation = evaluate(model, data.validation, options.loss);
      record.validation_loss = validation.loss;
      record.validation_accuracy = validation.accuracy;
    } else {
      record.validation_loss = record.validation_accuracy = std::nan("");
    }
    history.seconds += record.seconds;
    history.epochs.push_back(record);
    logged.epochs.push_back(record);
    bar.finish_line();
    if (!quiet) print_epoch(record, options.epochs);
    // The checkpoint first, with the rows: a crash before the CSV is written loses nothing.
    if (writes && options.checkpoints)
      save_checkpoint(checkpoint, model, optimizer, epoch, logged.epochs, data.standardization);
    if (writes) write_metrics_csv(csv, logged);
    if (options.on_epoch_end) options.on_epoch_end(record);
  }
  if (!quiet && !history.epochs.empty()) report_gap(history.epochs.back());
  return history;
}

int overfit_small(nn::Module& model, optim::Optimizer& optimizer, const data::Split& split, std::size_t n,
                  int max_epochs) {
  const data::Split small = split.head(n);
  Tape tape;
  std::size_t step = 0;
  for (int epoch = 1; epoch <= max_epochs; ++epoch) {
    model.train();
    for (auto [x, y] : small.batches(n)) train_step(model, optimizer, tape, x, y, ++step);
    if (evaluate(model, small).accuracy == 1.0) return epoch;
  }
  throw value_error("overfit_small: " + std::to_string(n) + " examples not all classified right after " +
                    std::to_string(max_epochs) +
                    " epochs; a model that cannot overfit a tiny set usually has a bug (or a learning rate far off)");
}

}  // namespace xg::train
