#include "xgrad/data/friedman.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "xgrad/errors.hpp"
#include "xgrad/random.hpp"

namespace xg::data {
namespace {

// Box-Muller over raw draws (unit_uniform), the same on every platform; 1 - u keeps the logarithm's
// argument in (0, 1].
double standard_normal(Generator& gen) {
  const double u = 1.0 - unit_uniform(gen), v = unit_uniform(gen);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
}

Split friedman_split(std::size_t n, const Friedman1Options& options, Generator& gen) {
  array<float> x = array<float>::from_shape({n, options.features});
  array<float> y = array<float>::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    float* row = x.data() + i * options.features;
    for (std::size_t j = 0; j < options.features; ++j) row[j] = float(unit_uniform(gen));
    const double x0 = row[0], x1 = row[1], x2 = row[2], x3 = row[3], x4 = row[4];
    y.data()[i] = float(10 * std::sin(std::numbers::pi * x0 * x1) + 20 * (x2 - 0.5) * (x2 - 0.5) + 10 * x3 + 5 * x4 +
                        options.noise * standard_normal(gen));
  }
  Split split;
  split.images = Tensor(std::move(x));
  split.values = Tensor(std::move(y));
  return split;
}

}  // namespace

Dataset friedman1(const Friedman1Options& options) {
  if (options.features < 5)
    throw value_error("friedman1: features is " + std::to_string(options.features) + "; the function uses 5");
  if (options.train == 0) throw value_error("friedman1: the training split is empty (train = 0)");
  if (!(options.noise >= 0) || !std::isfinite(options.noise))
    throw value_error("friedman1: noise is " + std::to_string(options.noise) + "; it must be finite and >= 0");
  Generator gen(options.seed);
  Dataset data;
  data.train = friedman_split(options.train, options, gen);
  data.validation = friedman_split(options.validation, options, gen);
  data.test = friedman_split(options.test, options, gen);
  return data;
}

}  // namespace xg::data
