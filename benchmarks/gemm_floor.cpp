#include "gemm_floor.hpp"

#include <cblas.h>

#include <random>

namespace xg::bench {

namespace {
std::vector<float> random_buffer(std::size_t n, std::mt19937& gen) {
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);  // values never grow: timing only
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}
}  // namespace

GemmFloor::GemmFloor(const MlpConfig& config) : batch_(int(config.batch)) {
  std::mt19937 gen(1);
  x_ = random_buffer(std::size_t(batch_) * config.widths.front(), gen);
  for (std::size_t l = 0; l + 1 < config.widths.size(); ++l) {
    Layer layer;
    layer.in = int(config.widths[l]);
    layer.out = int(config.widths[l + 1]);
    layer.weight = random_buffer(std::size_t(layer.in) * layer.out, gen);
    layer.weight_grad.resize(layer.weight.size());
    layer.z.resize(std::size_t(batch_) * layer.out);
    layer.dz = random_buffer(layer.z.size(), gen);
    layers_.push_back(std::move(layer));
  }
}

void GemmFloor::step() {
  constexpr auto row_major = CblasRowMajor;
  const int m = batch_;
  for (std::size_t l = 0; l < layers_.size(); ++l) {  // z = x W
    Layer& layer = layers_[l];
    const float* x = l == 0 ? x_.data() : layers_[l - 1].z.data();
    cblas_sgemm(row_major, CblasNoTrans, CblasNoTrans, m, layer.out, layer.in, 1.0f, x, layer.in,
                layer.weight.data(), layer.out, 0.0f, layer.z.data(), layer.out);
  }
  for (std::size_t l = layers_.size(); l-- > 0;) {
    Layer& layer = layers_[l];
    const float* x = l == 0 ? x_.data() : layers_[l - 1].z.data();
    // dW = x^T dz
    cblas_sgemm(row_major, CblasTrans, CblasNoTrans, layer.in, layer.out, m, 1.0f, x, layer.in,
                layer.dz.data(), layer.out, 0.0f, layer.weight_grad.data(), layer.out);
    // dx = dz W^T, written where the layer below keeps its dz
    if (l > 0)
      cblas_sgemm(row_major, CblasNoTrans, CblasTrans, m, layer.in, layer.out, 1.0f, layer.dz.data(), layer.out,
                  layer.weight.data(), layer.out, 0.0f, layers_[l - 1].dz.data(), layer.in);
  }
}

double GemmFloor::flops_per_step() const {
  double flops = 0;
  for (std::size_t l = 0; l < layers_.size(); ++l)
    flops += (l == 0 ? 2 : 3) * 2.0 * batch_ * layers_[l].in * layers_[l].out;
  return flops;
}

}  // namespace xg::bench
