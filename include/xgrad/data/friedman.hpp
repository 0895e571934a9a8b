#pragma once
// Friedman's first regression problem (J. Friedman, "Multivariate adaptive regression splines",
// 1991; scikit-learn's make_friedman1): a standard benchmark for regression, generated from a seed.
#include <cstdint>

#include "xgrad/data/dataset.hpp"

namespace xg::data {

struct Friedman1Options {
  std::size_t train = 5000, validation = 1000, test = 1000;  // examples per split
  std::size_t features = 10;  // at least 5; only the first 5 matter, the rest are noise to ignore
  double noise = 1.0;         // standard deviation of the Gaussian noise added to each target
  std::uint64_t seed = 0;     // the same seed gives the same data on every platform
};

// Inputs x uniform on [0, 1]^features (rows (N, features), float32), targets (N, 1) in
// Split::values: y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise * N(0, 1).
// The targets have mean 14.41 and variance 23.8 + noise^2; no model can beat a mean
// squared error of noise^2. Throws xg::value_error for fewer than 5 features, an empty training
// split or a negative or non-finite noise.
Dataset friedman1(const Friedman1Options& options = {});

}  // namespace xg::data
