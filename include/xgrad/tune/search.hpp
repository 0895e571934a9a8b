#pragma once
// Running trials: successive halving (many configurations on a small budget, the best 1/eta of each
// rung trained further), synchronous or asynchronous (ASHA), or the median-stopping rule, with
// trials in parallel ("caviar"), and coarse-to-fine rounds. Each trial's seed comes from (search
// seed, trial id) only, and ASHA decides on a virtual clock, so a search gives the same trials and
// the same results whatever the number of threads. See docs/tuning.md.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/tune/space.hpp"

namespace xg::tune {

struct Score {
  double accuracy = 0;  // higher is better: what trials are ranked by
  double loss = 0;      // reported, and breaks ties (lower is better)
};

// One trial's training, advanced rung by rung. `budget` counts in the objective's own unit (epochs,
// steps, examples...) and is the total to reach, not an increment.
class Run {
 public:
  virtual ~Run() = default;
  virtual Score train_until(double budget) = 0;
};

// Builds a trial's run. Called on the thread that will train it, so it may seed per-thread state
// (nn::manual_seed(seed)) before building its model. A trial whose run throws xg::error (a NaN loss
// from too high a learning rate, say) is stopped and keeps the message.
using Objective = std::function<std::unique_ptr<Run>(const Config& config, std::uint64_t seed)>;

struct Trial {
  std::size_t id = 0;
  std::uint64_t seed = 0;
  Config config;
  int round = 0;      // the coarse-to-fine round it was sampled in
  int rung = -1;      // the last rung it completed (-1: none)
  double budget = 0;  // used so far
  Score score;        // at the last rung it completed
  double seconds = 0; // training and evaluation time, all rungs
  std::string error;  // why it failed, if it did
};

enum class Scheduler {
  successive_halving,  // after each rung keep the best floor(n / eta) (at least one)
  median_stopping,     // after each rung stop those scoring below the rung's median
  // Asynchronous successive halving (Li et al. 2018): a free worker promotes a trial that is in the
  // best floor(n / eta) of the n completed so far at its rung, the highest rung first, or else starts
  // a new trial; no waiting for a rung to fill. Decided on a virtual clock of asha_workers workers,
  // where a job lasts its budget increment, so the decisions do not depend on real timing.
  asha,
};

// Trials spread over processes (dist::TrialProcesses runs it over MPI): process p trains the trials
// at positions p, p + count(), ... of the search, each in its threads as alone, and after every
// batch of jobs each process's results reach all of them, so every process runs the same
// scheduler on the same results and takes the same decisions: the trials and their results are
// those of one process, whatever the number of processes.
class Processes {
 public:
  virtual ~Processes() = default;
  virtual std::size_t count() const = 0;
  virtual std::size_t index() const = 0;
  // Every process's text, in process order (an allgather).
  virtual std::vector<std::string> gather(const std::string& mine) = 0;
};

struct SearchOptions {
  std::size_t trials = 27;
  Scheduler scheduler = Scheduler::successive_halving;
  double eta = 3;           // successive halving keeps 1/eta; budgets grow by eta per rung
  double min_budget = 1;    // the first rung's budget
  double max_budget = 9;    // the last rung's budget (rungs: min, min*eta, ... up to max)
  std::uint64_t seed = 0;
  int threads = 1;          // trials trained at once; BLAS runs single-threaded inside each
  int asha_workers = 4;     // ASHA's virtual workers: jobs in flight at once (>= threads to use them all)
  std::size_t first_id = 0; // trial ids start here (coarse-to-fine rounds continue the count)
  int round = 0;
  // Called after each trial's rung, one call at a time (e.g. to print progress); under ASHA in the
  // virtual clock's order, the same in every run. Over processes, on every process for every trial,
  // in trial order once the rung's results are shared (under ASHA in the virtual clock's order).
  std::function<void(const Trial&)> on_rung_end{};
  Processes* processes = nullptr;  // null: this process alone
};

// The rung budgets: min_budget * eta^k up to max_budget, which is always the last.
std::vector<double> rung_budgets(const SearchOptions& options);

// Samples options.trials configurations at random and schedules them; returns every trial, best first.
std::vector<Trial> search(const SearchSpace& space, const Objective& objective, const SearchOptions& options);
// The same over given configurations (a grid, or your own list).
std::vector<Trial> search(const std::vector<Config>& configs, const Objective& objective,
                          const SearchOptions& options);

struct CoarseToFineOptions {
  int rounds = 2;
  std::size_t keep = 5;  // each round narrows the space around this many best trials
  double margin = 0.25;  // see SearchSpace::narrowed
  SearchOptions search;  // per round; each round gets its own seed and ids
};
// Rounds of search, each in the space narrowed around the best trials so far; every trial, best first.
std::vector<Trial> coarse_to_fine(const SearchSpace& space, const Objective& objective,
                                  const CoarseToFineOptions& options);

// Best first: the furthest rung, then accuracy, then lower loss, then id.
void sort_best_first(std::vector<Trial>& trials);

}  // namespace xg::tune
