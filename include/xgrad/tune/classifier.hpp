#pragma once
// Tuning classifiers built with xg::nn: a Run whose budget unit is epochs (fractions allowed) of the
// training split, trained with xg::train::train_step and scored with xg::train::evaluate on the
// validation split; and a learning rate that can be changed between epochs (the "panda" approach).
#include <cstdint>
#include <memory>
#include <optional>

#include "xgrad/data/dataset.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/tune/search.hpp"

namespace xg::tune {

class ClassifierRun : public Run {
 public:
  // `data` is shared read-only between trials and must outlive the run. The run's epoch shuffles
  // derive from `seed`.
  ClassifierRun(std::shared_ptr<nn::Module> model, optim::Chain chain, const data::Dataset& data,
                std::size_t batch_size, std::uint64_t seed);
  // Trains until `epochs` epochs in total (stopping mid-epoch if the budget says so, and carrying on
  // from there next time), then evaluates on the validation split.
  Score train_until(double epochs) override;

  nn::Module& model() { return *model_; }

 private:
  std::shared_ptr<nn::Module> model_;
  optim::Optimizer optimizer_;
  const data::Dataset& data_;
  std::size_t batch_size_;
  std::uint64_t seed_;
  std::size_t examples_seen_ = 0, steps_ = 0;
  long epoch_ = -1;
  std::optional<data::BatchRange> epoch_batches_;  // the current epoch, and where it stopped
  data::BatchRange::iterator next_batch_;
};

// A learning rate as a hyperparameter tensor: give lr() to an optimizer ({.lr = rate.lr()}) and
// set() it between epochs (in train::FitOptions::on_epoch_end, say); every later step uses it.
class AdjustableLearningRate {
 public:
  explicit AdjustableLearningRate(double initial) : lr_(Tensor::scalar(float(initial))) {}
  optim::Hyper lr() const { return lr_; }
  double get() const { return lr_.item(); }
  void set(double lr);  // throws value_error unless lr > 0

 private:
  Tensor lr_;
};

}  // namespace xg::tune
