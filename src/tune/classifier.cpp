#include "xgrad/tune/classifier.hpp"

#include <cmath>
#include <string>

#include "xgrad/errors.hpp"
#include "xgrad/train/train.hpp"

namespace xg::tune {

ClassifierRun::ClassifierRun(std::shared_ptr<nn::Module> model, optim::Chain chain, const data::Dataset& data,
                             std::size_t batch_size, std::uint64_t seed)
    : model_(std::move(model)),
      optimizer_(model_->parameters(), std::move(chain)),
      data_(data),
      batch_size_(batch_size),
      seed_(seed) {
  if (data_.train.size() == 0) throw value_error("tune::ClassifierRun: the training split is empty");
  if (data_.validation.size() == 0)
    throw value_error("tune::ClassifierRun: the validation split is empty; trials are scored on it");
}

Score ClassifierRun::train_until(double epochs) {
  const auto target = std::size_t(std::llround(epochs * double(data_.train.size())));
  model_->train();
  // A tape per call: a tape is active on the thread that creates it, and a trial's rungs may run
  // on different threads.
  Tape tape;
  while (examples_seen_ < target) {
    if (!epoch_batches_ || next_batch_ == std::default_sentinel) {
      ++epoch_;
      optimizer_.set_epoch(epoch_);
      epoch_batches_.emplace(data_.train.batches(batch_size_, data::Shuffle{derive_seed(seed_, std::uint64_t(epoch_))}));
      next_batch_ = epoch_batches_->begin();
    }
    const auto& [x, y] = *next_batch_;
    if (!train::is_dropped_batch(y.size(), data_.train.size())) {
      train::train_step(*model_, optimizer_, tape, x, y, ++steps_);
      examples_seen_ += y.size();
    }
    ++next_batch_;
  }
  const train::Evaluation validation = train::evaluate(*model_, data_.validation);
  return {validation.accuracy, validation.loss};
}

void AdjustableLearningRate::set(double lr) {
  if (!(lr > 0) || !std::isfinite(lr))
    throw value_error("tune::AdjustableLearningRate::set: the learning rate must be finite and > 0, got " +
                      std::to_string(lr));
  lr_.mutable_value()() = float(lr);
}

}  // namespace xg::tune
