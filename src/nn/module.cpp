#include "xgrad/nn/module.hpp"

#include <type_traits>
#include <unordered_set>

namespace xg::nn {

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

namespace {
// A tensor or generator shared by two modules (tied weights, a module used twice) is listed once,
// under the first name met, as PyTorch's named_parameters() does: an optimizer must not update it
// twice a step.
template <class Named>
Named without_repeats(Named all) {
  std::unordered_set<const void*> seen;
  std::erase_if(all, [&](const auto& entry) {
    const auto& held = entry.second;
    if constexpr (std::is_same_v<Named, NamedTensors>) return !seen.insert(held.node().get()).second;
    else return !seen.insert(held.get()).second;
  });
  return all;
}
}  // namespace

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, false);
  return without_repeats(std::move(out));
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, true);
  return without_repeats(std::move(out));
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, buffers);
}

NamedGenerators Module::named_generators() const {
  NamedGenerators out;
  collect_generators("", out);
  return without_repeats(std::move(out));
}

void Module::collect_generators(const std::string& prefix, NamedGenerators& out) const {
  for (const auto& [name, gen] : generators_) out.emplace_back(prefix + name, gen);
  for (const auto& [name, child] : children_) child->collect_generators(prefix + name + ".", out);
}

void Module::apply(const std::function<void(Module&)>& f) {
  f(*this);
  for (auto& [name, child] : children_) child->apply(f);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

Tensor Module::register_parameter(std::string name, Tensor t) {
  t.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), t);
  return t;
}

Tensor Module::register_buffer(std::string name, Tensor t) {
  t.set_requires_grad(false);
  buffers_.emplace_back(std::move(name), t);
  return t;
}

void Module::register_generator(std::string name, std::shared_ptr<Generator> gen) {
  generators_.emplace_back(std::move(name), std::move(gen));
}

void Module::register_module(std::string name, std::shared_ptr<Module> child) {
  child->train(training_);
  children_.emplace_back(std::move(name), std::move(child));
}

Generator& default_generator() {
  thread_local Generator gen(0);  // per thread, so models built in parallel (tuning trials) do not race
  return gen;
}

void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

}  // namespace xg::nn
