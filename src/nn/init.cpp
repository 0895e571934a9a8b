#include "xgrad/nn/init.hpp"

#include <cmath>
#include <iostream>

namespace xg::nn {

void initialize(Tensor& w, Init init, Generator& gen, const std::string& layer) {
  // Linear's (in, out); a convolution's (out, in / groups, F_h, F_w), whose every output sees
  // in / groups * F_h * F_w inputs and every input reaches out * F_h * F_w outputs.
  const std::size_t receptive = w.dim() == 4 ? w.shape()[2] * w.shape()[3] : 1;
  const double fan_in = w.dim() == 4 ? double(w.shape()[1] * receptive) : double(w.shape()[0]);
  const double fan_out = w.dim() == 4 ? double(w.shape()[0] * receptive) : double(w.shape()[1]);
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
