#pragma once
// The layers: Linear, Conv2d, BatchNorm, LayerNorm, Embedding, pooling, Flatten, activations, Dropout
// and Sequential.
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

// A layer with a weight whose initialisation Sequential resolves from the next activation
// (Init::automatic): Linear and Conv2d.
class WeightedLayer : public Module {
 public:
  // Re-draws the weight (the bias restarts at zero).
  void reset_parameters(Init init, Generator& gen);
  Init init() const { return init_; }
  const Tensor& weight() const { return weight_; }
  bool has_bias() const { return has_bias_; }

 protected:
  // Registers "weight" (zeros of that shape, then drawn by init) and, if asked, "bias" of `outputs`.
  WeightedLayer(const shape_type& weight_shape, std::size_t outputs, bool bias, Init init);

  bool has_bias_;
  Init init_;
  Tensor weight_, bias_;
};

// y = x W + b with W of shape (in, out).
class Linear : public WeightedLayer {
 public:
  Linear(std::size_t in, std::size_t out, Init init = Init::automatic);
  Linear(std::size_t in, std::size_t out, NoBias, Init init = Init::automatic);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  Linear(std::size_t in, std::size_t out, Init init, bool bias);

  std::size_t in_, out_;
};

struct Conv2dLayerOptions {
  Size2 stride = 1, padding = 0, dilation = 1;
  std::size_t groups = 1;
  bool bias = true;  // false before a BatchNorm, whose beta is the bias
  Init init = Init::automatic;
};

// conv2d with a weight (out, in / groups, F_h, F_w) and a bias (out,); He or Xavier initialisation
// with fan_in = (in / groups) * F_h * F_w. Options go by reference (see conv2d in ops.hpp).
class Conv2d : public WeightedLayer {
 public:
  Conv2d(std::size_t in, std::size_t out, Size2 kernel, const Conv2dLayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  std::size_t in_, out_;
  Size2 kernel_;
  Conv2dOptions conv_;
};

// A pooling op over (N, C, H, W) windows: MaxPool2d and AvgPool2d.
class Pool2dLayer : public Module {
 public:
  using Op = Tensor (*)(const Tensor&, Size2, const Pool2dOptions&);
  Pool2dLayer(const char* name, Op op, Size2 kernel, const Pool2dOptions& options)
      : name_(name), op_(op), kernel_(kernel), options_(options) {}
  Tensor forward(const Tensor& x) override { return op_(x, kernel_, options_); }
  std::string describe() const override;

 private:
  const char* name_;
  Op op_;
  Size2 kernel_;
  Pool2dOptions options_;
};

class MaxPool2d : public Pool2dLayer {
 public:
  explicit MaxPool2d(Size2 kernel, const Pool2dOptions& options = {})
      : Pool2dLayer("MaxPool2d", max_pool2d<float>, kernel, options) {}
};

class AvgPool2d : public Pool2dLayer {
 public:
  explicit AvgPool2d(Size2 kernel, const Pool2dOptions& options = {})
      : Pool2dLayer("AvgPool2d", avg_pool2d<float>, kernel, options) {}
};

// (N, C, H, W) -> (N, C * H * W): from the convolutional part to the fully connected one.
class Flatten : public Module {
 public:
  explicit Flatten(long start_axis = 1) : start_axis_(start_axis) {}
  Tensor forward(const Tensor& x) override { return flatten(x, start_axis_); }
  std::string describe() const override { return "Flatten(" + std::to_string(start_axis_) + ")"; }

 private:
  long start_axis_;
};

// Batch normalisation over (N, C) per column or (N, C, H, W) per channel (after a Conv2d); see
// docs/nodes.md.
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
  // Each layer with its output shape and parameter count for an input of that shape, and the total:
  // one forward pass over zeros in eval mode, recording nothing (the modes are restored).
  std::string describe(const shape_type& input) const;
  std::size_t size() const { return children().size(); }
  Module& operator[](std::size_t i) const { return *children()[i].second; }

 private:
  void append(std::shared_ptr<Module> layer);
  // Gives each Linear or Conv2d with Init::automatic the init that suits the next activation.
  void resolve_initialization();
};

}  // namespace xg::nn
