#pragma once
// Weight initialisation. Each layer picks the sensible default for the activation that follows it
// (Sequential resolves Init::automatic): He/Kaiming for the ReLU family, Xavier/Glorot otherwise.
#include <string>

#include "xgrad/random.hpp"
#include "xgrad/tensor.hpp"

namespace xg::nn {

enum class Init {
  automatic,       // resolved from the next activation (He for ReLU-like, Xavier otherwise)
  xavier_uniform,  // U(-a, a), a = sqrt(6 / (fan_in + fan_out))
  xavier_normal,   // N(0, 2 / (fan_in + fan_out))
  he_normal,       // N(0, 2 / fan_in): keeps ReLU activations' variance
  he_uniform,      // U(-a, a), a = sqrt(6 / fan_in)
  zeros,           // every neuron would learn the same thing: warns
};

// Fills w in place: a Linear's (fan_in, fan_out) or a Conv2d's (out, in / groups, F_h, F_w) with
// fan_in = in / groups * F_h * F_w. Init::automatic means he_normal here.
void initialize(Tensor& w, Init init, Generator& gen, const std::string& layer);

}  // namespace xg::nn
