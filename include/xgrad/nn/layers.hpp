#pragma once
// The layers: Linear, BatchNorm, LayerNorm, Embedding, activations, Dropout and Sequential.
#include <memory>
#include <span>
#include <vector>
#include <type_traits>

#include "xgrad/nn/init.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/ops.hpp"

namespace xg::nn {

struct NoBias {};
inline constexpr NoBias no_bias{};

// y = x W + b with W of shape (in, out).
class Linear : public Module {
 public:
  Linear(std::size_t in, std::size_t out, Init init = Init::automatic);
  Linear(std::size_t in, std::size_t out, NoBias, Init init = Init::automatic);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // Re-draws the weight (the bias restarts at zero).
  void reset_parameters(Init init, Generator& gen);
  Init init() const { return init_; }
  const Tensor& weight() const { return weight_; }
  bool has_bias() const { return has_bias_; }

 private:
  Linear(std::size_t in, std::size_t out, Init init, bool bias);

  std::size_t in_, out_;
  bool has_bias_;
  Init init_;
  Tensor weight_, bias_;
};

// Batch normalisation over (N, C) per column or (N, C, H, W) per channel; see docs/nodes.md.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(std::size_t features, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // Statistics over every replica's batch in train mode (SyncBatchNorm); null: this batch alone.
  // dist::DataParallel sets it.
  void set_replica_sum(std::shared_ptr<const ReplicaSum> replica_sum) { replica_sum_ = std::move(replica_sum); }

 private:
  std::size_t features_;
  double momentum_, eps_;
  Tensor gamma_, beta_, running_mean_, running_var_;
  std::shared_ptr<const ReplicaSum> replica_sum_;
};

// Layer normalisation over the trailing dimensions normalized_shape (PyTorch's nn.LayerNorm): every
// sample normalised on its own, the same in train and eval mode. Parameters "weight" (ones) and
// "bias" (zeros) of normalized_shape, named as in PyTorch.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::size_t features, double eps = 1e-5);
  explicit LayerNorm(shape_type normalized_shape, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  shape_type shape_;
  double eps_;
  Tensor weight_, bias_;
};

// A table of `count` learned vectors of `dim` values (PyTorch's nn.Embedding), drawn from N(0, 1).
// Looking up ids of any shape gives that shape plus (dim,); the gradient adds up in the rows looked
// up (index_select).
class Embedding : public Module {
 public:
  Embedding(std::size_t count, std::size_t dim);
  // ids: whole numbers in [0, count) held in a tensor (a batch of token ids, any shape).
  Tensor forward(const Tensor& ids) override;
  using Module::operator();
  // ids as integers: (ids.size(), dim).
  Tensor operator()(std::span<const int> ids);
  std::string describe() const override;
  const Tensor& weight() const { return weight_; }

 private:
  std::size_t count_, dim_;
  Tensor weight_;
  // forward's ids as integers and the output's shape, kept so that a step allocates nothing
  std::vector<int> rows_;
  axes_type out_shape_;
};

// Activations have no parameters; they name themselves for Sequential's init choice.
class Activation : public Module {
 public:
  // Whether He initialisation suits the layer before this activation (ReLU family).
  virtual bool relu_like() const = 0;
};

class ReLU : public Activation {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string describe() const override { return "ReLU()"; }
  bool relu_like() const override { return true; }
};

class LeakyReLU : public Activation {
 public:
  explicit LeakyReLU(float slope = 0.01f) : slope_(slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, slope_); }
  std::string describe() const override;
  bool relu_like() const override { return true; }

 private:
  float slope_;
};

class ELU : public Activation {
 public:
  explicit ELU(float alpha = 1.0f) : alpha_(alpha) {}
  Tensor forward(const Tensor& x) override { return elu(x, alpha_); }
  std::string describe() const override;
  bool relu_like() const override { return true; }

 private:
  float alpha_;
};

class Tanh : public Activation {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string describe() const override { return "Tanh()"; }
  bool relu_like() const override { return false; }
};

class Sigmoid : public Activation {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string describe() const override { return "Sigmoid()"; }
  bool relu_like() const override { return false; }
};

// Where a batch sits in a larger one: rows [offset, offset + its own rows) of a batch of
// `global_rows` (data parallelism's shard of a global batch). global_rows 0: the batch is whole.
struct BatchShard {
  std::size_t offset = 0;
  std::size_t global_rows = 0;
};

class GELU : public Activation {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::none) : approximate_(approximate) {}
  Tensor forward(const Tensor& x) override { return gelu(x, approximate_); }
  std::string describe() const override;
  bool relu_like() const override { return true; }

 private:
  GeluApproximation approximate_;
};

class SiLU : public Activation {
 public:
  Tensor forward(const Tensor& x) override { return silu(x); }
  std::string describe() const override { return "SiLU()"; }
  bool relu_like() const override { return true; }
};

// Inverted dropout in train mode, identity in eval mode. Its mask stream is seeded from
// default_generator() at construction, so a seeded model drops the same units; it is registered as
// the module's generator "mask", so checkpoints save where the stream is. On a shard of a global
// batch it draws the shard's rows of the global batch's mask and moves its stream past the whole
// batch, so every example gets the mask it would get in one process (dist::DataParallel sets it).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  void set_batch_shard(BatchShard shard) { shard_ = shard; }

 private:
  double p_;
  std::shared_ptr<Generator> gen_;
  BatchShard shard_;
};

class Sequential : public Module {
 public:
  template <class... Layers>
    requires((std::is_base_of_v<Module, std::decay_t<Layers>> && ...) &&
             !(sizeof...(Layers) == 1 && (std::is_same_v<std::decay_t<Layers>, Sequential> && ...)))
  explicit Sequential(Layers&&... layers) {
    (append(std::make_shared<std::decay_t<Layers>>(std::forward<Layers>(layers))), ...);
    resolve_initialization();
  }
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  std::size_t size() const { return children().size(); }
  Module& operator[](std::size_t i) const { return *children()[i].second; }

 private:
  void append(std::shared_ptr<Module> layer);
  // Gives each Linear with Init::automatic the init that suits the next activation.
  void resolve_initialization();
};

}  // namespace xg::nn
