// The gradient transformations. Each link states its maths once, as a call to rules.hpp from a
// generic `run` that both the in-place path (floats) and the tape path (tensors) instantiate.
#include <cmath>

#include "xgrad/optim/optim.hpp"
#include "xgrad/optim/rules.hpp"
#include "number.hpp"

namespace xg::optim {

Hyper::Hyper(Tensor tensor) : tensor_(std::move(tensor)) {
  if (tensor_->size() != 1)
    throw shape_error("Hyper: a hyperparameter tensor must have one element, got shape " +
                      shape_string(tensor_->shape()));
}

namespace {

std::vector<Tensor> zeros_like(const std::vector<Tensor>& params) {
  std::vector<Tensor> zeros;
  for (const Tensor& p : params) zeros.push_back(Tensor::zeros(p.shape_vector()));
  return zeros;
}

NamedTensors per_parameter(const std::string& state, const std::vector<Tensor>& tensors) {
  NamedTensors named;
  for (std::size_t i = 0; i < tensors.size(); ++i) named.emplace_back(state + "." + std::to_string(i), tensors[i]);
  return named;
}

// Plain-number hyperparameters are checked once here; tensors are the caller's business.
void require_in(const char* link, const char* name, const Hyper& h, double low, double high, bool high_open) {
  if (h.is_tensor()) return;
  const double v = h.value();
  if (!(v >= low && (high_open ? v < high : v <= high)))
    throw value_error(std::string(link) + ": " + name + " = " + number(v) + " is outside [" +
                      number(low) + ", " + number(high) + (high_open ? ")" : "]"));
}
void require_rate(const char* link, const char* name, const Hyper& h) { require_in(link, name, h, 0, 1, true); }
void require_non_negative(const char* link, const char* name, const Hyper& h) {
  require_in(link, name, h, 0, INFINITY, false);
}

// Calls rule(u, p, s...) on every element of a block: u is the update (replaced by the result), p the
// parameter and s... this link's state for that parameter, updated through references. Rules capture
// their hyperparameters by value: a float captured by reference might alias the buffers the loop
// writes, which stops the compiler from vectorising it.
template <class Rule, class... States>
void update_each(const Block& b, Rule&& rule, States&... states) {
  float* update = b.update;
  const float* p = b.value;
  [&](auto*... s) {
    for (std::size_t j = 0; j < b.size; ++j) update[j] = rule(update[j], p[j], s[j]...);
  }(states[b.param].mutable_value().data() + b.begin...);
}

// The tape counterpart: the state enters as constants (the graph of one step does not reach back into
// earlier steps) and its new values are copied back into the state buffers.
template <class Rule, class... States>
void update_each(Updates<Tensor>& u, Rule&& rule, States&... states) {
  for (std::size_t i : u.active) {
    [&](auto... s) {
      u.values[i] = rule(u.values[i], u.params[i], s...);
      (std::copy(s.value().begin(), s.value().end(), states[i].mutable_value().begin()), ...);
    }(states[i].detach()...);
  }
}

class ScaleByMomentum final : public Transformation {
 public:
  explicit ScaleByMomentum(Hyper beta) : Transformation("scale_by_momentum"), beta_(std::move(beta)) {
    require_rate("scale_by_momentum", "beta", beta_);
  }
  void init(const std::vector<Tensor>& params) override { velocity_ = zeros_like(params); }
  void update(const Block& b) override { run(b, beta_.value()); }
  void update_on_tape(Updates<Tensor>& u) override { run(u, beta_.tensor()); }
  NamedTensors state() override { return per_parameter("velocity", velocity_); }

 private:
  template <class U, class H>
  void run(U& u, const H& beta) {
    update_each(u, [=](const auto& g, const auto&, auto& v) { return rules::momentum(g, v, beta); }, velocity_);
  }
  Hyper beta_;
  std::vector<Tensor> velocity_;
};

class ScaleByRmsprop final : public Transformation {
 public:
  ScaleByRmsprop(Hyper beta, Hyper eps) : Transformation("scale_by_rmsprop"), beta_(std::move(beta)), eps_(std::move(eps)) {
    require_rate("scale_by_rmsprop", "beta", beta_);
    require_non_negative("scale_by_rmsprop", "eps", eps_);
  }
  void init(const std::vector<Tensor>& params) override { mean_square_ = zeros_like(params); }
  void update(const Block& b) override { run(b, beta_.value(), eps_.value()); }
  void update_on_tape(Updates<Tensor>& u) override { run(u, beta_.tensor(), eps_.tensor()); }
  NamedTensors state() override { return per_parameter("mean_square", mean_square_); }

 private:
  template <class U, class H>
  void run(U& u, const H& beta, const H& eps) {
    update_each(u, [=](const auto& g, const auto&, auto& s) { return rules::rmsprop(g, s, beta, eps); }, mean_square_);
  }
  Hyper beta_, eps_;
  std::vector<Tensor> mean_square_;
};

class ScaleByAdam final : public Transformation {
 public:
  explicit ScaleByAdam(const AdamMoments& m) : Transformation("scale_by_adam"), m_(m) {
    require_rate("scale_by_adam", "beta1", m_.beta1);
    require_rate("scale_by_adam", "beta2", m_.beta2);
    require_non_negative("scale_by_adam", "eps", m_.eps);
  }
  void init(const std::vector<Tensor>& params) override {
    mu_ = zeros_like(params);
    nu_ = zeros_like(params);
  }
  void begin_step(const std::vector<Tensor>&, std::span<const std::size_t>, const StepContext& c) override {
    scales_ = rules::adam_scales(m_.beta1.value(), m_.beta2.value(), c.step);  // once a step, not once a block
  }
  void update(const Block& b) override { run(b, m_.beta1.value(), m_.beta2.value(), m_.eps.value(), scales_); }
  void update_on_tape(Updates<Tensor>& u) override {
    const Tensor beta1 = m_.beta1.tensor(), beta2 = m_.beta2.tensor();
    run(u, beta1, beta2, m_.eps.tensor(), rules::adam_scales(beta1, beta2, u.context.step));
  }
  NamedTensors state() override {
    NamedTensors s = per_parameter("mu", mu_);
    for (auto& entry : per_parameter("nu", nu_)) s.push_back(std::move(entry));
    return s;
  }

 private:
  // One fused loop per block: both moments, the bias correction and the direction.
  template <class U, class H>
  void run(U& u, const H& beta1, const H& beta2, const H& eps, const rules::AdamScales<H>& scales) {
    update_each(
        u, [=](const auto& g, const auto&, auto& m, auto& v) { return rules::adam(g, m, v, beta1, beta2, eps, scales); },
        mu_, nu_);
  }
  rules::AdamScales<float> scales_{};
  AdamMoments m_;
  std::vector<Tensor> mu_, nu_;
};

class AddDecayedWeights final : public Transformation {
 public:
  AddDecayedWeights(const char* name, Hyper lambda) : Transformation(name), lambda_(std::move(lambda)) {
    require_non_negative(name, "lambda", lambda_);
  }
  void update(const Block& b) override { run(b, lambda_.value()); }
  void update_on_tape(Updates<Tensor>& u) override { run(u, lambda_.tensor()); }

 private:
  template <class U, class H>
  void run(U& u, const H& lambda) {
    update_each(u, [=](const auto& g, const auto& p) { return rules::add_decayed_weights(g, p, lambda); });
  }
  Hyper lambda_;
};

class ClipByGlobalNorm final : public Transformation {
 public:
  explicit ClipByGlobalNorm(double max_norm) : Transformation("clip_by_global_norm"), max_norm_(float(max_norm)) {
    if (!(max_norm > 0))
      throw value_error("clip_by_global_norm: max_norm = " + number(max_norm) + " is not positive");
  }
  // The global norm of the updates that reach this link, measured before its blocks run.
  bool needs_all_updates() const override { return true; }
  void measure(const Updates<array<float>>& u) override {
    // In double (a sum over millions of floats), as 8 partial sums: the compiler may not reorder one
    // floating-point sum, but it vectorises independent ones.
    double partial[8] = {};
    for (std::size_t i : u.active) {
      const float* g = u.values[i].data();
      const std::size_t n = u.values[i].size();
      std::size_t j = 0;
      for (; j + 8 <= n; j += 8)
        for (std::size_t k = 0; k < 8; ++k) partial[k] += double(g[j + k]) * g[j + k];
      for (; j < n; ++j) partial[0] += double(g[j]) * g[j];
    }
    double squares = 0;
    for (double s : partial) squares += s;
    factor_ = rules::clip_factor(float(std::sqrt(squares)), max_norm_);
  }
  void update(const Block& b) override {
    if (factor_ != 1.0f) update_each(b, [f = factor_](const auto& g, const auto&) { return rules::scale(g, f); });
  }
  void update_on_tape(Updates<Tensor>& u) override {
    std::vector<Tensor> active;
    for (std::size_t i : u.active) active.push_back(u.values[i]);
    const Tensor factor = rules::clip_factor(rules::global_norm<float>(active), max_norm_);
    update_each(u, [=](const auto& g, const auto&) { return rules::scale(g, factor); });
  }

 private:
  float max_norm_;
  float factor_ = 1.0f;  // this step's, from measure()
};

// scale, scale_by_schedule and scale_by_learning_rate: updates times sign * factor * schedule(epoch).
class ScaleBy final : public Transformation {
 public:
  ScaleBy(const char* name, Hyper factor, Schedule schedule, float sign)
      : Transformation(name), factor_(std::move(factor)), schedule_(std::move(schedule)), sign_(sign) {}
  void update(const Block& b) override { run(b, factor_.value()); }
  void update_on_tape(Updates<Tensor>& u) override { run(u, factor_.tensor()); }
  double step_size(const StepContext& c) const override {
    return sign_ * factor_.value() * schedule_(c.epoch);
  }

 private:
  template <class U, class H>
  void run(U& u, const H& factor) {
    const H f = factor * float(sign_ * schedule_(u.context.epoch));
    update_each(u, [=](const auto& g, const auto&) { return rules::scale(g, f); });
  }
  Hyper factor_;
  Schedule schedule_;
  float sign_;
};

// Multiplies the incoming direction d by -lr and learns lr by hypergradient descent. The parameters
// after the previous step were p_t = p_{t-1} - lr * d_{t-1}, so d f(p_t)/d lr is that update's
// derivative seeded with the current gradient: begin_step replays the update on a tape and lets
// backward compute it (for SGD it is -g_t . g_{t-1}, Baydin et al.'s formula).
class ScaleByHypergradientLr final : public Transformation {
 public:
  ScaleByHypergradientLr(double initial_lr, double hyper_lr)
      : Transformation("scale_by_hypergradient_lr"), lr_(Tensor::scalar(float(initial_lr))), hyper_lr_(float(hyper_lr)) {
    if (!(hyper_lr >= 0))
      throw value_error("scale_by_hypergradient_lr: hyper_lr = " + number(hyper_lr) + " is negative");
  }
  void init(const std::vector<Tensor>& params) override { direction_ = zeros_like(params); }
  void begin_step(const std::vector<Tensor>& params, std::span<const std::size_t> active, const StepContext&) override {
    if (!grad_enabled())
      throw graph_error("scale_by_hypergradient_lr: step() ran under NoGrad, but the learning rate's gradient "
                        "comes from the tape; call step() with gradients enabled");
    Tape tape;
    Tensor lr = Tensor::scalar(lr_.item(), true);
    for (std::size_t i : active) {
      const Tensor previous_update = rules::scale(direction_[i], -lr);
      tape.backward(previous_update, params[i].grad(), {.keep_graph = true});
    }
    if (lr.has_grad()) lr_.mutable_value()() -= hyper_lr_ * lr.grad()();
    // A parameter without a gradient does not move this step, so its next replay must add nothing.
    std::size_t next = 0;
    for (std::size_t i = 0; i < direction_.size(); ++i) {
      if (next < active.size() && active[next] == i)
        ++next;
      else
        direction_[i].mutable_value().fill(0.0f);
    }
  }
  void update(const Block& b) override { run(b, lr_.item()); }
  void update_on_tape(Updates<Tensor>& u) override { run(u, lr_.detach()); }
  NamedTensors state() override {
    NamedTensors s{{"lr", lr_}};
    for (auto& entry : per_parameter("direction", direction_)) s.push_back(std::move(entry));
    return s;
  }
  double step_size(const StepContext&) const override { return -lr_.item(); }

 private:
  template <class U, class H>
  void run(U& u, const H& lr) {
    const H factor = -lr;
    update_each(
        u,
        [=](const auto& g, const auto&, auto& direction) {
          direction = g;
          return rules::scale(g, factor);
        },
        direction_);
  }
  Tensor lr_;
  float hyper_lr_;
  std::vector<Tensor> direction_;
};

template <class Link, class... Args>
Chain one(Args&&... args) {
  Chain c;
  c.links.push_back(std::make_unique<Link>(std::forward<Args>(args)...));
  return c;
}

Schedule no_schedule() {
  return [](long) { return 1.0; };
}

}  // namespace

Chain scale_by_sgd() { return {}; }
Chain scale_by_momentum(Hyper beta) { return one<ScaleByMomentum>(std::move(beta)); }
Chain scale_by_rmsprop(Hyper beta, Hyper eps) { return one<ScaleByRmsprop>(std::move(beta), std::move(eps)); }
Chain scale_by_adam(const AdamMoments& moments) { return one<ScaleByAdam>(moments); }
Chain add_decayed_weights(Hyper lambda) { return one<AddDecayedWeights>("add_decayed_weights", std::move(lambda)); }
Chain l2(Hyper lambda) { return one<AddDecayedWeights>("l2", std::move(lambda)); }
Chain clip_by_global_norm(double max_norm) { return one<ClipByGlobalNorm>(max_norm); }
Chain scale(Hyper factor) { return one<ScaleBy>("scale", std::move(factor), no_schedule(), 1.0f); }
Chain scale_by_schedule(Schedule schedule) { return one<ScaleBy>("scale_by_schedule", 1.0, std::move(schedule), 1.0f); }
Chain scale_by_learning_rate(Hyper lr) {
  return one<ScaleBy>("scale_by_learning_rate", std::move(lr), no_schedule(), -1.0f);
}
Chain scale_by_learning_rate(Schedule schedule) {
  return one<ScaleBy>("scale_by_learning_rate", 1.0, std::move(schedule), -1.0f);
}
Chain scale_by_hypergradient_lr(double initial_lr, double hyper_lr) {
  return one<ScaleByHypergradientLr>(initial_lr, hyper_lr);
}

Chain sgd(Hyper lr) { return chain(scale_by_sgd(), scale_by_learning_rate(std::move(lr))); }
Chain momentum(const MomentumOptions& o) { return chain(scale_by_momentum(o.beta), scale_by_learning_rate(o.lr)); }
Chain rmsprop(const RmspropOptions& o) { return chain(scale_by_rmsprop(o.beta, o.eps), scale_by_learning_rate(o.lr)); }
Chain adam(const AdamOptions& o) {
  return chain(scale_by_adam({o.beta1, o.beta2, o.eps}), scale_by_learning_rate(o.lr));
}
Chain adamw(const AdamWOptions& o) {
  return chain(scale_by_adam({o.beta1, o.beta2, o.eps}), add_decayed_weights(o.weight_decay),
               scale_by_learning_rate(o.lr));
}
Chain sgd_hd(double lr, double hyper_lr) { return chain(scale_by_sgd(), scale_by_hypergradient_lr(lr, hyper_lr)); }
Chain adam_hd(const AdamOptions& o, double hyper_lr) {
  return chain(scale_by_adam({o.beta1, o.beta2, o.eps}), scale_by_hypergradient_lr(o.lr.value(), hyper_lr));
}

}  // namespace xg::optim
