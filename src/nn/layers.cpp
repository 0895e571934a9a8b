#include "xgrad/nn/layers.hpp"

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
