#include "xgrad/nn/layers.hpp"

#include <cmath>
#include <sstream>

namespace xg::nn {

Linear::Linear(std::size_t in, std::size_t out, Init init) : Linear(in, out, init, true) {}
Linear::Linear(std::size_t in, std::size_t out, NoBias, Init init) : Linear(in, out, init, false) {}

Linear::Linear(std::size_t in, std::size_t out, Init init, bool bias)
    : in_(in), out_(out), has_bias_(bias), init_(init) {
  if (in == 0 || out == 0) throw value_error("Linear: sizes must be positive, got " + describe());
  weight_ = register_parameter("weight", Tensor::zeros({in, out}));
  if (has_bias_) bias_ = register_parameter("bias", Tensor::zeros({out}));
  reset_parameters(init, default_generator());
}

void Linear::reset_parameters(Init init, Generator& gen) {
  initialize(weight_, init, gen, describe());
  if (has_bias_) bias_.mutable_value().fill(0.0f);
}

Tensor Linear::forward(const Tensor& x) {
  if (x.dim() != 2 || x.shape()[1] != in_)
    throw shape_error(describe() + ": expects input of shape (N, " + std::to_string(in_) + "), got " +
                      shape_string(x.shape()));
  Tensor y = matmul(x, weight_);
  return has_bias_ ? y + bias_ : y;
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_) + ", " + std::to_string(out_) + (has_bias_ ? ")" : ", bias=false)");
}

BatchNorm::BatchNorm(std::size_t features, double momentum, double eps)
    : features_(features), momentum_(momentum), eps_(eps) {
  gamma_ = register_parameter("gamma", Tensor::ones({features}));
  beta_ = register_parameter("beta", Tensor::zeros({features}));
  running_mean_ = register_buffer("running_mean", Tensor::zeros({features}));
  running_var_ = register_buffer("running_var", Tensor::ones({features}));
}

Tensor BatchNorm::forward(const Tensor& x) {
  return batch_norm(x, gamma_, beta_, running_mean_, running_var_,
                    {.train = training(), .momentum = momentum_, .eps = eps_, .replica_sum = replica_sum_.get()});
}

std::string BatchNorm::describe() const {
  std::ostringstream s;
  s << "BatchNorm(" << features_ << ", momentum=" << momentum_ << ", eps=" << eps_ << ")";
  return s.str();
}

LayerNorm::LayerNorm(std::size_t features, double eps) : LayerNorm(shape_type{features}, eps) {}

LayerNorm::LayerNorm(shape_type normalized_shape, double eps) : shape_(std::move(normalized_shape)), eps_(eps) {
  weight_ = register_parameter("weight", Tensor::ones(shape_));
  bias_ = register_parameter("bias", Tensor::zeros(shape_));
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, weight_, bias_, eps_); }

std::string LayerNorm::describe() const {
  std::ostringstream s;
  s << "LayerNorm(" << shape_string(shape_) << ", eps=" << eps_ << ")";
  return s.str();
}

Embedding::Embedding(std::size_t count, std::size_t dim) : count_(count), dim_(dim) {
  if (count == 0 || dim == 0) throw value_error("Embedding: sizes must be positive, got " + describe());
  weight_ = register_parameter("weight", normal<float>({count, dim}, 0.0f, 1.0f, default_generator()));
}

Tensor Embedding::forward(const Tensor& ids) {
  rows_.resize(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const float id = ids.value().data()[i];
    if (!(std::abs(id) < 1e9f && id == std::floor(id)))  // operator() checks the range
      throw value_error(describe() + ": id " + std::to_string(id) + " (element " + std::to_string(i) + ") is not a whole number");
    rows_[i] = int(id);
  }
  out_shape_.assign(ids.shape().begin(), ids.shape().end());
  out_shape_.push_back(long(dim_));
  return reshape((*this)(rows_), out_shape_);
}

Tensor Embedding::operator()(std::span<const int> ids) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || std::size_t(ids[i]) >= count_)
      throw value_error(describe() + ": id " + std::to_string(ids[i]) + " (element " + std::to_string(i) +
                        ") is out of range [0, " + std::to_string(count_) + ")");
  return index_select(weight_, 0, ids);
}

std::string Embedding::describe() const {
  return "Embedding(" + std::to_string(count_) + ", " + std::to_string(dim_) + ")";
}

std::string GELU::describe() const {
  return approximate_ == GeluApproximation::tanh ? "GELU(approximate='tanh')" : "GELU()";
}

std::string LeakyReLU::describe() const {
  std::ostringstream s;
  s << "LeakyReLU(" << slope_ << ")";
  return s.str();
}

std::string ELU::describe() const {
  std::ostringstream s;
  s << "ELU(" << alpha_ << ")";
  return s.str();
}

Dropout::Dropout(double p) : p_(p), gen_(std::make_shared<Generator>(default_generator()())) {
  if (!(p >= 0.0 && p < 1.0)) throw value_error("Dropout: p must be in [0, 1), got " + std::to_string(p));
  register_generator("mask", gen_);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!training() || p_ == 0.0 || shard_.global_rows == 0 || x.dim() == 0) return dropout(x, p_, training(), *gen_);
  const std::size_t rows = x.shape()[0], row_size = rows ? x.size() / rows : 0;
  if (shard_.offset + rows > shard_.global_rows)
    throw shape_error("Dropout: a shard of " + std::to_string(rows) + " rows at row " + std::to_string(shard_.offset) +
                      " does not fit its global batch of " + std::to_string(shard_.global_rows) + " rows");
  // dropout draws one number per element in row-major order (ops/regularization.cpp).
  gen_->discard(shard_.offset * row_size);
  Tensor out = dropout(x, p_, true, *gen_);
  gen_->discard((shard_.global_rows - shard_.offset - rows) * row_size);
  return out;
}

std::string Dropout::describe() const {
  std::ostringstream s;
  s << "Dropout(" << p_ << ")";
  return s.str();
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) {
  for (auto& layer : layers) append(std::move(layer));
  resolve_initialization();
}

void Sequential::append(std::shared_ptr<Module> layer) {
  register_module(std::to_string(children().size()), std::move(layer));
}

void Sequential::resolve_initialization() {
  for (std::size_t i = 0; i < children().size(); ++i) {
    auto* linear = dynamic_cast<Linear*>(children()[i].second.get());
    if (!linear || linear->init() != Init::automatic) continue;
    // The next activation decides (a BatchNorm or Dropout in between does not change it); a Linear
    // followed by no activation (the output layer) gets Xavier.
    Init chosen = Init::xavier_uniform;
    for (std::size_t j = i + 1; j < children().size(); ++j) {
      if (dynamic_cast<Linear*>(children()[j].second.get())) break;
      if (auto* act = dynamic_cast<Activation*>(children()[j].second.get())) {
        chosen = act->relu_like() ? Init::he_normal : Init::xavier_uniform;
        break;
      }
    }
    // Linear's constructor drew he_normal already; only a different choice re-draws.
    if (chosen != Init::he_normal) linear->reset_parameters(chosen, default_generator());
  }
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, layer] : children()) h = layer->forward(h);
  return h;
}

std::string Sequential::describe() const {
  std::string s = "Sequential(\n";
  for (const auto& [name, layer] : children()) s += "  (" + name + ") " + layer->describe() + "\n";
  return s + ")";
}

}  // namespace xg::nn
