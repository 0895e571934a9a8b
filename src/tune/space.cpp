#include "xgrad/tune/space.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "xgrad/errors.hpp"

namespace xg::tune {

namespace {
std::size_t uniform_index(Generator& gen, std::size_t n) {
  return std::min(n - 1, std::size_t(unit_uniform(gen) * double(n)));
}

std::string range_text(double low, double high) {
  std::ostringstream s;
  s << "[" << low << ", " << high << "]";
  return s.str();
}

void require(bool ok, const std::string& function, const std::string& condition, double low, double high) {
  if (!ok)
    throw value_error("tune::" + function + ": the range " + range_text(low, high) + " needs " + condition);
}
}  // namespace

Distribution uniform(double low, double high) {
  require(std::isfinite(low) && std::isfinite(high) && low < high, "uniform", "finite low < high", low, high);
  return {Distribution::Kind::uniform, low, high, {}};
}

Distribution log_uniform(double low, double high) {
  require(0 < low && low < high && std::isfinite(high), "log_uniform", "0 < low < high", low, high);
  return {Distribution::Kind::log_uniform, low, high, {}};
}

Distribution one_minus_log_uniform(double low, double high) {
  require(0 <= low && low < high && high < 1, "one_minus_log_uniform", "0 <= low < high < 1", low, high);
  return {Distribution::Kind::one_minus_log_uniform, low, high, {}};
}

Distribution int_range(long low, long high) {
  require(low <= high, "int_range", "low <= high", double(low), double(high));
  return {Distribution::Kind::int_range, double(low), double(high), {}};
}

Distribution choice(std::vector<double> values) {
  if (values.empty()) throw value_error("tune::choice: needs at least one value");
  return {Distribution::Kind::choice, 0, 0, std::move(values)};
}

double Distribution::to_scale(double x) const {
  switch (kind) {
    case Kind::log_uniform: return std::log10(x);
    case Kind::one_minus_log_uniform: return std::log10(1 - x);
    default: return x;
  }
}

double Distribution::from_scale(double r) const {
  switch (kind) {
    case Kind::log_uniform: return std::pow(10.0, r);
    case Kind::one_minus_log_uniform: return 1 - std::pow(10.0, r);
    default: return r;
  }
}

double Distribution::sample(Generator& gen) const {
  switch (kind) {
    case Kind::int_range: return low + double(uniform_index(gen, std::size_t(high - low) + 1));
    case Kind::choice: return choices[uniform_index(gen, choices.size())];
    default: {
      const double a = to_scale(low), b = to_scale(high);
      return std::clamp(from_scale(a + (b - a) * unit_uniform(gen)), low, high);  // clamp: pow's rounding
    }
  }
}

std::string Distribution::describe() const {
  std::ostringstream s;
  switch (kind) {
    case Kind::uniform: s << "uniform(" << low << ", " << high << ")"; break;
    case Kind::log_uniform: s << "log_uniform(" << low << ", " << high << ")"; break;
    case Kind::one_minus_log_uniform: s << "one_minus_log_uniform(" << low << ", " << high << ")"; break;
    case Kind::int_range: s << "int_range(" << low << ", " << high << ")"; break;
    case Kind::choice:
      s << "choice(";
      for (std::size_t i = 0; i < choices.size(); ++i) s << (i ? ", " : "") << choices[i];
      s << ")";
      break;
  }
  return s.str();
}

double Config::operator[](const std::string& name) const {
  const auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  std::string known;
  for (const auto& [key, value] : values_) known += (known.empty() ? "" : ", ") + key;
  throw value_error("tune::Config: no hyperparameter '" + name + "' (it has: " + known + ")");
}

long Config::integer(const std::string& name) const { return std::lround((*this)[name]); }

SearchSpace& SearchSpace::add(std::string name, Distribution distribution) {
  for (const auto& [existing, d] : parameters_)
    if (existing == name) throw value_error("tune::SearchSpace::add: '" + name + "' is already in the space");
  parameters_.emplace_back(std::move(name), std::move(distribution));
  return *this;
}

const Distribution& SearchSpace::operator[](const std::string& name) const {
  for (const auto& [existing, d] : parameters_)
    if (existing == name) return d;
  throw value_error("tune::SearchSpace: no hyperparameter '" + name + "'");
}

Config SearchSpace::sample(Generator& gen) const {
  std::map<std::string, double> values;
  for (const auto& [name, d] : parameters_) values[name] = d.sample(gen);
  return Config(std::move(values));
}

std::vector<Config> SearchSpace::grid(std::size_t max_points) const {
  std::vector<std::vector<double>> axes;
  std::size_t points = 1;
  for (const auto& [name, d] : parameters_) {
    if (!d.discrete())
      throw value_error("tune::SearchSpace::grid: '" + name + "' is " + d.describe() +
                        "; a grid suits only int_range and choice (sample continuous ones at random)");
    std::vector<double> axis = d.choices;
    if (d.kind == Distribution::Kind::int_range)
      for (double v = d.low; v <= d.high; ++v) axis.push_back(v);
    points *= axis.size();
    if (points > max_points)
      throw value_error("tune::SearchSpace::grid: more than " + std::to_string(max_points) +
                        " points; use random search (sample) instead");
    axes.push_back(std::move(axis));
  }
  std::vector<Config> configs;
  for (std::size_t point = 0; point < points; ++point) {
    std::map<std::string, double> values;
    std::size_t rest = point;  // mixed-radix digits: the last hyperparameter varies fastest
    for (std::size_t p = parameters_.size(); p-- > 0;) {
      values[parameters_[p].first] = axes[p][rest % axes[p].size()];
      rest /= axes[p].size();
    }
    configs.emplace_back(std::move(values));
  }
  return configs;
}

SearchSpace SearchSpace::narrowed(std::span<const Config> best, double margin) const {
  if (best.empty()) throw value_error("tune::SearchSpace::narrowed: needs at least one point to narrow around");
  if (!(margin >= 0)) throw value_error("tune::SearchSpace::narrowed: margin must be >= 0, got " + std::to_string(margin));
  SearchSpace fine;
  for (const auto& [name, d] : parameters_) {
    if (d.kind == Distribution::Kind::choice) {
      std::vector<double> kept;
      for (double v : d.choices)
        if (std::any_of(best.begin(), best.end(), [&](const Config& c) { return c[name] == v; })) kept.push_back(v);
      fine.add(name, choice(std::move(kept)));
      continue;
    }
    // On the sampling scale, where one_minus_log_uniform's order is reversed (larger beta, smaller r).
    double lo = INFINITY, hi = -INFINITY;
    for (const Config& c : best) {
      lo = std::min(lo, d.to_scale(c[name]));
      hi = std::max(hi, d.to_scale(c[name]));
    }
    const double widen = margin * (hi - lo);
    const double a = std::min(d.to_scale(d.low), d.to_scale(d.high)), b = std::max(d.to_scale(d.low), d.to_scale(d.high));
    lo = std::max(a, lo - widen);
    hi = std::min(b, hi + widen);
    double low = std::min(d.from_scale(lo), d.from_scale(hi)), high = std::max(d.from_scale(lo), d.from_scale(hi));
    low = std::max(low, d.low);  // pow and log10 may round just outside the current range
    high = std::min(high, d.high);
    Distribution narrow = d;
    if (d.kind == Distribution::Kind::int_range) {
      narrow.low = std::round(low);  // the best points are integers in [low, high]: rounding keeps them
      narrow.high = std::round(high);
    } else if (low < high) {
      narrow.low = low;
      narrow.high = high;
    } else {
      narrow = choice({low});  // every best point agrees: nothing left to search
    }
    fine.add(name, std::move(narrow));
  }
  return fine;
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace xg::tune
