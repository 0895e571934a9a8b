#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

#include "xgrad/detail/parallel.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/optim/rules.hpp"

namespace xg::optim {

namespace {
// The parameters must be distinct leaves that require gradients: an intermediate result would be
// overwritten by the next forward pass, and a parameter listed twice would be stepped twice.
void require_parameters(const std::vector<Tensor>& params) {
  if (params.empty()) throw value_error("Optimizer: the parameter list is empty");
  std::unordered_map<const void*, std::size_t> first_index;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string which = "Optimizer: parameter " + std::to_string(i) + " of shape " + shape_string(params[i].shape());
    if (!params[i].requires_grad()) throw value_error(which + " does not require a gradient");
    if (std::string_view(params[i].op()) != "leaf")
      throw value_error(which + " is not a leaf but the output of op '" + params[i].op() +
                        "'; optimise the tensor it was computed from");
    const auto [first, inserted] = first_index.emplace(params[i].node().get(), i);
    if (!inserted) throw value_error(which + " is parameter " + std::to_string(first->second) + " again");
  }
}
}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, Chain transformations)
    : params_(std::move(params)), chain_(std::move(transformations)), updates_(params_.size()) {
  require_parameters(params_);
  active_.reserve(params_.size());
  for (auto& link : chain_.links) link->init(params_);
}

void Optimizer::collect_active() {
  active_.clear();
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (params_[i].has_grad()) active_.push_back(i);
}

namespace {
// Elements per block: the update, the parameter and two moments of a block (16 KiB) fit in L1.
constexpr std::size_t block_elements = 1024;
}  // namespace

void Optimizer::begin_step(std::span<const std::size_t> active) {
  ++step_;
  for (auto& link : chain_.links) link->begin_step(params_, active, {step_, epoch_});
}

void Optimizer::step() {
  collect_active();
  const auto& links = chain_.links;
  if (step_open_) {
    // Backward has updated the parameters whose gradient it made; the others that have one (a
    // gradient written by hand, a parameter used on a tape made before the hooks) follow.
    std::erase_if(active_, [&](std::size_t i) { return stepped_[i]; });
    NoGrad no_grad;
    run_blocks(active_, 0, links.size(), /*from_gradient=*/true, /*apply=*/true);
    close_step();
    return;
  }
  if (active_.empty()) return;
  begin_step(active_);
  NoGrad no_grad;
  // The chain runs block by block. Only before a link that needs every update at once (rare:
  // clip_by_global_norm) are the updates written out in full, for it to measure; the blocks then
  // go on from that link.
  std::size_t first = 0, measured = links.size();  // none measured yet
  for (std::size_t k = 0; k <= links.size(); ++k) {
    if (k < links.size() && (k == measured || !links[k]->needs_all_updates())) continue;
    const bool last = k == links.size();
    run_blocks(active_, first, k, /*from_gradient=*/measured == links.size(), last);
    if (last) break;
    links[k]->measure({updates_, active_, params_, {step_, epoch_}});
    first = measured = k;
  }
}

// Links [first, end) over every block of these parameters: the block's updates start as the
// gradient (or the materialised updates) and end added to the parameter (or materialised).
void Optimizer::run_blocks(std::span<const std::size_t> params, std::size_t first, std::size_t end, bool from_gradient,
                           bool apply) {
  for (std::size_t i : params) {
    float* p = params_[i].mutable_value().data();
    const std::size_t n = params_[i].size();
    if (!apply && updates_[i].size() != n) updates_[i] = array<float>::from_shape(params_[i].shape());
    const float* source = from_gradient ? params_[i].grad().data() : updates_[i].data();
    float* sink = apply ? p : updates_[i].data();
    detail::parallel_ranges(n, [&](std::size_t begin, std::size_t stop) {
      alignas(64) float update[block_elements];
      for (std::size_t b = begin; b < stop; b += block_elements) {
        const Block block{i, b, std::min(block_elements, stop - b), update, p + b, {step_, epoch_}};
        std::copy_n(source + b, block.size, update);
        for (std::size_t k = first; k < end; ++k) chain_.links[k]->update(block);
        if (apply)
          for (std::size_t j = 0; j < block.size; ++j) sink[b + j] = rules::apply_update(p[b + j], update[j]);
        else
          std::copy_n(update, block.size, sink + b);
      }
    });
  }
}

bool Optimizer::set_step_in_backward(bool on) {
  close_step();
  for (std::size_t i = 0; i < hooks_.size(); ++i) params_[i].remove_grad_ready_hook(hooks_[i]);
  hooks_.clear();
  const auto per_parameter = [](const auto& link) { return link->per_parameter(); };
  if (!on || !std::all_of(chain_.links.begin(), chain_.links.end(), per_parameter)) return false;
  for (std::size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].add_grad_ready_hook([this, i] { step_during_backward(i); }));
  stepped_.assign(params_.size(), 0);
  return true;
}

// The grad-ready hook of parameter i: the first one of a backward begins the step (a parameter
// updated already begins the next: each backward is one step).
void Optimizer::step_during_backward(std::size_t i) {
  if (step_open_ && stepped_[i]) close_step();
  if (!step_open_) {
    begin_step({});
    step_open_ = true;
  }
  stepped_[i] = 1;
  NoGrad no_grad;
  const std::size_t param[] = {i};
  run_blocks(param, 0, chain_.links.size(), /*from_gradient=*/true, /*apply=*/true);
}

void Optimizer::close_step() {
  if (!step_open_) return;
  std::fill(stepped_.begin(), stepped_.end(), 0);
  step_open_ = false;
}

Optimizer::~Optimizer() { set_step_in_backward(false); }

std::vector<Tensor> Optimizer::differentiable_step() {
  if (steps_in_backward())
    throw value_error("differentiable_step: the optimizer steps during backward; call set_step_in_backward(false) first");
  collect_active();
  std::vector<Tensor> updated = params_;
  if (active_.empty()) return updated;
  begin_step(active_);
  std::vector<Tensor> values(params_.size());
  for (std::size_t i : active_) values[i] = Tensor(params_[i].grad());  // the gradient enters as a constant
  Updates<Tensor> updates{values, active_, params_, {step_, epoch_}};
  for (auto& link : chain_.links) link->update_on_tape(updates);
  for (std::size_t i : active_) updated[i] = rules::apply_update(params_[i], values[i]);
  return updated;
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

double Optimizer::learning_rate() const {
  double product = 1;
  for (const auto& link : chain_.links) product *= link->step_size({step_, epoch_});
  return std::abs(product);
}

namespace {
NamedTensors live_state(const Chain& chain) {
  NamedTensors all;
  for (std::size_t k = 0; k < chain.links.size(); ++k)
    for (auto& [name, tensor] : chain.links[k]->state())
      all.emplace_back(std::to_string(k) + "." + chain.links[k]->name() + "." + name, tensor);
  return all;
}

const Tensor* find_entry(const NamedTensors& state, const std::string& name) {
  for (const auto& [n, t] : state)
    if (n == name) return &t;
  return nullptr;
}
}  // namespace

NamedTensors Optimizer::state() const {
  NamedTensors copies;
  for (const auto& [name, tensor] : live_state(chain_)) copies.emplace_back(name, tensor.detach());
  return copies;
}

void Optimizer::load_state(const NamedTensors& state, long steps) {
  if (steps < 0) throw value_error("load_state: the step count is " + std::to_string(steps) + "; it must be >= 0");
  NamedTensors live = live_state(chain_);
  // Everything is checked before anything is copied, so a bad checkpoint leaves the state as it was.
  for (const auto& [name, tensor] : state)
    if (!find_entry(live, name)) throw value_error("load_state: unexpected entry '" + name + "'");
  for (const auto& [name, tensor] : live) {
    const Tensor* given = find_entry(state, name);
    if (!given) throw value_error("load_state: missing entry '" + name + "'");
    if (given->shape_vector() != tensor.shape_vector())
      throw value_error("load_state: entry '" + name + "' has shape " + shape_string(given->shape()) +
                        ", expected " + shape_string(tensor.shape()));
  }
  for (auto& [name, tensor] : live) {
    const array<float>& source = find_entry(state, name)->value();
    std::copy(source.begin(), source.end(), tensor.mutable_value().begin());
  }
  step_ = steps;
}

}  // namespace xg::optim
