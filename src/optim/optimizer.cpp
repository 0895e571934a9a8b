#include <algorithm>
#include <cmath>

#include "xgrad/detail/parallel.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/optim/rules.hpp"

namespace xg::optim {

Optimizer::Optimizer(std::vector<Tensor> params, Chain transformations)
    : params_(std::move(params)), chain_(std::move(transformations)), updates_(params_.size()) {
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].requires_grad())
      throw value_error("Optimizer: parameter " + std::to_string(i) + " of shape " +
                        shape_string(params_[i].shape()) + " does not require a gradient");
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

void Optimizer::step() {
  collect_active();
  if (active_.empty()) return;
  ++step_;
  for (auto& link : chain_.links) link->begin_step(params_, active_, {step_, epoch_});
  NoGrad no_grad;
  // The chain runs block by block. Only before a link that needs every update at once (rare:
  // clip_by_global_norm) are the updates written out in full, for it to measure; the blocks then
  // go on from that link.
  const auto& links = chain_.links;
  std::size_t first = 0, measured = links.size();  // none measured yet
  for (std::size_t k = 0; k <= links.size(); ++k) {
    if (k < links.size() && (k == measured || !links[k]->needs_all_updates())) continue;
    const bool last = k == links.size();
    run_blocks(first, k, /*from_gradient=*/measured == links.size(), last);
    if (last) break;
    links[k]->measure({updates_, active_, params_, {step_, epoch_}});
    first = measured = k;
  }
}

// Links [first, end) over every block of every active parameter: the block's updates start as the
// gradient (or the materialised updates) and end added to the parameter (or materialised).
void Optimizer::run_blocks(std::size_t first, std::size_t end, bool from_gradient, bool apply) {
  for (std::size_t i : active_) {
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

std::vector<Tensor> Optimizer::differentiable_step() {
  collect_active();
  std::vector<Tensor> updated = params_;
  if (active_.empty()) return updated;
  ++step_;
  for (auto& link : chain_.links) link->begin_step(params_, active_, {step_, epoch_});
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
const char* const step_entry = "step";

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
  NamedTensors copies{{step_entry, Tensor::scalar(float(step_))}};
  for (const auto& [name, tensor] : live_state(chain_)) copies.emplace_back(name, tensor.detach());
  return copies;
}

void Optimizer::load_state(const NamedTensors& state) {
  NamedTensors live = live_state(chain_);
  const Tensor step_count = Tensor::scalar(0.0f);
  live.emplace_back(step_entry, step_count);  // a handle: the copy below lands in step_count
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
  step_ = std::lround(step_count.item());
}

}  // namespace xg::optim
