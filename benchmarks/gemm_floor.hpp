#pragma once
// The practical floor of an MLP training step: its matrix products alone, through the BLAS xgrad
// uses (cblas_sgemm), in xgrad's row-major layout. Per layer: the forward product and the two
// backward ones (weight gradient, input gradient), except the first layer's input gradient, which a
// training step never needs. Everything else a step does (batch norm, softmax, Adam) is left out.
#include <vector>

#include "eigen_baseline.hpp"

namespace xg::bench {

class GemmFloor {
 public:
  explicit GemmFloor(const MlpConfig& config);
  void step();
  double flops_per_step() const;

 private:
  struct Layer {
    int in = 0, out = 0;
    std::vector<float> weight, weight_grad;  // [in x out]
    std::vector<float> z, dz;                // [batch x out]; z is the next layer's input
  };
  int batch_;
  std::vector<float> x_;  // [batch x inputs]
  std::vector<Layer> layers_;
};

}  // namespace xg::bench
