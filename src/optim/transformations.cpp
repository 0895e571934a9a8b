// The gradient transformations. Most are one rule of rules.hpp made into a link by RuleLink, which
// runs it over blocks of floats (Optimizer::step) and over tensors on the tape (differentiable_step);
// the two that need more (a global norm, a learned learning rate) are written out.
#include <array>
#include <cmath>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

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

NamedTensors named_state(const std::string& state, const std::vector<Tensor>& tensors) {
  NamedTensors named;
  for (std::size_t i = 0; i < tensors.size(); ++i) named.emplace_back(state + "." + std::to_string(i), tensors[i]);
  return named;
}

// A hyperparameter with its name and the range it must lie in. Each is checked when its link is made
// (a tensor by its value then), so that a NaN, an infinity or a negative rate fails at once, naming
// itself, rather than as a diverging loss later.
struct Checked {
  const char* name;
  Hyper value;
  enum Range { rate, non_negative, finite } range;
};
Checked rate(const char* name, Hyper h) { return {name, std::move(h), Checked::rate}; }          // [0, 1)
Checked non_negative(const char* name, Hyper h) { return {name, std::move(h), Checked::non_negative}; }  // [0, inf)
Checked finite(const char* name, Hyper h) { return {name, std::move(h), Checked::finite}; }

void require(const char* link, const Checked& h) {
  const double v = h.value.value(), high = h.range == Checked::rate ? 1 : INFINITY;
  const std::string what = std::string(link) + ": " + h.name + " = " + number(v);
  if (h.range == Checked::finite) {
    if (!std::isfinite(v)) throw value_error(what + " is not finite");
  } else if (!(v >= 0 && v < high)) {
    throw value_error(what + " is outside [0, " + number(high) + ")");
  }
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

// A link made of one rule (rules.hpp) over `States` state tensors per parameter and `Hypers`
// hyperparameters: the rule runs once a step with the hyperparameters as floats, and its element-wise
// update over every block; differentiable_step runs it with them as tensors, over whole parameters.
using StepSize = std::function<double(const StepContext&)>;

template <class Rule, std::size_t States, std::size_t Hypers>
class RuleLink final : public Transformation {
 public:
  RuleLink(const char* name, Rule rule, std::array<const char*, States> state_names, std::array<Hyper, Hypers> hypers,
           StepSize step_size)
      : Transformation(name), rule_(std::move(rule)), state_names_(state_names), hypers_(std::move(hypers)),
        step_size_(std::move(step_size)) {}
  void init(const std::vector<Tensor>& params) override {
    for (auto& state : states_) state = zeros_like(params);
  }
  void begin_step(const std::vector<Tensor>&, std::span<const std::size_t>, const StepContext& c) override {
    element_.emplace(element<float>(c));
  }
  void update(const Block& b) override {
    // A local copy of this step's update (a few floats): the compiler can see that it does not
    // alias the block, and vectorises the loop.
    const Element element = *element_;
    std::apply([&](auto&... state) { update_each(b, element, state...); }, states_);
  }
  void update_on_tape(Updates<Tensor>& u) override {
    std::apply([&, element = element<Tensor>(u.context)](auto&... state) { update_each(u, element, state...); },
               states_);
  }
  NamedTensors state() override {
    NamedTensors named;
    for (std::size_t k = 0; k < States; ++k)
      for (auto& entry : named_state(state_names_[k], states_[k])) named.push_back(std::move(entry));
    return named;
  }
  double step_size(const StepContext& c) const override { return step_size_ ? step_size_(c) : 1.0; }

 private:
  // This step's element-wise update, the hyperparameters read as H (float or Tensor).
  template <class H>
  auto element(const StepContext& c) const {
    return std::apply([&](const auto&... h) { return rule_(as<H>(h)..., c); }, hypers_);
  }
  template <class H>
  static H as(const Hyper& h) {
    if constexpr (std::is_same_v<H, Tensor>)
      return h.tensor();
    else
      return h.value();
  }
  // What the rule returns for float hyperparameters.
  template <std::size_t... I>
  static auto float_element(std::index_sequence<I...>)
      -> std::invoke_result_t<const Rule&, decltype((void(I), 0.0f))..., const StepContext&>;
  using Element = decltype(float_element(std::make_index_sequence<Hypers>{}));

  Rule rule_;
  std::array<const char*, States> state_names_;
  std::array<Hyper, Hypers> hypers_;
  StepSize step_size_;
  std::array<std::vector<Tensor>, States> states_;
  std::optional<Element> element_;  // this step's, from begin_step
};

// The chain of one RuleLink: `rule` with per-parameter state named `state_names`, the step size that
// learning_rate() reports (none: 1) and the hyperparameters `hypers`, each checked here.
template <std::size_t States, class Rule, class... Hypers>
Chain rule_link(const char* name, Rule rule, std::array<const char*, States> state_names, StepSize step_size,
                Hypers... hypers) {
  (require(name, hypers), ...);
  Chain c;
  c.links.push_back(std::make_unique<RuleLink<Rule, States, sizeof...(Hypers)>>(
      name, std::move(rule), state_names, std::array<Hyper, sizeof...(Hypers)>{std::move(hypers.value)...},
      std::move(step_size)));
  return c;
}

// scale, scale_by_schedule and scale_by_learning_rate: u times sign * factor * schedule(epoch), which
// is also the link's step size.
Chain scale_by(const char* name, Checked factor, Schedule schedule, float sign) {
  auto rule = [schedule, sign](const auto& f, const StepContext& c) {
    return rules::scale(f * float(sign * schedule(c.epoch)), c);
  };
  auto step_size = [schedule, sign, f = factor.value](const StepContext& c) { return sign * f.value() * schedule(c.epoch); };
  return rule_link<0>(name, std::move(rule), {}, std::move(step_size), std::move(factor));
}

class ClipByGlobalNorm final : public Transformation {
 public:
  explicit ClipByGlobalNorm(double max_norm) : Transformation("clip_by_global_norm"), max_norm_(float(max_norm)) {
    if (!(max_norm > 0))
      throw value_error("clip_by_global_norm: max_norm = " + number(max_norm) + " is not positive");
  }
  // The global norm of the updates that reach this link, measured before its blocks run.
  bool needs_all_updates() const override { return true; }
  void measure(const Updates<array<float>>& u) override {
    factor_ = rules::clip_factor(float(rules::global_norm(u.active_values())), max_norm_);
  }
  void update(const Block& b) override {
    if (factor_) update_each(b, rules::scale(*factor_, b.context));
  }
  void update_on_tape(Updates<Tensor>& u) override {
    if (const auto factor = rules::clip_factor(rules::global_norm(u.active_values()), max_norm_))
      update_each(u, rules::scale(*factor, u.context));
  }

 private:
  float max_norm_;
  std::optional<float> factor_;  // this step's, from measure()
};

// Multiplies the incoming direction d by -lr and learns lr by hypergradient descent. The parameters
// after the previous step were p_t = p_{t-1} - lr * d_{t-1}, so d f(p_t)/d lr is that update's
// derivative seeded with the current gradient: begin_step replays the update on a tape and lets
// backward compute it (for SGD it is -g_t . g_{t-1}, Baydin et al.'s formula).
class ScaleByHypergradientLr final : public Transformation {
 public:
  ScaleByHypergradientLr(double initial_lr, double hyper_lr)
      : Transformation("scale_by_hypergradient_lr"), lr_(Tensor::scalar(float(initial_lr))), hyper_lr_(float(hyper_lr)) {
    require("scale_by_hypergradient_lr", non_negative("initial_lr", initial_lr));
    require("scale_by_hypergradient_lr", non_negative("hyper_lr", hyper_lr));
  }
  void init(const std::vector<Tensor>& params) override { direction_ = zeros_like(params); }
  // The replay needs every gradient of the step.
  bool per_parameter() const override { return false; }
  void begin_step(const std::vector<Tensor>& params, std::span<const std::size_t> active, const StepContext& c) override {
    if (!grad_enabled())
      throw graph_error("scale_by_hypergradient_lr: step() ran under NoGrad, but the learning rate's gradient "
                        "comes from the tape; call step() with gradients enabled");
    Tape tape;
    Tensor lr = Tensor::scalar(lr_.item(), true);
    for (std::size_t i : active) {
      const Tensor previous_update = rules::scale(-lr, c)(direction_[i], params[i]);
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
    for (auto& entry : named_state("direction", direction_)) s.push_back(std::move(entry));
    return s;
  }
  double step_size(const StepContext&) const override { return -lr_.item(); }

 private:
  // The direction is kept for the next step's replay and scaled by -lr.
  template <class U, class H>
  void run(U& u, const H& lr) {
    const auto descend = rules::scale(-lr, u.context);
    update_each(
        u,
        [=](const auto& d, const auto& p, auto& direction) {
          direction = d;
          return descend(d, p);
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
Chain scale_by_momentum(Hyper beta) {
  return rule_link<1>("scale_by_momentum", rules::momentum, {"velocity"}, {}, rate("beta", std::move(beta)));
}
Chain scale_by_rmsprop(Hyper beta, Hyper eps) {
  return rule_link<1>("scale_by_rmsprop", rules::rmsprop, {"mean_square"}, {}, rate("beta", std::move(beta)),
                      non_negative("eps", std::move(eps)));
}
Chain scale_by_adam(const AdamMoments& m) {
  return rule_link<2>("scale_by_adam", rules::adam, {"mu", "nu"}, {}, rate("beta1", m.beta1), rate("beta2", m.beta2),
                      non_negative("eps", m.eps));
}
Chain add_decayed_weights(Hyper lambda) {
  return rule_link<0>("add_decayed_weights", rules::add_decayed_weights, {}, {}, non_negative("lambda", std::move(lambda)));
}
Chain l2(Hyper lambda) {
  return rule_link<0>("l2", rules::add_decayed_weights, {}, {}, non_negative("lambda", std::move(lambda)));
}
Chain clip_by_global_norm(double max_norm) { return one<ClipByGlobalNorm>(max_norm); }
Chain scale(Hyper factor) { return scale_by("scale", finite("factor", std::move(factor)), no_schedule(), 1.0f); }
Chain scale_by_schedule(Schedule schedule) {
  return scale_by("scale_by_schedule", finite("factor", 1.0), std::move(schedule), 1.0f);
}
Chain scale_by_learning_rate(Hyper lr) {
  return scale_by("scale_by_learning_rate", non_negative("lr", std::move(lr)), no_schedule(), -1.0f);
}
Chain scale_by_learning_rate(Schedule schedule) {
  return scale_by("scale_by_learning_rate", finite("factor", 1.0), std::move(schedule), -1.0f);
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
