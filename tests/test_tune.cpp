// Hyperparameter tuning on synthetic objectives: samplers spread samples on the right scale,
// coarse-to-fine narrows around the best points, successive halving (synchronous and ASHA) and median
// stopping keep the right trials, and parallel runs give exactly the serial results.
#define BOOST_TEST_MODULE tune
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <oneapi/tbb/global_control.h>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"
#include "tune_support.hpp"

using namespace xg;
namespace fs = std::filesystem;
using testing::check_identical;
using testing::Job;
using testing::JobLog;
using testing::Noisy;
using testing::quality_space;

namespace {
std::vector<double> draw(const tune::Distribution& d, std::size_t n, std::uint64_t seed = 1) {
  Generator gen(seed);
  std::vector<double> xs;
  for (std::size_t i = 0; i < n; ++i) xs.push_back(d.sample(gen));
  return xs;
}


std::size_t count_in(const std::vector<double>& xs, double low, double high) {
  return std::size_t(std::count_if(xs.begin(), xs.end(), [&](double x) { return low <= x && x < high; }));
}

// A run whose validation accuracy is known in advance: the config's "quality" scaled by how much of
// the budget it has had, so the ranking at every rung is the ranking by quality.
struct KnownQuality : tune::Run {
  double quality;
  std::vector<double>* budgets_seen;
  KnownQuality(double q, std::vector<double>* seen) : quality(q), budgets_seen(seen) {}
  tune::Score train_until(double budget) override {
    if (budgets_seen) budgets_seen->push_back(budget);
    return {quality * budget / (budget + 1), 1 - quality};
  }
};

tune::Objective known_quality() {
  return [](const tune::Config& c, std::uint64_t) { return std::make_unique<KnownQuality>(c["quality"], nullptr); };
}

// Configurations with the given qualities, in this order: trial i gets qualities[i].
std::vector<tune::Config> with_qualities(const std::vector<double>& qualities) {
  std::vector<tune::Config> configs;
  for (double q : qualities) configs.emplace_back(std::map<std::string, double>{{"quality", q}});
  return configs;
}

std::vector<double> qualities(const std::vector<tune::Trial>& trials) {
  std::vector<double> q;
  for (const auto& t : trials) q.push_back(t.config["quality"]);
  std::sort(q.rbegin(), q.rend());
  return q;
}

// Two separable blobs of 2-D points, for smoke tests of the real training path in milliseconds.
data::Dataset two_blobs() {
  Generator gen(0);
  data::Dataset data;
  data.classes = 2;
  for (data::Split* split : {&data.train, &data.validation}) {
    const std::size_t n = 200;
    array<float> x = array<float>::from_shape({n, 2});
    for (std::size_t i = 0; i < n; ++i) {
      split->labels.push_back(int(i % 2));
      x(i, 0) = float(i % 2 ? 2.0 : -2.0) + float(gen() % 1000) / 1000.0f;
      x(i, 1) = float(gen() % 1000) / 1000.0f;
    }
    split->images = Tensor(std::move(x));
  }
  return data;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("xgrad_test_tune_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(log_uniform_puts_about_a_quarter_of_samples_in_each_decade) {
  const auto xs = draw(tune::log_uniform(1e-4, 1), 8000);
  for (double low : {1e-4, 1e-3, 1e-2, 1e-1}) {
    const std::size_t n = count_in(xs, low, low * 10);
    BOOST_TEST_INFO("decade from " << low);
    BOOST_TEST((n > 1800 && n < 2200));  // 2000 expected, standard deviation about 39
  }
  BOOST_TEST(count_in(xs, 1e-4, 1.0 + 1e-12) == xs.size());
}

BOOST_AUTO_TEST_CASE(one_minus_log_uniform_samples_betas_evenly_on_the_averaging_window_scale) {
  const auto betas = draw(tune::one_minus_log_uniform(0.9, 0.999), 8000);
  const std::size_t low = count_in(betas, 0.9, 0.99), high = count_in(betas, 0.99, 0.999 + 1e-12);
  BOOST_TEST((low > 3800 && low < 4200));  // a plain uniform would put 90% there
  BOOST_TEST(low + high == betas.size());
}

BOOST_AUTO_TEST_CASE(uniform_int_range_and_choice_cover_their_values_evenly) {
  const auto xs = draw(tune::uniform(-1, 3), 8000);
  BOOST_TEST((count_in(xs, -1, 1) > 3800 && count_in(xs, -1, 1) < 4200));
  const auto layers = draw(tune::int_range(2, 4), 3000);
  for (double v : {2.0, 3.0, 4.0}) BOOST_TEST((count_in(layers, v, v + 0.5) > 900 && count_in(layers, v, v + 0.5) < 1100));
  const auto sizes = draw(tune::choice({32, 256}), 2000);
  BOOST_TEST((count_in(sizes, 32, 33) > 900 && count_in(sizes, 32, 33) < 1100));
  BOOST_TEST(count_in(sizes, 256, 257) + count_in(sizes, 32, 33) == sizes.size());
}

BOOST_AUTO_TEST_CASE(bad_ranges_throw_value_errors_naming_the_distribution_and_the_range) {
  BOOST_TEST(testing::message_of<value_error>([] { tune::log_uniform(0, 1); }).find("log_uniform: the range [0, 1]") != std::string::npos);
  BOOST_TEST(testing::message_of<value_error>([] { tune::one_minus_log_uniform(0.9, 1); }).find("one_minus_log_uniform") != std::string::npos);
  BOOST_TEST(testing::message_of<value_error>([] { tune::uniform(2, 1); }).find("[2, 1]") != std::string::npos);
  BOOST_TEST(testing::message_of<value_error>([] { tune::int_range(5, 1); }).find("int_range") != std::string::npos);
  BOOST_TEST(testing::message_of<value_error>([] { tune::choice({}); }).find("choice") != std::string::npos);
  BOOST_TEST(testing::message_of<value_error>([] { tune::Config{}["lr"]; }).find("'lr'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_grid_enumerates_every_combination_of_discrete_choices_and_refuses_continuous_ones) {
  tune::SearchSpace space;
  space.add("layers", tune::int_range(2, 4)).add("width", tune::choice({64, 128}));
  const auto grid = space.grid();
  BOOST_TEST(grid.size() == 6u);
  std::set<std::pair<long, long>> distinct;
  for (const auto& c : grid) distinct.insert({c.integer("layers"), c.integer("width")});
  BOOST_TEST(distinct.size() == 6u);
  space.add("lr", tune::log_uniform(1e-4, 1));
  BOOST_CHECK_THROW(space.grid(), value_error);
}

BOOST_AUTO_TEST_CASE(coarse_to_fine_ranges_contain_the_best_points_and_shrink) {
  tune::SearchSpace space;
  space.add("lr", tune::log_uniform(1e-4, 1))
      .add("beta", tune::one_minus_log_uniform(0.9, 0.999))
      .add("layers", tune::int_range(1, 8))
      .add("batch", tune::choice({32, 64, 128, 256}));
  const std::vector<tune::Config> best{
      tune::Config({{"lr", 3e-3}, {"beta", 0.95}, {"layers", 3}, {"batch", 64}}),
      tune::Config({{"lr", 2e-2}, {"beta", 0.99}, {"layers", 4}, {"batch", 128}})};
  const tune::SearchSpace fine = space.narrowed(best, 0.25);
  for (const auto& [name, d] : fine.parameters()) {
    BOOST_TEST_INFO(name << ": " << d.describe());
    for (const auto& c : best) {
      if (d.kind == tune::Distribution::Kind::choice)
        BOOST_TEST(std::count(d.choices.begin(), d.choices.end(), c[name]) == 1);
      else
        BOOST_TEST((d.low <= c[name] && c[name] <= d.high));
    }
  }
  BOOST_TEST(fine["lr"].high / fine["lr"].low < 1e4 / 100);  // from 4 decades to about 1.2
  BOOST_TEST(fine["lr"].low > 1e-3);
  BOOST_TEST((fine["beta"].low > 0.9 && fine["beta"].high < 0.999));
  BOOST_TEST((fine["layers"].low == 3 && fine["layers"].high == 4));
  BOOST_TEST(fine["batch"].choices == std::vector<double>({64, 128}));
  Generator gen(3);
  for (int i = 0; i < 200; ++i) BOOST_TEST(fine["lr"].sample(gen) >= fine["lr"].low);
}

BOOST_AUTO_TEST_CASE(rung_budgets_grow_by_eta_up_to_the_maximum) {
  BOOST_TEST(tune::rung_budgets({.eta = 3, .min_budget = 1, .max_budget = 9}) == std::vector<double>({1, 3, 9}));
  BOOST_TEST(tune::rung_budgets({.eta = 3, .min_budget = 1, .max_budget = 5}) == std::vector<double>({1, 3, 5}));
  BOOST_CHECK_THROW(tune::rung_budgets({.eta = 1}), value_error);
  BOOST_CHECK_THROW(tune::rung_budgets({.min_budget = 2, .max_budget = 1}), value_error);
}

BOOST_AUTO_TEST_CASE(successive_halving_keeps_the_best_third_at_each_rung) {
  const auto trials = tune::search(quality_space(), known_quality(),
                                   {.trials = 27, .eta = 3, .min_budget = 1, .max_budget = 9, .seed = 5});
  BOOST_TEST_REQUIRE(trials.size() == 27u);
  const std::vector<double> ranked = qualities(trials);
  for (const auto& t : trials) {
    const auto rank = std::size_t(std::find(ranked.begin(), ranked.end(), t.config["quality"]) - ranked.begin());
    const int expected_rung = rank < 3 ? 2 : rank < 9 ? 1 : 0;
    BOOST_TEST_INFO("trial " << t.id << " of rank " << rank);
    BOOST_TEST(t.rung == expected_rung);
    BOOST_TEST(t.budget == std::vector<double>({1, 3, 9})[std::size_t(expected_rung)]);
  }
  BOOST_TEST(trials.front().config["quality"] == ranked.front());  // best first
}

BOOST_AUTO_TEST_CASE(a_trial_is_advanced_to_each_rung_budget_in_turn) {
  std::vector<double> seen;
  const tune::Objective objective = [&](const tune::Config&, std::uint64_t) {
    return std::make_unique<KnownQuality>(1.0, &seen);
  };
  tune::search(quality_space(), objective, {.trials = 1, .eta = 2, .min_budget = 0.5, .max_budget = 2});
  BOOST_TEST(seen == std::vector<double>({0.5, 1, 2}));
}

BOOST_AUTO_TEST_CASE(median_stopping_keeps_the_trials_at_or_above_each_rungs_median) {
  const auto trials = tune::search(quality_space(), known_quality(),
                                   {.trials = 20, .scheduler = tune::Scheduler::median_stopping, .eta = 2,
                                    .min_budget = 1, .max_budget = 4, .seed = 2});
  const std::vector<double> ranked = qualities(trials);
  for (const auto& t : trials) {
    const auto rank = std::size_t(std::find(ranked.begin(), ranked.end(), t.config["quality"]) - ranked.begin());
    BOOST_TEST(t.rung == (rank < 5 ? 2 : rank < 10 ? 1 : 0));
  }
}

// ASHA with one virtual worker, worked by hand (eta 3, budgets 1, 3, 9, trial 0 the best, then 1,
// 2...). A job's virtual duration is its budget increment. t=0: start 0. t=1: start 1. t=2: start 2.
// t=3: rung 0 has 3 results, the best third is {0}: promote 0 (to t=5). t=5: rung 1 has 1 result, no
// third yet; {0} already promoted: start 3. t=6, 7: start 4, 5. t=8: rung 0 has 6 results, best
// third {0, 1}: promote 1. t=10, 11, 12: start 6, 7, 8. t=13: 9 results, promote 2. t=15: rung 1
// has {0, 1, 2}: promote 0 to rung 2. Here ASHA ends where synchronous halving would: 9, 3, 1 jobs.
BOOST_AUTO_TEST_CASE(asha_with_one_worker_follows_the_hand_worked_order) {
  JobLog log;
  const auto trials = tune::search(with_qualities({0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1}), known_quality(),
                                   {.scheduler = tune::Scheduler::asha, .eta = 3, .min_budget = 1, .max_budget = 9,
                                    .asha_workers = 1, .on_rung_end = log.recorder()});
  const std::vector<Job> expected{{0, 0}, {1, 0}, {2, 0}, {0, 1}, {3, 0}, {4, 0}, {5, 0},
                                                          {1, 1}, {6, 0}, {7, 0}, {8, 0}, {2, 1}, {0, 2}};
  BOOST_TEST(log.jobs == expected, boost::test_tools::per_element());
  for (const auto& t : trials) {
    BOOST_TEST_INFO("trial " << t.id);
    BOOST_TEST(t.rung == (t.id == 0 ? 2 : t.id < 3 ? 1 : 0));
    BOOST_TEST(t.budget == std::vector<double>({1, 3, 9})[std::size_t(t.rung)]);
  }
}

// The other way round (each trial better than all before it), every new result is the best of its
// rung so far and gets promoted: ASHA's price for not waiting is extra promotions, 9, 7 and 5 jobs
// where synchronous halving runs 9, 3 and 1.
BOOST_AUTO_TEST_CASE(asha_promotes_more_than_synchronous_halving_when_results_improve_over_time) {
  JobLog log;
  const auto trials = tune::search(with_qualities({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}), known_quality(),
                                   {.scheduler = tune::Scheduler::asha, .eta = 3, .min_budget = 1, .max_budget = 9,
                                    .asha_workers = 1, .on_rung_end = log.recorder()});
  BOOST_TEST(log.per_rung(3) == std::vector<std::size_t>({9, 7, 5}), boost::test_tools::per_element());
  for (const auto& t : trials) BOOST_TEST(t.rung == (t.id >= 4 ? 2 : t.id >= 2 ? 1 : 0));
}

// Three virtual workers, the same trials as the hand-worked case. t=1: 0, 1, 2 end; promote 0 (to
// t=3), start 3 and 4. t=2: start 5 and 6. t=3: promote 1, start 7 and 8. t=4: promote 2; the third
// worker idles. t=6: promote 0 to rung 2. Trial 0's rung 1 ends before trials 5 to 8 end rung 0:
// the promotion did not wait for rung 0 to fill, as synchronous halving does.
BOOST_AUTO_TEST_CASE(asha_promotes_before_the_bottom_rung_is_full) {
  const auto configs = with_qualities({0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1});
  tune::SearchOptions options{.scheduler = tune::Scheduler::asha, .eta = 3, .min_budget = 1, .max_budget = 9,
                              .asha_workers = 3};
  JobLog asha;
  options.on_rung_end = asha.recorder();
  const auto trials = tune::search(configs, known_quality(), options);
  const std::vector<Job> expected{{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {0, 1}, {5, 0},
                                                          {6, 0}, {7, 0}, {8, 0}, {1, 1}, {2, 1}, {0, 2}};
  BOOST_TEST(asha.jobs == expected, boost::test_tools::per_element());

  JobLog synchronous;
  options.scheduler = tune::Scheduler::successive_halving;
  options.on_rung_end = synchronous.recorder();
  const auto sh_trials = tune::search(configs, known_quality(), options);
  BOOST_TEST(std::all_of(synchronous.jobs.begin(), synchronous.jobs.begin() + 9, [](const Job& job) { return job.rung == 0; }));
  for (std::size_t i = 0; i < trials.size(); ++i) BOOST_TEST(trials[i].rung == sh_trials[i].rung);
}

BOOST_AUTO_TEST_CASE(asha_takes_the_best_trials_to_the_top_rung_and_stops_the_worst_at_the_bottom) {
  JobLog log;
  const auto trials = tune::search(quality_space(), known_quality(),
                                   {.trials = 27, .scheduler = tune::Scheduler::asha, .eta = 3, .min_budget = 1,
                                    .max_budget = 9, .seed = 5, .asha_workers = 4, .on_rung_end = log.recorder()});
  BOOST_TEST_REQUIRE(trials.size() == 27u);
  const std::vector<double> ranked = qualities(trials);
  for (const auto& t : trials) {
    const auto rank = std::size_t(std::find(ranked.begin(), ranked.end(), t.config["quality"]) - ranked.begin());
    BOOST_TEST_INFO("trial " << t.id << " of rank " << rank);
    // Once every result is in, the best third of each rung has been promoted, as in synchronous
    // halving; earlier promotions may have taken others further too, never the very worst.
    if (rank < 3) BOOST_TEST(t.rung == 2);
    if (rank < 9) BOOST_TEST(t.rung >= 1);
    if (rank == 26) BOOST_TEST(t.rung == 0);
  }
  const std::vector<std::size_t> jobs = log.per_rung(3);
  BOOST_TEST((jobs[0] == 27 && jobs[1] >= 9 && jobs[2] >= 3));
  BOOST_TEST(trials.front().config["quality"] == ranked.front());
}

BOOST_AUTO_TEST_CASE(asha_with_a_virtual_worker_per_trial_is_synchronous_successive_halving) {
  tune::SearchOptions options{.trials = 27, .eta = 3, .min_budget = 1, .max_budget = 9, .seed = 5, .asha_workers = 27};
  const auto synchronous = tune::search(quality_space(), known_quality(), options);
  options.scheduler = tune::Scheduler::asha;
  const auto asynchronous = tune::search(quality_space(), known_quality(), options);
  for (std::size_t i = 0; i < synchronous.size(); ++i) {
    BOOST_TEST(synchronous[i].id == asynchronous[i].id);
    BOOST_TEST(synchronous[i].rung == asynchronous[i].rung);
  }
}

BOOST_AUTO_TEST_CASE(bad_search_options_throw_value_errors_naming_the_option) {
  const auto search_with = [](tune::SearchOptions options) {
    return testing::message_of<value_error>([&] { tune::search(quality_space(), known_quality(), options); });
  };
  BOOST_TEST(search_with({.asha_workers = 0}) == "tune::search: asha_workers must be >= 1, got 0");
  BOOST_TEST(search_with({.threads = 0}) == "tune::search: threads must be >= 1, got 0");
  BOOST_TEST(search_with({.eta = 0.5}).find("eta must be > 1") != std::string::npos);
  BOOST_TEST(search_with({.min_budget = 0}).find("min_budget") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_failing_trial_keeps_its_error_and_is_not_promoted) {
  const tune::Objective objective = [](const tune::Config& c, std::uint64_t) -> std::unique_ptr<tune::Run> {
    if (c["quality"] > 0.5) throw numeric_error("the loss is nan");
    return std::make_unique<KnownQuality>(c["quality"], nullptr);
  };
  for (auto scheduler : {tune::Scheduler::successive_halving, tune::Scheduler::asha}) {
    const auto trials = tune::search(quality_space(), objective, {.trials = 12, .scheduler = scheduler, .seed = 1});
    for (const auto& t : trials) {
      BOOST_TEST(t.error.empty() == (t.config["quality"] <= 0.5));
      if (!t.error.empty()) BOOST_TEST(t.rung == -1);
    }
    BOOST_TEST(trials.front().error.empty());
  }
}

// Fails when asked to train past `limit`, after a good first rung.
struct FailsLater : KnownQuality {
  double limit;
  FailsLater(double q, double l) : KnownQuality(q, nullptr), limit(l) {}
  tune::Score train_until(double budget) override {
    if (budget > limit) throw numeric_error("the loss is nan");
    return KnownQuality::train_until(budget);
  }
};

BOOST_AUTO_TEST_CASE(asha_stops_a_trial_that_fails_at_a_later_rung_with_its_last_good_result) {
  // The three best fail at rung 1; they keep their rung 0 result and get no further job.
  const tune::Objective objective = [](const tune::Config& c, std::uint64_t) -> std::unique_ptr<tune::Run> {
    return std::make_unique<FailsLater>(c["quality"], c["quality"] > 0.85 ? 1 : 100);
  };
  JobLog log;
  const auto trials = tune::search(with_qualities({0.9, 0.1, 0.95, 0.2, 0.3, 0.99, 0.4, 0.5, 0.6}), objective,
                                   {.scheduler = tune::Scheduler::asha, .eta = 3, .min_budget = 1, .max_budget = 9,
                                    .asha_workers = 2, .on_rung_end = log.recorder()});
  for (const auto& t : trials) {
    BOOST_TEST_INFO("trial " << t.id);
    BOOST_TEST(t.error.empty() == (t.config["quality"] < 0.85));
    if (t.error.empty()) continue;
    BOOST_TEST((t.rung == 0 && t.budget == 1 && t.score.accuracy == t.config["quality"] / 2));
    BOOST_TEST(std::count(log.jobs.begin(), log.jobs.end(), Job{t.id, 0}) == 2);  // rung 0, then the failure
  }
}

// Identical ids, seeds, configs, rungs, budgets and scores, best first.
BOOST_AUTO_TEST_CASE(parallel_and_serial_searches_give_identical_trials_and_results) {
  const tune::Objective objective = [](const tune::Config& c, std::uint64_t seed) {
    return std::make_unique<Noisy>(c["quality"], seed);
  };
  tune::SearchOptions options{.trials = 24, .eta = 2, .min_budget = 1, .max_budget = 8, .seed = 11, .threads = 1};
  const auto serial = tune::search(quality_space(), objective, options);
  options.threads = 2;
  check_identical(serial, tune::search(quality_space(), objective, options));
  options.seed = 12;
  BOOST_TEST(!(tune::search(quality_space(), objective, options).front().config == serial.front().config));
}

// Real durations of 0.2 to 1 ms against virtual ones of 1, 1, 2, 4: with 2 threads the jobs really
// finish in another order than the virtual one, and ASHA still decides the same.
BOOST_AUTO_TEST_CASE(parallel_and_serial_asha_searches_give_identical_trials_and_results) {
  const tune::Objective objective = [](const tune::Config& c, std::uint64_t seed) {
    return std::make_unique<Noisy>(c["quality"], seed);
  };
  JobLog serial_log, parallel_log;
  tune::SearchOptions options{.trials = 24, .scheduler = tune::Scheduler::asha, .eta = 2, .min_budget = 1,
                              .max_budget = 8, .seed = 11, .threads = 1, .asha_workers = 4,
                              .on_rung_end = serial_log.recorder()};
  const auto serial = tune::search(quality_space(), objective, options);
  options.threads = 2;
  options.on_rung_end = parallel_log.recorder();
  check_identical(serial, tune::search(quality_space(), objective, options));
  BOOST_TEST(serial_log.jobs == parallel_log.jobs, boost::test_tools::per_element());  // progress reports in the same order too
  BOOST_TEST(serial_log.per_rung(4)[1] > 12);        // ASHA, not a synchronous search in disguise
}

BOOST_AUTO_TEST_CASE(coarse_to_fine_samples_its_second_round_around_the_first_rounds_best) {
  const auto trials = tune::coarse_to_fine(
      quality_space(), known_quality(),
      {.rounds = 2, .keep = 3, .margin = 0.1, .search = {.trials = 9, .min_budget = 1, .max_budget = 1, .seed = 4}});
  BOOST_TEST_REQUIRE(trials.size() == 18u);
  std::vector<double> first_round;
  for (const auto& t : trials)
    if (t.round == 0) first_round.push_back(t.config["quality"]);
  std::sort(first_round.rbegin(), first_round.rend());
  const double low = first_round[2] - 0.1 * (first_round[0] - first_round[2]);
  std::set<std::size_t> ids;
  for (const auto& t : trials) {
    ids.insert(t.id);
    if (t.round == 1) BOOST_TEST(t.config["quality"] >= low);
  }
  BOOST_TEST(ids.size() == 18u);
}

BOOST_AUTO_TEST_CASE(results_go_to_a_sorted_csv_and_the_best_config_round_trips_through_json) {
  TempDir dir;
  const auto trials = tune::search(quality_space(), known_quality(), {.trials = 5, .max_budget = 1, .seed = 3});
  tune::write_trials_csv(dir.path / "trials.csv", trials);
  std::ifstream csv(dir.path / "trials.csv");
  std::string header, first;
  std::getline(csv, header);
  std::getline(csv, first);
  BOOST_TEST(header == "id,round,seed,lr,quality,rung,budget,validation_accuracy,validation_loss,seconds,error");
  BOOST_TEST(first.rfind(std::to_string(trials.front().id) + ",", 0) == 0);
  tune::save_trial_json(dir.path / "best.json", trials.front());
  const tune::Config loaded = tune::load_config_json(dir.path / "best.json");
  BOOST_TEST(std::abs(loaded["lr"] - trials.front().config["lr"]) < 1e-12 * trials.front().config["lr"]);
  BOOST_CHECK_THROW(tune::load_config_json(dir.path / "trials.csv"), data_error);
}

BOOST_AUTO_TEST_CASE(a_classifier_run_trains_in_fractions_of_an_epoch) {
  const data::Dataset data = two_blobs();
  nn::manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(nn::Linear(2, 8), nn::ReLU(), nn::Linear(8, 2));
  tune::ClassifierRun run(model, optim::sgd(0.05), data, 20, 7);
  const double before = train::evaluate(*model, data.validation).accuracy;
  run.train_until(0.5);
  const tune::Score score = run.train_until(3);
  BOOST_TEST(score.accuracy > 0.95);
  BOOST_TEST(score.accuracy >= before);
}

BOOST_AUTO_TEST_CASE(a_classifier_run_without_a_validation_split_is_refused) {
  data::Dataset data = two_blobs();
  data.validation = {};
  auto model = std::make_shared<nn::Sequential>(nn::Linear(2, 2));
  testing::require_error<value_error>([&] { (void)tune::ClassifierRun(model, optim::sgd(0.05), data, 20, 7); },
                                      {"ClassifierRun", "validation split is empty"});
}

BOOST_AUTO_TEST_CASE(an_adjustable_learning_rate_changes_the_optimizers_rate_between_steps) {
  tune::AdjustableLearningRate rate(1e-2);
  Tensor w = Tensor::scalar(1.0f, true);
  optim::Optimizer optimizer({w}, optim::adam({.lr = rate.lr()}));
  BOOST_TEST(std::abs(optimizer.learning_rate() - 1e-2) < 1e-8);
  rate.set(1e-3);
  BOOST_TEST(std::abs(optimizer.learning_rate() - 1e-3) < 1e-9);
  BOOST_CHECK_THROW(rate.set(-1), value_error);
}

BOOST_AUTO_TEST_CASE(parallel_and_serial_searches_train_real_models_identically) {
  const data::Dataset data = two_blobs();
  const tune::Objective objective = [&](const tune::Config& c, std::uint64_t seed) {
    nn::manual_seed(seed);
    const auto h = std::size_t(c.integer("hidden"));
    auto model = std::make_shared<nn::Sequential>(nn::Linear(2, h, nn::no_bias), nn::BatchNorm(h), nn::ReLU(),
                                                  nn::Linear(h, 2));
    return std::make_unique<tune::ClassifierRun>(model, optim::adam({.lr = c["lr"]}), data, 16, seed);
  };
  tune::SearchSpace space;
  space.add("lr", tune::log_uniform(1e-4, 1e-1)).add("hidden", tune::choice({4, 8, 16}));
  tune::SearchOptions options{.trials = 8, .eta = 2, .min_budget = 0.25, .max_budget = 1, .seed = 3, .threads = 1};
  const auto serial = tune::search(space, objective, options);
  options.threads = 2;
  const auto parallel = tune::search(space, objective, options);
  for (std::size_t i = 0; i < serial.size(); ++i) {
    BOOST_TEST(serial[i].id == parallel[i].id);
    BOOST_TEST(serial[i].score.loss == parallel[i].score.loss);  // bit for bit
    BOOST_TEST(serial[i].rung == parallel[i].rung);
  }
}

// Last in this file: it leaves a set_num_threads(1) setting behind.
BOOST_AUTO_TEST_CASE(task_parallelism_runs_each_product_on_one_thread_lifts_the_tbb_limit_and_restores_both) {
  using tbb::global_control;
  const int before = detail::threads_per_call();  // nothing set yet: every core
  BOOST_TEST(before == num_threads());
  {
    TaskParallelism trials(2);
    BOOST_TEST(detail::threads_per_call() == 1);
  }
  BOOST_TEST(detail::threads_per_call() == before);
  set_num_threads(1);
  {
    TaskParallelism trials(2);  // a TBB limit of 1 would keep a 2-trial arena on one thread
    BOOST_TEST(global_control::active_value(global_control::max_allowed_parallelism) == 2u);
  }
  BOOST_TEST(global_control::active_value(global_control::max_allowed_parallelism) == 1u);
  BOOST_TEST(num_threads() == 1);
  BOOST_CHECK_THROW(TaskParallelism(0), value_error);
}
