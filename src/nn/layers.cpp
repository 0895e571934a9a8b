#include "xgrad/nn/layers.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

namespace xg::nn {

namespace {
std::string size2_string(Size2 s) { return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")"; }

}  // namespace

WeightedLayer::WeightedLayer(const shape_type& weight_shape, std::size_t outputs, bool bias, Init init)
    : has_bias_(bias), init_(init) {
  weight_ = register_parameter("weight", Tensor::zeros(weight_shape));
  if (has_bias_) bias_ = register_parameter("bias", Tensor::zeros({outputs}));
}

void WeightedLayer::reset_parameters(Init init, Generator& gen) {
  initialize(weight_, init, gen, describe());
  if (has_bias_) bias_.mutable_value().fill(0.0f);
}

Linear::Linear(std::size_t in, std::size_t out, Init init) : Linear(in, out, init, true) {}
Linear::Linear(std::size_t in, std::size_t out, NoBias, Init init) : Linear(in, out, init, false) {}

Linear::Linear(std::size_t in, std::size_t out, Init init, bool bias)
    : WeightedLayer({in, out}, out, bias, init), in_(in), out_(out) {
  if (in == 0 || out == 0) throw value_error("Linear: sizes must be positive, got " + describe());
  reset_parameters(init, default_generator());
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

Conv2d::Conv2d(std::size_t in, std::size_t out, Size2 kernel, const Conv2dLayerOptions& options)
    : WeightedLayer({out, options.groups ? in / options.groups : 0, kernel.h, kernel.w}, out, options.bias, options.init),
      in_(in),
      out_(out),
      kernel_(kernel),
      conv_{.stride = options.stride, .padding = options.padding, .dilation = options.dilation, .groups = options.groups} {
  if (in == 0 || out == 0 || kernel.h == 0 || kernel.w == 0 || options.groups == 0 || in % options.groups ||
      out % options.groups)
    throw value_error("Conv2d: channels and kernel must be positive and the groups must divide both channel counts, got " +
                      describe());
  reset_parameters(init_, default_generator());
}

Tensor Conv2d::forward(const Tensor& x) {
  return has_bias_ ? conv2d(x, weight_, bias_, conv_) : conv2d(x, weight_, conv_);
}

std::string Conv2d::describe() const {
  std::string s = "Conv2d(" + std::to_string(in_) + ", " + std::to_string(out_) + ", kernel=" + size2_string(kernel_);
  if (conv_.stride.h != 1 || conv_.stride.w != 1) s += ", stride=" + size2_string(conv_.stride);
  if (conv_.padding.h || conv_.padding.w) s += ", padding=" + size2_string(conv_.padding);
  if (conv_.dilation.h != 1 || conv_.dilation.w != 1) s += ", dilation=" + size2_string(conv_.dilation);
  if (conv_.groups != 1) s += ", groups=" + std::to_string(conv_.groups);
  return s + (has_bias_ ? ")" : ", bias=false)");
}

std::string Pool2dLayer::describe() const {
  return std::string(name_) + "(kernel=" + size2_string(kernel_) +
         (options_.stride.h || options_.stride.w ? ", stride=" + size2_string(options_.stride) : std::string()) +
         (options_.padding.h || options_.padding.w ? ", padding=" + size2_string(options_.padding) : std::string()) + ")";
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
    auto* layer = dynamic_cast<WeightedLayer*>(children()[i].second.get());
    if (!layer || layer->init() != Init::automatic) continue;
    // The next activation decides (a BatchNorm, pooling or Dropout in between does not change it); a
    // layer followed by no activation (the output layer) gets Xavier.
    Init chosen = Init::xavier_uniform;
    for (std::size_t j = i + 1; j < children().size(); ++j) {
      if (dynamic_cast<WeightedLayer*>(children()[j].second.get())) break;
      if (auto* act = dynamic_cast<Activation*>(children()[j].second.get())) {
        chosen = act->relu_like() ? Init::he_normal : Init::xavier_uniform;
        break;
      }
    }
    // The constructor drew he_normal already; only a different choice re-draws.
    if (chosen != Init::he_normal) layer->reset_parameters(chosen, default_generator());
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

std::string Sequential::describe(const shape_type& input) const {
  std::vector<bool> modes;
  for (const auto& [name, layer] : children()) {
    modes.push_back(layer->training());
    layer->eval();  // batch norm reads its running statistics (and updates nothing), dropout passes
  }
  std::ostringstream s;
  s << "Sequential on input " << shape_string(input) << "\n";
  std::size_t total = 0;
  try {
    NoGrad no_grad;
    Tensor h = Tensor::zeros(input);
    for (const auto& [name, layer] : children()) {
      h = layer->forward(h);
      std::size_t count = 0;
      for (const auto& [pname, p] : layer->named_parameters()) count += p.size();
      total += count;
      s << "  (" << name << ") " << std::left << std::setw(52) << layer->describe() << " -> " << std::setw(18)
        << shape_string(h.shape()) << std::right << std::setw(10) << count << " parameters\n";
    }
  } catch (...) {
    for (std::size_t i = 0; i < modes.size(); ++i) children()[i].second->train(modes[i]);
    throw;
  }
  for (std::size_t i = 0; i < modes.size(); ++i) children()[i].second->train(modes[i]);
  s << "total " << total << " parameters";
  return s.str();
}

}  // namespace xg::nn
