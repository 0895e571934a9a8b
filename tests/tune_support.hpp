#pragma once
// Helpers the tuning tests share (test_tune, and test_dist's search over ranks): a run with a
// seeded, stateful score, its search space, a log of the jobs a search reports, and a check that
// two searches gave the same trials and results.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <ostream>
#include <thread>
#include <vector>

#include <xgrad/xgrad.hpp>

namespace xg::testing {

// A run whose score depends on its seed and the budget, and which takes a while, so that parallel
// trials finish in an order unlike the serial one.
struct Noisy : tune::Run {
  double quality;
  Generator gen;
  Noisy(double q, std::uint64_t seed) : quality(q), gen(seed) {}
  tune::Score train_until(double budget) override {
    std::this_thread::sleep_for(std::chrono::microseconds(200 + gen() % 800));
    const double noise = double(gen() % 1000) / 1e5;
    return {quality + noise + 0.001 * budget, double(gen() % 1000) / 1000};
  }
};

inline tune::SearchSpace quality_space() {
  tune::SearchSpace space;
  space.add("quality", tune::uniform(0, 1)).add("lr", tune::log_uniform(1e-4, 1));
  return space;
}

// A trial's rung as the search reports it.
struct Job {
  std::size_t id;
  int rung;
  bool operator==(const Job&) const = default;
};
inline std::ostream& operator<<(std::ostream& out, const Job& job) { return out << "(" << job.id << ", " << job.rung << ")"; }

// Each job in the order the search reports them.
struct JobLog {
  std::vector<Job> jobs;
  std::function<void(const tune::Trial&)> recorder() {
    return [this](const tune::Trial& t) { jobs.push_back({t.id, t.rung}); };
  }
  std::vector<std::size_t> per_rung(std::size_t rungs) const {
    std::vector<std::size_t> n(rungs);
    for (const Job& job : jobs) ++n[std::size_t(job.rung)];
    return n;
  }
};

// Two searches gave the same trials, in the same order, with the same results.
inline void check_identical(const std::vector<tune::Trial>& serial, const std::vector<tune::Trial>& parallel) {
  BOOST_TEST_REQUIRE(serial.size() == parallel.size());
  for (std::size_t i = 0; i < serial.size(); ++i) {
    BOOST_TEST(serial[i].id == parallel[i].id);
    BOOST_TEST(serial[i].seed == parallel[i].seed);
    BOOST_TEST((serial[i].config == parallel[i].config));
    BOOST_TEST(serial[i].rung == parallel[i].rung);
    BOOST_TEST(serial[i].budget == parallel[i].budget);
    BOOST_TEST(serial[i].score.accuracy == parallel[i].score.accuracy);
    BOOST_TEST(serial[i].score.loss == parallel[i].score.loss);
  }
}

}  // namespace xg::testing
