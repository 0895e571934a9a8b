#include "xgrad/gradcheck.hpp"

#include <cmath>
#include <random>
#include <sstream>

#include "xgrad/registry.hpp"

namespace xg {

std::string GradcheckResult::report() const {
  std::ostringstream s;
  s.precision(3);
  s << name << ": " << (passed ? "ok" : "FAILED") << ", worst relative error " << worst_relative_error
    << " over " << elements_checked << " elements";
  if (elements_checked)
    s << " (input " << worst_input << ", element " << worst_index << ": analytic " << analytic << " vs numeric "
      << numeric << ")";
  return s.str();
}

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor64>& inputs, const GradcheckOptions& opt,
                          const std::string& name) {
  std::vector<Tensor64> leaves;
  for (const auto& in : inputs) leaves.emplace_back(array<double>(in.value()), true);

  array<double> projection;
  {
    Tape tape;
    Tensor64 out = f(leaves);
    std::mt19937_64 rng(opt.seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    projection = array<double>::from_shape(out.shape_vector());
    for (auto& r : projection) r = uniform(rng);
    if (out.requires_grad()) tape.backward(out, projection);
  }
  auto projected_output = [&] {
    NoGrad no_grad;
    const Tensor64 out = f(leaves);
    double total = 0;
    for (std::size_t i = 0; i < out.size(); ++i) total += out.value().data()[i] * projection.data()[i];
    return total;
  };

  GradcheckResult result;
  result.name = name;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    double* x = leaves[i].mutable_value().data();
    for (std::size_t j = 0; j < leaves[i].size(); ++j) {
      const double saved = x[j];
      x[j] = saved + opt.eps;
      const double plus = projected_output();
      x[j] = saved - opt.eps;
      const double minus = projected_output();
      x[j] = saved;
      const double numeric = (plus - minus) / (2 * opt.eps);
      const double analytic = leaves[i].has_grad() ? leaves[i].grad().data()[j] : 0.0;
      const double diff = std::abs(analytic - numeric);
      const double relative = diff / std::max({std::abs(analytic), std::abs(numeric), opt.atol});
      const bool ok = diff <= opt.atol + opt.rtol * std::abs(numeric);  // false for NaN too
      ++result.elements_checked;
      // Report the worst element, preferring one that fails the rule to one that passes it.
      const double score = std::isnan(relative) ? INFINITY : relative;
      const bool failed_first = !ok && result.passed;
      if (failed_first || (ok == result.passed && score > result.worst_relative_error)) {
        result.worst_relative_error = score;
        result.worst_input = i;
        result.worst_index = j;
        result.analytic = analytic;
        result.numeric = numeric;
      }
      if (!ok) result.passed = false;
    }
  }
  return result;
}

std::vector<Tensor64> sample_inputs(const OpEntry& entry, const OpCase& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> magnitude(entry.domain == Domain::real ? 0.0 : entry.domain == Domain::positive ? 0.5 : 0.2, 2.0);
  std::bernoulli_distribution negative(entry.domain == Domain::positive ? 0.0 : 0.5);
  std::uniform_int_distribution<int> small_integer(-2, 2);
  std::vector<Tensor64> inputs;
  for (const auto& shape : c.shapes) {
    array<double> v = array<double>::from_shape(shape);
    for (auto& x : v) x = entry.domain == Domain::ties ? small_integer(rng) : negative(rng) ? -magnitude(rng) : magnitude(rng);
    inputs.emplace_back(std::move(v));
  }
  return inputs;
}

}  // namespace xg
