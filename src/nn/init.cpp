#include "xgrad/nn/init.hpp"

#include <cmath>
#include <iostream>

namespace xg::nn {

void initialize(Tensor& w, Init init, Generator& gen, const std::string& layer) {
  const double fan_in = double(w.shape()[0]), fan_out = double(w.shape()[1]);
  const shape_type shape = w.shape_vector();
  auto fill_from = [&](const Tensor& drawn) { w.mutable_value() = drawn.value(); };
  switch (init) {
    case Init::automatic:
    case Init::he_normal:
      fill_from(normal<float>(shape, 0.0f, float(std::sqrt(2.0 / fan_in)), gen));
      break;
    case Init::he_uniform: {
      const float a = float(std::sqrt(6.0 / fan_in));
      fill_from(uniform<float>(shape, -a, a, gen));
      break;
    }
    case Init::xavier_uniform: {
      const float a = float(std::sqrt(6.0 / (fan_in + fan_out)));
      fill_from(uniform<float>(shape, -a, a, gen));
      break;
    }
    case Init::xavier_normal:
      fill_from(normal<float>(shape, 0.0f, float(std::sqrt(2.0 / (fan_in + fan_out))), gen));
      break;
    case Init::zeros:
      std::cerr << "warning: " << layer
                << ": all-zero initialisation; every neuron of the layer computes the same thing and "
                   "gets the same gradient, so they never differ (symmetry is never broken)\n";
      w.mutable_value().fill(0.0f);
      break;
  }
}

}  // namespace xg::nn
