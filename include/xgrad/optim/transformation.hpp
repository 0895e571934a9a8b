#pragma once
// A gradient transformation is one link of an optimizer's chain: it maps the updates of a step to new
// updates (and keeps its own state, e.g. moments). Each link has the in-place path Optimizer::step
// runs, block by block, and the tape path Optimizer::differentiable_step records; both are made from
// the link's one rule in rules.hpp.
#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/tensor.hpp"

namespace xg::optim {

// A hyperparameter: a plain number, or a scalar tensor (which may require a gradient, so that the
// loss after a differentiable step can be differentiated with respect to it).
class Hyper {
 public:
  Hyper(double value) : value_(value) {}  // NOLINT: implicit, so that {.lr = 1e-3} works
  Hyper(Tensor tensor);                   // NOLINT
  float value() const { return tensor_ ? tensor_->item() : float(value_); }
  // The tensor itself, or a constant scalar holding the number.
  Tensor tensor() const { return tensor_ ? *tensor_ : Tensor::scalar(float(value_)); }
  bool is_tensor() const { return tensor_.has_value(); }

 private:
  double value_ = 0;
  std::optional<Tensor> tensor_;
};

struct StepContext {
  long step = 0;   // 1 on the first step
  long epoch = 0;  // as set by Optimizer::set_epoch
};

// The updates of one step, one per parameter. Only the `active` parameters (those with a gradient
// this step) are touched; the others keep their state.
template <class U>
struct Updates {
  std::vector<U>& values;
  std::span<const std::size_t> active;
  const std::vector<Tensor>& params;
  StepContext context;

  // The active parameters' updates, in order.
  auto active_values() const {
    return active | std::views::transform([this](std::size_t i) -> const U& { return values[i]; });
  }
};

// One block of one parameter on the in-place path: update[0, size) holds the updates of elements
// [begin, begin + size) of parameter `param` as they reach a link, and the link replaces them. Steps
// run every element-wise link of the chain over one block while it sits in the L1 cache, so a step
// reads the gradient, the parameter and the state once and writes them once.
struct Block {
  std::size_t param = 0;
  std::size_t begin = 0, size = 0;
  float* update = nullptr;
  const float* value = nullptr;  // the parameter's elements [begin, begin + size)
  StepContext context;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Transformation {
 public:
  explicit Transformation(std::string name) : name_(std::move(name)) {}
  virtual ~Transformation() = default;
  const std::string& name() const { return name_; }

  // Creates the state for these parameters; called once, by the Optimizer.
  virtual void init(const std::vector<Tensor>& /*params*/) {}
  // Runs at the start of each step, before any link updates: where a link works out its numbers for
  // the step, or learns its own hyperparameters from the tape (with gradients enabled). `active` lists
  // the parameters with a gradient; it is empty when the step runs during backward, where only
  // per_parameter() links run.
  virtual void begin_step(const std::vector<Tensor>& /*params*/, std::span<const std::size_t> /*active*/,
                          const StepContext& /*context*/) {}
  // Whether a parameter's update needs only its own gradient, state and value (and the step's
  // numbers), so that it can run during backward as soon as that gradient is final.
  virtual bool per_parameter() const { return !needs_all_updates(); }
  // In place over one block of contiguous floats; allocates nothing. Blocks of one step may run
  // on several threads at once, so it writes only the block and its own state's elements.
  virtual void update(const Block& block) = 0;
  // A link whose update depends on every update at once (a global norm) says so: the step then
  // writes out the updates that reach it in full and lets it measure them before its blocks run.
  virtual bool needs_all_updates() const { return false; }
  virtual void measure(const Updates<array<float>>& /*updates*/) {}
  // The same maths recorded on the active tape.
  virtual void update_on_tape(Updates<Tensor>& updates) = 0;
  // The live state tensors, named "mu.0" (state, parameter index) etc.
  virtual NamedTensors state() { return {}; }
  // The factor this link scales every update by (learning rates, schedules); 1 for the others.
  virtual double step_size(const StepContext&) const { return 1.0; }

 private:
  std::string name_;
};

// A sequence of transformations applied in order. Every factory returns a Chain (of one link, or of
// the links of a ready-made optimizer); chain(...) concatenates them.
struct Chain {
  std::vector<std::unique_ptr<Transformation>> links;
};

template <class... Chains>
Chain chain(Chains... parts) {
  Chain all;
  (std::move(parts.links.begin(), parts.links.end(), std::back_inserter(all.links)), ...);
  return all;
}

}  // namespace xg::optim
