#pragma once
// Seeded random tensors. Every random thing in xgrad takes a Generator, so a seed reproduces a run.
#include <cstdint>
#include <random>

#include "xgrad/tensor.hpp"

namespace xg {

using Generator = std::mt19937_64;

// Uniform in [0, 1) from the top 53 bits of one raw draw. Unlike std::uniform_real_distribution,
// whose algorithm differs between standard libraries, the same seed gives the same number everywhere.
inline double unit_uniform(Generator& gen) { return double(gen() >> 11) * 0x1.0p-53; }

namespace detail {
template <class T, class Distribution>
TensorT<T> draw(const shape_type& shape, Distribution dist, Generator& gen, bool requires_grad) {
  array<T> v = array<T>::from_shape(shape);
  for (auto& x : v) x = dist(gen);
  return TensorT<T>(std::move(v), requires_grad);
}
}  // namespace detail

template <class T = float>
TensorT<T> uniform(const shape_type& shape, T low, T high, Generator& gen, bool requires_grad = false) {
  return detail::draw<T>(shape, std::uniform_real_distribution<T>(low, high), gen, requires_grad);
}

template <class T = float>
TensorT<T> normal(const shape_type& shape, T mean, T stddev, Generator& gen, bool requires_grad = false) {
  return detail::draw<T>(shape, std::normal_distribution<T>(mean, stddev), gen, requires_grad);
}

}  // namespace xg
