#pragma once
// xgrad's versions of the benchmark MLPs, for bench_mlp's xgrad rows and the xgrad-vs-Eigen test.
#include <algorithm>
#include <span>
#include <vector>

#include <xgrad/xgrad.hpp>

#include "eigen_baseline.hpp"

namespace xg::bench {

// x as xgrad's row-major [batch x inputs]: the same bytes as the Eigen model's input.
inline Tensor to_tensor(const Matrix<float>& samples_as_columns) {
  array<float> a = array<float>::from_shape(
      {std::size_t(samples_as_columns.cols()), std::size_t(samples_as_columns.rows())});
  std::copy_n(samples_as_columns.data(), samples_as_columns.size(), a.begin());
  return Tensor(std::move(a));
}

// The same network as Mlp<float> (see MlpConfig), starting from an Eigen model's current weights.
class XgradMlp {
 public:
  // step_in_backward: each parameter's Adam update runs during backward (Optimizer::set_step_in_backward).
  explicit XgradMlp(Mlp<float>& same_start, bool step_in_backward = false)
      : config_(same_start.config()),
        params_(copy_parameters(same_start)),
        optimizer_(params_, optim::adam({.lr = config_.adam.lr,
                                         .beta1 = config_.adam.beta1,
                                         .beta2 = config_.adam.beta2,
                                         .eps = config_.adam.eps})) {
    // Walk the parameters in Mlp::parameters() order.
    std::size_t p = 0;
    for (std::size_t l = 0; l + 2 < config_.widths.size(); ++l) {
      Hidden layer;
      layer.weight = params_[p++];
      if (config_.batch_norm) {
        layer.gamma = params_[p++];
        layer.beta = params_[p++];
        const shape_type features{std::size_t(config_.widths[l + 1])};
        layer.running_mean = Tensor::zeros(features);
        layer.running_var = Tensor::ones(features);
      } else {
        layer.bias = params_[p++];
      }
      hidden_.push_back(layer);
    }
    output_weight_ = params_[p++];
    output_bias_ = params_[p++];
    optimizer_.set_step_in_backward(step_in_backward);
  }

  // Forward and backward; the gradients stay in parameters()[i].grad() until the next call.
  float forward_backward(const Tensor& x, std::span<const int> labels) {
    optimizer_.zero_grad();
    tape_.clear();
    Tensor h = x;
    for (Hidden& layer : hidden_) {
      Tensor z = matmul(h, layer.weight);
      z = config_.batch_norm
              ? batch_norm(z, layer.gamma, layer.beta, layer.running_mean, layer.running_var, {.train = true})
              : z + layer.bias;
      h = relu(z);
    }
    Tensor loss = cross_entropy(matmul(h, output_weight_) + output_bias_, labels);
    tape_.backward(loss);
    return loss.item();
  }

  void adam_step() { optimizer_.step(); }

  // One training step, as Mlp::step: forward, backward, Adam. Returns the loss before the update.
  float step(const Tensor& x, std::span<const int> labels) {
    const float loss = forward_backward(x, labels);
    adam_step();
    return loss;
  }

  // In Mlp::parameters() order; a weight is [in x out] row-major, the bytes of Eigen's [out x in].
  const std::vector<Tensor>& parameters() const { return params_; }

 private:
  struct Hidden {
    Tensor weight, bias, gamma, beta, running_mean, running_var;
  };

  static std::vector<Tensor> copy_parameters(Mlp<float>& model) {
    std::vector<Tensor> tensors;
    for (const Param<float>* p : model.parameters()) {
      // A weight [out x in] column-major is [in x out] row-major; a vector [n x 1] is shape {n}.
      const auto rows = std::size_t(p->value.rows()), cols = std::size_t(p->value.cols());
      const shape_type shape = cols == 1 ? shape_type{rows} : shape_type{cols, rows};
      array<float> a = array<float>::from_shape(shape);
      std::copy_n(p->value.data(), p->value.size(), a.begin());
      tensors.emplace_back(std::move(a), true);
    }
    return tensors;
  }

  MlpConfig config_;
  std::vector<Tensor> params_;
  std::vector<Hidden> hidden_;
  Tensor output_weight_, output_bias_;
  Tape tape_;  // reused across steps so that its buffers are too; one XgradMlp alive at a time
  optim::Optimizer optimizer_;
};

}  // namespace xg::bench
