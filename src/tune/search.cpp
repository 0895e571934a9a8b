#include "xgrad/tune/search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "xgrad/errors.hpp"
#include "xgrad/threads.hpp"

namespace xg::tune {

namespace {
struct Slot {
  Trial trial;
  std::unique_ptr<Run> run;  // built at the first rung, released once the trial stops
};

void check(const SearchOptions& o) {
  auto fail = [](const std::string& what) { throw value_error("tune::search: " + what); };
  if (!(o.eta > 1)) fail("eta must be > 1, got " + std::to_string(o.eta));
  if (!(o.min_budget > 0 && o.min_budget <= o.max_budget))
    fail("the budgets need 0 < min_budget <= max_budget, got [" + std::to_string(o.min_budget) + ", " +
         std::to_string(o.max_budget) + "]");
  if (o.threads < 1) fail("threads must be >= 1, got " + std::to_string(o.threads));
}

// Runs one trial up to `budget`, building its run first if it has none yet.
void run_rung(Slot& slot, int rung, double budget, const Objective& objective) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (!slot.run) slot.run = objective(slot.trial.config, slot.trial.seed);
    slot.trial.score = slot.run->train_until(budget);
    slot.trial.rung = rung;
    slot.trial.budget = budget;
  } catch (const xg::error& e) {
    slot.trial.error = e.what();
    slot.run.reset();
  }
  slot.trial.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool better(const Trial& a, const Trial& b) {
  if (a.rung != b.rung) return a.rung > b.rung;
  if (a.score.accuracy != b.score.accuracy) return a.score.accuracy > b.score.accuracy;
  if (a.score.loss != b.score.loss) return a.score.loss < b.score.loss;
  return a.id < b.id;
}

// The trials of `alive` (positions in slots) that go on to the next rung.
std::vector<std::size_t> promote(const std::vector<Slot>& slots, std::vector<std::size_t> alive,
                                 const SearchOptions& options) {
  std::erase_if(alive, [&](std::size_t i) { return !slots[i].trial.error.empty(); });
  std::sort(alive.begin(), alive.end(), [&](std::size_t a, std::size_t b) { return better(slots[a].trial, slots[b].trial); });
  if (alive.empty()) return alive;
  std::size_t keep = 0;
  if (options.scheduler == Scheduler::successive_halving) {
    keep = std::max<std::size_t>(1, std::size_t(double(alive.size()) / options.eta));
  } else {
    const std::size_t n = alive.size();  // sorted best first, so the median sits in the middle
    const double median = (slots[alive[(n - 1) / 2]].trial.score.accuracy + slots[alive[n / 2]].trial.score.accuracy) / 2;
    while (keep < n && slots[alive[keep]].trial.score.accuracy >= median) ++keep;
  }
  alive.resize(keep);
  return alive;
}
}  // namespace

std::vector<double> rung_budgets(const SearchOptions& options) {
  check(options);
  std::vector<double> budgets;
  for (double b = options.min_budget; b < options.max_budget * (1 - 1e-9); b *= options.eta) budgets.push_back(b);
  budgets.push_back(options.max_budget);
  return budgets;
}

std::vector<Trial> search(const SearchSpace& space, const Objective& objective, const SearchOptions& options) {
  std::vector<Config> configs;
  for (std::size_t i = 0; i < options.trials; ++i) {
    Generator gen(derive_seed(options.seed, options.first_id + i) ^ 0x5A17ull);  // not the run's own stream
    configs.push_back(space.sample(gen));
  }
  return search(configs, objective, options);
}

std::vector<Trial> search(const std::vector<Config>& configs, const Objective& objective,
                          const SearchOptions& options) {
  const std::vector<double> budgets = rung_budgets(options);
  std::vector<Slot> slots(configs.size());
  std::vector<std::size_t> alive;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    Trial& t = slots[i].trial;
    t.id = options.first_id + i;
    t.seed = derive_seed(options.seed, t.id);
    t.config = configs[i];
    t.round = options.round;
    alive.push_back(i);
  }
  // One trial per thread with single-threaded BLAS inside, so no two pools spin at once, and the
  // same arithmetic in every trial whatever the thread count.
  TaskParallelism parallelism(options.threads);
  tbb::task_arena arena(options.threads);
  std::mutex report;
  for (std::size_t rung = 0; rung < budgets.size() && !alive.empty(); ++rung) {
    arena.execute([&] {
      tbb::parallel_for(std::size_t(0), alive.size(), [&](std::size_t k) {
        Slot& slot = slots[alive[k]];
        // Isolated: a thread waiting inside this trial never picks up another trial's work, which
        // would run on top of this trial's per-thread tape and generator.
        tbb::this_task_arena::isolate([&] { run_rung(slot, int(rung), budgets[rung], objective); });
        if (options.on_rung_end) {
          std::lock_guard lock(report);
          options.on_rung_end(slot.trial);
        }
      });
    });
    const std::vector<std::size_t> next = rung + 1 < budgets.size() ? promote(slots, alive, options) : alive;
    for (std::size_t i : alive)
      if (std::find(next.begin(), next.end(), i) == next.end()) slots[i].run.reset();
    alive = next;
  }
  std::vector<Trial> trials;
  for (Slot& s : slots) trials.push_back(std::move(s.trial));
  sort_best_first(trials);
  return trials;
}

std::vector<Trial> coarse_to_fine(const SearchSpace& space, const Objective& objective,
                                  const CoarseToFineOptions& options) {
  if (options.rounds < 1 || options.keep < 1)
    throw value_error("tune::coarse_to_fine: needs rounds >= 1 and keep >= 1, got rounds " +
                      std::to_string(options.rounds) + ", keep " + std::to_string(options.keep));
  std::vector<Trial> all;
  SearchSpace current = space;
  for (int round = 0; round < options.rounds; ++round) {
    if (round > 0) {
      std::vector<Config> best;
      for (const Trial& t : all)
        if (t.error.empty() && best.size() < options.keep) best.push_back(t.config);
      if (best.empty()) throw value_error("tune::coarse_to_fine: every trial of round " + std::to_string(round - 1) + " failed");
      current = current.narrowed(best, options.margin);
    }
    SearchOptions round_options = options.search;
    round_options.round = round;
    round_options.first_id = options.search.first_id + all.size();
    std::vector<Trial> trials = search(current, objective, round_options);
    all.insert(all.end(), std::make_move_iterator(trials.begin()), std::make_move_iterator(trials.end()));
    sort_best_first(all);
  }
  return all;
}

void sort_best_first(std::vector<Trial>& trials) { std::sort(trials.begin(), trials.end(), better); }

}  // namespace xg::tune
