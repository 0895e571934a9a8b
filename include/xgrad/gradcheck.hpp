#pragma once
// Numerical gradient check in double precision: analytic gradients from the tape against central
// differences (f(x + h) - f(x - h)) / 2h.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xgrad/tensor.hpp"

namespace xg {

// The thresholds, stated once. They are PyTorch's gradcheck defaults for float64. An element
// passes when |analytic - numeric| <= atol + rtol * |numeric|.
struct GradcheckOptions {
  double eps = 1e-6;   // h, the central-difference step
  double atol = 1e-5;
  double rtol = 1e-3;
  std::uint64_t seed = 0;  // for the random projection of a non-scalar output
};

struct GradcheckResult {
  bool passed = true;
  std::string name;
  // Over all elements of all inputs: the worst |a - n| / max(|a|, |n|, atol) and where it is.
  double worst_relative_error = 0;
  std::size_t worst_input = 0, worst_index = 0;
  double analytic = 0, numeric = 0;
  std::size_t elements_checked = 0;
  std::string report() const;  // one line: name, verdict, worst element, analytic vs numeric
};

using TensorFn = std::function<Tensor64(const std::vector<Tensor64>&)>;

// Checks d(sum(f(inputs) * r))/d(inputs) for a fixed random r, so every output element counts.
// The inputs are copied; the check perturbs the copies.
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor64>& inputs,
                          const GradcheckOptions& options = {}, const std::string& name = "f");

}  // namespace xg
