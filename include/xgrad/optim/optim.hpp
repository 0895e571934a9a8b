#pragma once
// Optimizers as chains of gradient transformations (in the spirit of optax), and the Optimizer that
// applies a chain to a set of parameters. See docs/optimizers.md.
#include <string>
#include <vector>

#include "xgrad/optim/schedules.hpp"
#include "xgrad/optim/transformation.hpp"

namespace xg::optim {

// ---- transformations (each returns a chain of one link, except scale_by_sgd) ----

// Plain SGD leaves the gradient as it is: the empty chain.
Chain scale_by_sgd();
Chain scale_by_momentum(Hyper beta);
Chain scale_by_rmsprop(Hyper beta, Hyper eps);
struct AdamMoments {
  Hyper beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};
// Adam's direction m_hat / (sqrt(v_hat) + eps), with bias correction.
Chain scale_by_adam(const AdamMoments& moments = {});
// u + lambda * p, decoupled from the moments when placed after them (AdamW).
Chain add_decayed_weights(Hyper lambda);
// u + lambda * p placed first in a chain: the gradient of (lambda / 2) |p|^2, coupled to the moments.
Chain l2(Hyper lambda);
// Scales all updates by max_norm / (their global norm) when that norm exceeds max_norm.
Chain clip_by_global_norm(double max_norm);
Chain scale(Hyper factor);
Chain scale_by_schedule(Schedule schedule);
// Multiplies by -lr (descent).
Chain scale_by_learning_rate(Hyper lr);
Chain scale_by_learning_rate(Schedule schedule);
// Multiplies by -lr, with lr adapted online by hypergradient descent (Baydin et al. 2018): before each
// step, lr -= hyper_lr * d(loss)/d(lr), where the derivative comes from the tape through this link's
// previous update.
Chain scale_by_hypergradient_lr(double initial_lr, double hyper_lr);

// ---- ready-made optimizers ----

struct MomentumOptions {
  Hyper lr = 1e-2, beta = 0.9;
};
struct RmspropOptions {
  Hyper lr = 1e-3, beta = 0.9, eps = 1e-8;
};
struct AdamOptions {
  Hyper lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};
struct AdamWOptions {
  Hyper lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

Chain sgd(Hyper lr);
Chain momentum(const MomentumOptions& options);
Chain rmsprop(const RmspropOptions& options);
Chain adam(const AdamOptions& options);
Chain adamw(const AdamWOptions& options);
// Hypergradient variants: the learning rate starts at lr and adapts with rate hyper_lr.
Chain sgd_hd(double lr, double hyper_lr);
Chain adam_hd(const AdamOptions& options, double hyper_lr);

// Applies a chain to a set of parameters (leaf float tensors).
class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, Chain transformations);
  ~Optimizer();
  // Not copied or moved: the parameters' grad-ready hooks point at it.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One in-place update of every parameter that has a gradient (others are skipped): fast, under
  // NoGrad, and without allocation once the state exists. After a backward that stepped (below), it
  // updates only the parameters backward did not, and ends the step.
  void step();

  // Opt-in (PyTorch's optimizer in backward): each parameter's update runs during backward as soon
  // as its gradient is final, while the gradient is still in cache; the results are bit-identical to
  // the separate step. Each backward is one step; call step() and zero_grad() after it as before.
  // Turn it on before the forward pass (the tape arms the hooks as ops use the parameters). A chain
  // with a link that needs every gradient first (clip_by_global_norm, scale_by_hypergradient_lr)
  // keeps the separate step: then, and when `on` is false, this returns false.
  bool set_step_in_backward(bool on);
  bool steps_in_backward() const { return !hooks_.empty(); }
  // The same update recorded on the active tape: returns the updated parameters as tape nodes (a
  // function of the parameters, their gradients and any hyperparameter tensors) and leaves the
  // parameters themselves unchanged; the state advances as in step(). Not while stepping in backward.
  std::vector<Tensor> differentiable_step();
  void zero_grad();

  // What the learning-rate schedules read.
  void set_epoch(long epoch) { epoch_ = epoch; }
  long epoch() const { return epoch_; }
  long steps() const { return step_; }
  // The current effective learning rate: the magnitude of the product of the chain's scale factors.
  double learning_rate() const;

  // Copies of the state, "<link index>.<link name>.<state>.<parameter index>"; with steps(), all a
  // checkpoint needs (the step count apart, as an integer: a float is exact only up to 2^24).
  NamedTensors state() const;
  // Throws value_error naming a missing, unexpected or mismatched entry, or a negative step count.
  void load_state(const NamedTensors& state, long steps);

  const std::vector<Tensor>& parameters() const { return params_; }

 private:
  void collect_active();
  void begin_step(std::span<const std::size_t> active);
  void run_blocks(std::span<const std::size_t> params, std::size_t first, std::size_t end, bool from_gradient,
                  bool apply);
  void step_during_backward(std::size_t param);
  void close_step();

  std::vector<Tensor> params_;
  Chain chain_;
  // One buffer per parameter, made on the first step that needs the updates in full (a chain with
  // clip_by_global_norm) and reused.
  std::vector<array<float>> updates_;
  std::vector<std::size_t> active_;
  long step_ = 0, epoch_ = 0;
  // Stepping in backward: each parameter's hook id; whether a step began during backward and which
  // parameters it has updated.
  std::vector<std::size_t> hooks_;
  bool step_open_ = false;
  std::vector<char> stepped_;
};

// Steps the optimizer in backward while alive (if its chain allows), then as before: what fit uses.
class StepInBackward {
 public:
  explicit StepInBackward(Optimizer& optimizer)
      : optimizer_(optimizer), was_on_(optimizer.steps_in_backward()) {
    optimizer_.set_step_in_backward(true);
  }
  ~StepInBackward() { optimizer_.set_step_in_backward(was_on_); }
  StepInBackward(const StepInBackward&) = delete;
  StepInBackward& operator=(const StepInBackward&) = delete;

 private:
  Optimizer& optimizer_;
  bool was_on_;
};

}  // namespace xg::optim
