#pragma once
// nn::Module: owns parameters (learned) and buffers (state such as batch norm's running statistics,
// kept apart from parameters), has children, and a train/eval mode propagated to them.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/random.hpp"
#include "xgrad/tensor.hpp"

namespace xg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using NamedGenerators = std::vector<std::pair<std::string, std::shared_ptr<Generator>>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Depth first, in registration order, with dotted names ("0.weight", "1.running_mean"); a tensor
  // two modules share (tied weights, one module used twice) once, under its first name.
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // The random streams modules draw from while training (Dropout's masks): checkpoints save their
  // state, so a resumed run draws what the uninterrupted one would have.
  NamedGenerators named_generators() const;

  // Calls f on this module and then on every descendant, depth first (PyTorch's Module.apply).
  void apply(const std::function<void(Module&)>& f);

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // A one-line description, e.g. "Linear(784, 512, bias=false)".
  virtual std::string describe() const = 0;

 protected:
  Tensor register_parameter(std::string name, Tensor t);
  Tensor register_buffer(std::string name, Tensor t);
  void register_module(std::string name, std::shared_ptr<Module> child);
  // Shared like a parameter's node: a copy of the module draws from the same stream.
  void register_generator(std::string name, std::shared_ptr<Generator> gen);
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;
  void collect_generators(const std::string& prefix, NamedGenerators& out) const;

  NamedTensors parameters_, buffers_;
  NamedGenerators generators_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// The generator that initialises new modules' weights; seed it for reproducible models. Each thread
// has its own (seeded 0), so a model built on a worker thread depends only on that thread's seed.
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace xg::nn
