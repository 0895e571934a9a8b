#include "xgrad/tune/search.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

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
  if (o.trials < 1) fail("trials must be >= 1, got 0");
  if (!(o.eta > 1)) fail("eta must be > 1, got " + std::to_string(o.eta));
  if (!(o.min_budget > 0 && o.min_budget <= o.max_budget))
    fail("the budgets need 0 < min_budget <= max_budget, got [" + std::to_string(o.min_budget) + ", " +
         std::to_string(o.max_budget) + "]");
  if (o.threads < 1) fail("threads must be >= 1, got " + std::to_string(o.threads));
  if (o.asha_workers < 1) fail("asha_workers must be >= 1, got " + std::to_string(o.asha_workers));
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

// This process trains the slot: always the same process, where the trial's model stays.
bool runs_here(std::size_t slot, const Processes* processes) {
  return !processes || slot % processes->count() == processes->index();
}

void append_number(std::string& text, double v) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;  // shortest exact form
  text.append(buffer, end);
  text += ' ';
}

double read_number(const char*& p, const char* end) {
  double v = 0;
  const auto [next, error] = std::from_chars(p, end, v);
  if (error != std::errc()) throw data_error("tune::search: a malformed result from another process");
  p = next + 1;
  return v;
}

// After a batch of jobs (positions in slots), every process gets the results of the jobs the others
// trained: "slot rung budget accuracy loss seconds error-length error" per job.
void share_results(std::vector<Slot>& slots, const std::vector<std::size_t>& jobs, Processes& processes) {
  std::string mine;
  for (std::size_t i : jobs) {
    if (!runs_here(i, &processes)) continue;
    const Trial& t = slots[i].trial;
    for (double v : {double(i), double(t.rung), t.budget, t.score.accuracy, t.score.loss, t.seconds,
                     double(t.error.size())})
      append_number(mine, v);
    mine += t.error;
  }
  const std::vector<std::string> all = processes.gather(mine);
  for (std::size_t from = 0; from < all.size(); ++from) {
    if (from == processes.index()) continue;
    const char* p = all[from].data();
    const char* end = p + all[from].size();
    while (p < end) {
      Trial& t = slots.at(std::size_t(read_number(p, end))).trial;
      t.rung = int(read_number(p, end));
      t.budget = read_number(p, end);
      t.score.accuracy = read_number(p, end);
      t.score.loss = read_number(p, end);
      t.seconds = read_number(p, end);
      const auto length = std::size_t(read_number(p, end));
      t.error.assign(p, length);
      p += length;
    }
  }
}

// Higher accuracy first, then lower loss, then the lower id.
bool ranks_before(const Score& a, std::size_t a_id, const Score& b, std::size_t b_id) {
  if (a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  if (a.loss != b.loss) return a.loss < b.loss;
  return a_id < b_id;
}

bool better(const Trial& a, const Trial& b) {
  if (a.rung != b.rung) return a.rung > b.rung;
  return ranks_before(a.score, a.id, b.score, b.id);
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

// Successive halving and median stopping: every trial still in runs a rung, then the rung's results
// decide who goes on.
void run_rung_by_rung(std::vector<Slot>& slots, const std::vector<double>& budgets, const Objective& objective,
                      const SearchOptions& options, tbb::task_arena& arena) {
  std::vector<std::size_t> alive(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) alive[i] = i;
  std::mutex report;
  for (std::size_t rung = 0; rung < budgets.size() && !alive.empty(); ++rung) {
    arena.execute([&] {
      tbb::parallel_for(std::size_t(0), alive.size(), [&](std::size_t k) {
        if (!runs_here(alive[k], options.processes)) return;
        Slot& slot = slots[alive[k]];
        // Isolated: a thread waiting inside this trial never picks up another trial's work, which
        // would run on top of this trial's per-thread tape and generator.
        tbb::this_task_arena::isolate([&] { run_rung(slot, int(rung), budgets[rung], objective); });
        if (options.on_rung_end && !options.processes) {
          std::lock_guard lock(report);
          options.on_rung_end(slot.trial);
        }
      });
    });
    if (options.processes) {
      share_results(slots, alive, *options.processes);
      if (options.on_rung_end)
        for (std::size_t i : alive) options.on_rung_end(slots[i].trial);
    }
    const std::vector<std::size_t> next = rung + 1 < budgets.size() ? promote(slots, alive, options) : alive;
    for (std::size_t i : alive)
      if (std::find(next.begin(), next.end(), i) == next.end()) slots[i].run.reset();
    alive = next;
  }
}

// Asynchronous successive halving on a virtual clock. asha_workers virtual workers take jobs (a
// trial's next rung); a job lasts its budget increment in virtual time, and jobs end in the order
// (virtual end, trial id). When a job ends at virtual time t its worker, and any idle one, decides
// from the results of the jobs that ended by t, so the decisions, the trials and their results are
// the same whatever the real durations and the number of threads.
//
// Real execution follows the virtual schedule: a job is submitted to the arena when it starts in
// virtual time, so jobs whose virtual intervals overlap train at the same time; the decisions at t
// are taken once every job ending by t has really finished, by whichever thread finished the last
// of them. Must be built and run inside the search's arena.
class Asha {
 public:
  Asha(std::vector<Slot>& slots, const std::vector<double>& budgets, const Objective& objective,
       const SearchOptions& options)
      : slots_(slots), budgets_(budgets), objective_(objective), options_(options),
        free_workers_(options.asha_workers), started_rung_(slots.size(), -1), finished_(slots.size(), false),
        completed_(budgets.size()) {}

  void run() {
    {
      std::lock_guard lock(mutex_);
      assign_free_workers();  // at virtual time 0 every worker is free
    }
    if (!options_.processes) {
      jobs_.wait();
      return;
    }
    // Over processes, in lockstep: the jobs the clock started train, each on its process; their
    // results are shared; then the clock moves on as it would in one process.
    while (!queued_.empty()) {
      const std::vector<std::size_t> batch = std::exchange(queued_, {});
      tbb::parallel_for(std::size_t(0), batch.size(), [&](std::size_t k) {
        const std::size_t slot = batch[k];
        if (runs_here(slot, options_.processes))
          tbb::this_task_arena::isolate([&] { run_rung(slots_[slot], started_rung_[slot], budgets_[std::size_t(started_rung_[slot])], objective_); });
      });
      share_results(slots_, batch, *options_.processes);
      std::lock_guard lock(mutex_);
      for (std::size_t slot : batch) finished_[slot] = true;
      advance_clock();
    }
  }

 private:
  struct Result {
    Score score;
    std::size_t slot;
  };

  // Everything from here on runs with mutex_ held.
  void start(std::size_t slot, int rung) {
    const double used = rung > 0 ? budgets_[std::size_t(rung) - 1] : 0;
    started_rung_[slot] = rung;
    finished_[slot] = false;
    in_flight_.insert({now_ + budgets_[std::size_t(rung)] - used, slot});
    if (options_.processes) {
      queued_.push_back(slot);  // run() trains it
      return;
    }
    jobs_.run([this, slot, rung] {
      // Isolated, as for the synchronous rungs: no other trial runs on top of this one's thread state.
      tbb::this_task_arena::isolate([&] { run_rung(slots_[slot], rung, budgets_[std::size_t(rung)], objective_); });
      std::lock_guard lock(mutex_);
      finished_[slot] = true;
      advance_clock();
    });
  }

  // Moves the virtual clock on to each next end time whose jobs have all really finished.
  void advance_clock() {
    while (!in_flight_.empty()) {
      const double t = in_flight_.begin()->first;
      for (auto it = in_flight_.begin(); it != in_flight_.end() && it->first == t; ++it)
        if (!finished_[it->second]) return;  // its thread will move the clock on
      now_ = t;
      while (!in_flight_.empty() && in_flight_.begin()->first == t) {
        const std::size_t slot = in_flight_.begin()->second;
        in_flight_.erase(in_flight_.begin());
        record(slot);
        ++free_workers_;
      }
      assign_free_workers();
    }
  }

  void record(std::size_t slot) {
    const Trial& trial = slots_[slot].trial;
    const auto rung = std::size_t(started_rung_[slot]);
    if (trial.error.empty()) {
      std::vector<Result>& done = completed_[rung];
      const Result result{trial.score, slot};
      done.insert(std::upper_bound(done.begin(), done.end(), result,
                                   [](const Result& a, const Result& b) {  // slots are in id order
                                     return ranks_before(a.score, a.slot, b.score, b.slot);
                                   }),
                  result);
      // Ranks only fall as results come in: past the best floor(trials / eta) a trial can never be
      // promoted from this rung, so its model can go.
      const auto promotable = rung + 1 < budgets_.size() ? promotions(slots_.size()) : 0;
      for (std::size_t r = promotable; r < done.size(); ++r)
        if (started_rung_[done[r].slot] == int(rung)) slots_[done[r].slot].run.reset();
    }
    if (options_.on_rung_end) options_.on_rung_end(trial);
  }

  std::size_t promotions(std::size_t completed) const { return std::size_t(double(completed) / options_.eta); }

  void assign_free_workers() {
    for (; free_workers_ > 0; --free_workers_) {
      const auto job = next_job();
      if (!job) return;  // idle until the next job ends
      start(job->first, job->second);
    }
  }

  // ASHA's rule: from the top rung down, the best trial among the best floor(n / eta) completed at
  // its rung that is not promoted yet goes one rung up; failing that, a new trial starts at rung 0.
  std::optional<std::pair<std::size_t, int>> next_job() {
    for (std::size_t rung = budgets_.size() - 1; rung-- > 0;) {
      const std::vector<Result>& done = completed_[rung];
      for (std::size_t r = 0; r < promotions(done.size()); ++r)
        if (started_rung_[done[r].slot] == int(rung)) return std::pair{done[r].slot, int(rung) + 1};
    }
    if (next_new_ < slots_.size()) return std::pair{next_new_++, 0};
    return std::nullopt;
  }

  std::vector<Slot>& slots_;
  const std::vector<double>& budgets_;
  const Objective& objective_;
  const SearchOptions& options_;
  std::mutex mutex_;  // guards everything below; the jobs' own slots are theirs while they run
  double now_ = 0;
  int free_workers_;
  std::size_t next_new_ = 0;                          // the next trial to start at rung 0
  std::vector<int> started_rung_;                     // per slot: the rung of its latest job (-1: none)
  std::vector<bool> finished_;                        // per slot: its latest job has really finished
  std::set<std::pair<double, std::size_t>> in_flight_;  // jobs by (virtual end, slot), slots in id order
  std::vector<std::vector<Result>> completed_;        // per rung: the successful results, best first
  std::vector<std::size_t> queued_;                   // over processes: started jobs not trained yet
  tbb::task_group jobs_;
};
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
  for (std::size_t i = 0; i < configs.size(); ++i) {
    Trial& t = slots[i].trial;
    t.id = options.first_id + i;
    t.seed = derive_seed(options.seed, t.id);
    t.config = configs[i];
    t.round = options.round;
  }
  // One trial per thread with single-threaded BLAS inside, so no two pools spin at once, and the
  // same arithmetic in every trial whatever the thread count.
  TaskParallelism parallelism(options.threads);
  tbb::task_arena arena(options.threads);
  if (options.scheduler == Scheduler::asha)
    arena.execute([&] { Asha(slots, budgets, objective, options).run(); });
  else
    run_rung_by_rung(slots, budgets, objective, options, arena);
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
