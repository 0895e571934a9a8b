#pragma once
// Search spaces for hyperparameter tuning: each hyperparameter sampled on the scale where its effect
// is even (a learning rate on a log scale, an averaging beta on the 1 / (1 - beta) scale), random
// search by default, a grid for a few small integer or categorical choices, and the coarse-to-fine
// narrowing of a space around its best points. See docs/tuning.md.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/random.hpp"

namespace xg::tune {

// One hyperparameter's distribution. Build it with the functions below, which check the range.
struct Distribution {
  enum class Kind { uniform, log_uniform, one_minus_log_uniform, int_range, choice };
  Kind kind;
  double low = 0, high = 0;     // the range (int_range: inclusive integers); unused by choice
  std::vector<double> choices;  // choice only

  double sample(Generator& gen) const;
  // The value on the scale it is sampled evenly on: log10(x), log10(1 - x), or x itself.
  double to_scale(double x) const;
  double from_scale(double r) const;
  bool discrete() const { return kind == Kind::int_range || kind == Kind::choice; }
  std::string describe() const;  // e.g. "log_uniform(0.0001, 1)"
};

// x uniform in [low, high].
Distribution uniform(double low, double high);
// x = 10^r, r uniform in [log10 low, log10 high] (0 < low < high): as many samples in [1e-4, 1e-3]
// as in [0.1, 1].
Distribution log_uniform(double low, double high);
// x = 1 - 10^r, r uniform in [log10(1 - high), log10(1 - low)] (0 <= low < high < 1): for averaging
// betas, so 0.9 ... 0.99 (averages over 10 ... 100 values) gets as many samples as 0.99 ... 0.999.
Distribution one_minus_log_uniform(double low, double high);
// An integer uniform in [low, high].
Distribution int_range(long low, long high);
// One of the values, each equally likely (e.g. batch sizes 32, 64, 128, 256).
Distribution choice(std::vector<double> values);

// One point of a space: a value per hyperparameter name.
class Config {
 public:
  Config() = default;
  explicit Config(std::map<std::string, double> values) : values_(std::move(values)) {}
  // Throws value_error naming the missing hyperparameter and the ones there are.
  double operator[](const std::string& name) const;
  long integer(const std::string& name) const;  // rounded to the nearest integer
  const std::map<std::string, double>& values() const { return values_; }
  bool operator==(const Config&) const = default;

 private:
  std::map<std::string, double> values_;
};

class SearchSpace {
 public:
  SearchSpace() = default;
  // Adds a hyperparameter (a name may appear once); returns *this so additions chain.
  SearchSpace& add(std::string name, Distribution distribution);
  const std::vector<std::pair<std::string, Distribution>>& parameters() const { return parameters_; }
  const Distribution& operator[](const std::string& name) const;

  // Random search: one point drawn from gen.
  Config sample(Generator& gen) const;
  // Every combination, when every hyperparameter is discrete (int_range or choice) and there are
  // at most max_points of them; throws value_error naming the continuous one otherwise.
  std::vector<Config> grid(std::size_t max_points = 10000) const;

  // Coarse to fine: a space whose ranges span the given points, widened by `margin` times that span
  // on each side (on each hyperparameter's own scale) and clipped to the current ranges. Choices keep
  // the values the points use; integer ranges round to the nearest integers.
  SearchSpace narrowed(std::span<const Config> best, double margin = 0.25) const;

 private:
  std::vector<std::pair<std::string, Distribution>> parameters_;
};

// A 64-bit seed mixed from a seed and an index (splitmix64), e.g. a trial's seed from the search
// seed and the trial id: independent of the order trials are started in.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index);

}  // namespace xg::tune
