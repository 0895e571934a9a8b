#pragma once
// The op registry: one row per op with sample cases for the gradient check. The gradcheck suite
// iterates it, so registering an op is what gets it checked.
#include <string>
#include <vector>

#include "xgrad/gradcheck.hpp"

namespace xg {

// Where an op's sample inputs are drawn from (uniformly).
enum class Domain {
  real,            // [-2, 2]
  positive,        // [0.5, 2]: log, sqrt, fractional powers
  away_from_zero,  // ±[0.2, 2]: ops with a kink or a pole at 0 (abs, relu, div)
  ties,            // the integers -2..2: inputs often equal each other (maximum's split gradient)
};

struct OpCase {
  std::string label;              // e.g. "broadcast (4,1)+(5,)"
  std::vector<shape_type> shapes; // one per differentiable input
  TensorFn apply;
};

struct OpEntry {
  std::string name;
  std::vector<OpCase> cases;
  Domain domain = Domain::real;
};

const std::vector<OpEntry>& op_registry();

// Reproducible sample inputs for one case.
std::vector<Tensor64> sample_inputs(const OpEntry& entry, const OpCase& c, std::uint64_t seed);

}  // namespace xg
