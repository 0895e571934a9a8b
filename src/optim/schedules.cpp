#include "xgrad/optim/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "xgrad/errors.hpp"
#include "number.hpp"

namespace xg::optim {

namespace {
void require(bool ok, const char* schedule, const std::string& what) {
  if (!ok) throw value_error(std::string(schedule) + ": " + what);
}
// Learning rates and the numbers that scale them: finite and >= 0 (NaN fails the test too).
void require_non_negative(const char* schedule, const char* name, double v) {
  require(v >= 0 && v < INFINITY, schedule, std::string(name) + " = " + number(v) + " is outside [0, inf)");
}
}  // namespace

Schedule constant_schedule(double a0) {
  require_non_negative("constant_schedule", "a0", a0);
  return [a0](long) { return a0; };
}

Schedule inverse_time_decay(double a0, double decay_rate) {
  require_non_negative("inverse_time_decay", "a0", a0);
  require_non_negative("inverse_time_decay", "decay_rate", decay_rate);
  return [=](long epoch) { return a0 / (1 + decay_rate * double(epoch)); };
}

Schedule exponential_decay(double a0, double rate) {
  require_non_negative("exponential_decay", "a0", a0);
  require(rate > 0 && rate < INFINITY, "exponential_decay", "rate = " + number(rate) + " is outside (0, inf)");
  return [=](long epoch) { return std::pow(rate, double(epoch)) * a0; };
}

Schedule inverse_sqrt_decay(double a0, double k) {
  require_non_negative("inverse_sqrt_decay", "a0", a0);
  require_non_negative("inverse_sqrt_decay", "k", k);
  return [=](long epoch) { return k / std::sqrt(double(std::max(epoch, 1L))) * a0; };
}

Schedule staircase_decay(double a0, double factor, long every) {
  require_non_negative("staircase_decay", "a0", a0);
  require_non_negative("staircase_decay", "factor", factor);
  require(every > 0, "staircase_decay", "every = " + std::to_string(every) + " epochs is not positive");
  return [=](long epoch) { return a0 * std::pow(factor, double(epoch / every)); };
}

Schedule cosine_decay(double a0, long total_epochs, double a_min) {
  require_non_negative("cosine_decay", "a0", a0);
  require_non_negative("cosine_decay", "a_min", a_min);
  require(total_epochs > 0, "cosine_decay", "total_epochs " + std::to_string(total_epochs) + " is not positive");
  return [=](long epoch) {
    const double progress = double(std::min(epoch, total_epochs)) / double(total_epochs);
    return a_min + (a0 - a_min) * (1 + std::cos(std::numbers::pi * progress)) / 2;
  };
}

}  // namespace xg::optim
