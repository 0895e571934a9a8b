#pragma once
// Hyperparameters in error messages: "1.5" and "1e-08", not std::to_string's "1.500000" and "0.000000".
#include <cstdio>
#include <string>

namespace xg::optim {
inline std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}
}  // namespace xg::optim
