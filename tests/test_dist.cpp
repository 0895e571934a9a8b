// Data parallelism over MPI, run by `meson test` under mpirun with 2 and 4 ranks: K ranks on
// shards of B/K train to the parameters of one process on B (float32 and float64), SyncBatchNorm's
// gradient over ranks passes a numerical check, the ranks stay identical, a checkpoint resumes on
// another number of ranks, and ranks that disagree are stopped at start-up.
#define BOOST_TEST_MODULE dist
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"
#include "tune_support.hpp"

using namespace xg;
using testing::TempDir;

namespace {
dist::Context* world = nullptr;

struct World {
  dist::Context context;
  World() {
    world = &context;
    set_num_threads(1);  // K ranks share the machine's cores
  }
  ~World() { world = nullptr; }
};

// Divisible by 2, 4 and 3; every rank gets at least 2 rows.
constexpr std::size_t global_batch = 24;

data::Split random_split(std::size_t n, std::size_t features, std::size_t classes, std::uint64_t seed) {
  Generator gen(seed);
  data::Split split;
  split.images = normal<float>({n, features}, 0.5f, 2.0f, gen);
  for (std::size_t i = 0; i < n; ++i) split.labels.push_back(int(gen() % classes));
  return split;
}

data::Dataset random_dataset() {
  data::Dataset d;
  d.train = random_split(3 * global_batch + 5, 8, 4, 1);  // the last batch of 5 splits unevenly
  d.validation = random_split(16, 8, 4, 2);
  d.classes = 4;
  return d;
}

// Linear without bias -> batch norm -> ReLU -> dropout -> Linear, like the examples' models.
nn::Sequential small_model(std::uint64_t seed) {
  nn::manual_seed(seed);
  return nn::Sequential{nn::Linear(8, 16, nn::no_bias), nn::BatchNorm(16), nn::ReLU(), nn::Dropout(0.25),
                        nn::Linear(16, 4)};
}

// max |a - b| over max |b|: the error relative to the tensor's scale.
template <class T>
double relative_difference(const array<T>& a, const array<T>& b) {
  double diff = 0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a.flat(i)) - double(b.flat(i))));
    scale = std::max(scale, std::abs(double(b.flat(i))));
  }
  return diff / scale;
}

// The worst relative difference between two models' parameters and buffers.
double worst_difference(const nn::Module& a, const nn::Module& b) {
  double worst = 0;
  for (bool buffers : {false, true}) {
    const auto ta = buffers ? a.named_buffers() : a.named_parameters();
    const auto tb = buffers ? b.named_buffers() : b.named_parameters();
    for (std::size_t i = 0; i < ta.size(); ++i)
      worst = std::max(worst, relative_difference(ta[i].second.value(), tb[i].second.value()));
  }
  return worst;
}

// A fingerprint of every parameter's bytes.
std::uint64_t bytes_fingerprint(const nn::Module& model) {
  std::string bytes;
  for (const auto& [name, t] : model.named_parameters())
    bytes.append(reinterpret_cast<const char*>(t.value().data()), t.size() * sizeof(float));
  return dist::fingerprint(bytes);
}

// `steps` steps of Adam on the split's first global batches: one process on whole batches, or this
// rank on its shards when ddp is given.
void train_steps(nn::Module& model, optim::Optimizer& opt, const data::Split& split, int steps,
                 dist::DataParallel* ddp, const train::LossFunction& loss = {}) {
  Tape tape;
  std::size_t step = 0;
  for (auto [x, y] : split.batches(global_batch, data::Shuffle{7})) {
    if (int(step) == steps) break;
    const data::Batch local = ddp ? ddp->shard({x, y}) : data::Batch{x, y};
    train::train_step(model, opt, tape, local.x, local.y, ++step, ddp, loss);
  }
}

// A temporary folder of rank 0's that every rank uses; it goes when every rank is done with it.
struct SharedFolder {
  TempDir own;  // rank 0's is the shared one; the others' stay empty
  std::filesystem::path path;
  SharedFolder() {
    std::string p = own.path.string();
    world->broadcast(p);
    path = p;
  }
  ~SharedFolder() { world->barrier(); }
};
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(World);

BOOST_AUTO_TEST_CASE(k_ranks_on_shards_train_to_the_parameters_of_one_process_on_the_whole_batch) {
  const data::Split split = random_split(4 * global_batch, 8, 4, 3);
  nn::Sequential single = small_model(11);
  optim::Optimizer single_opt(single.parameters(), optim::adam({.lr = 1e-2}));
  train_steps(single, single_opt, split, 4, nullptr);

  nn::Sequential replica = small_model(11 + std::uint64_t(world->rank()));  // rank 0's weights win
  dist::DataParallel ddp(replica, *world, {.bucket_bytes = 256});           // several buckets
  optim::Optimizer opt(replica.parameters(), optim::adam({.lr = 1e-2}));
  train_steps(replica, opt, split, 4, &ddp);
  BOOST_TEST(ddp.buckets().bucket_count() > 1u);
  BOOST_TEST(worst_difference(replica, single) < 1e-5);  // dropout's masks matched too
}

BOOST_AUTO_TEST_CASE(a_regression_on_shards_trains_to_the_parameters_of_one_process_on_the_whole_batch) {
  data::Split split = random_split(4 * global_batch, 8, 4, 3);
  split.labels.clear();
  Generator gen(9);
  split.values = normal<float>({4 * global_batch, 4}, 0.0f, 1.0f, gen);  // each rank must get its own rows
  const train::LossFunction mse = [](const Tensor& out, const data::Targets& y) { return mse_loss(out, y.values()); };
  nn::Sequential single = small_model(11);
  optim::Optimizer single_opt(single.parameters(), optim::adam({.lr = 1e-2}));
  train_steps(single, single_opt, split, 4, nullptr, mse);

  nn::Sequential replica = small_model(11 + std::uint64_t(world->rank()));
  dist::DataParallel ddp(replica, *world);
  optim::Optimizer opt(replica.parameters(), optim::adam({.lr = 1e-2}));
  train_steps(replica, opt, split, 4, &ddp, mse);
  BOOST_TEST(worst_difference(replica, single) < 1e-5);
}

BOOST_AUTO_TEST_CASE(replicas_hold_bit_identical_parameters_after_training) {
  const data::Split split = random_split(4 * global_batch, 8, 4, 4);
  nn::Sequential replica = small_model(5);
  dist::DataParallel ddp(replica, *world);
  optim::Optimizer opt(replica.parameters(), optim::adam({.lr = 1e-2}));
  train_steps(replica, opt, split, 4, &ddp);
  BOOST_CHECK_NO_THROW(world->check_same("the parameters' bytes", bytes_fingerprint(replica)));
}

BOOST_AUTO_TEST_CASE(k_ranks_match_one_process_to_1e_12_in_float64) {
  // A float64 model by hand: x W -> batch norm over the ranks -> cross-entropy; plain SGD.
  Generator gen(9);
  const Tensor64 x = normal<double>({global_batch, 5}, 1.0, 3.0, gen);
  std::vector<int> labels;
  for (std::size_t i = 0; i < global_batch; ++i) labels.push_back(int(i % 3));
  const Tensor64 w0 = normal<double>({5, 3}, 0.0, 0.5, gen);
  const dist::AllreduceSum over_ranks(*world);
  const auto run = [&](bool distributed) {
    Tensor64 w(w0.value(), true), gamma = Tensor64::ones({3}, true), beta = Tensor64::zeros({3}, true);
    Tensor64 running_mean = Tensor64::zeros({3}), running_var = Tensor64::ones({3});
    const std::size_t k = distributed ? std::size_t(world->size()) : 1, rows = global_batch / k;
    const std::size_t offset = distributed ? std::size_t(world->rank()) * rows : 0;
    const Tensor64 local_x = dist::rows_of(x, offset, rows);
    const std::span<const int> local_y(labels.data() + offset, rows);
    std::optional<dist::GradientBuckets<double>> buckets;
    if (distributed) buckets.emplace(*world, std::vector{w, gamma, beta}, 24);
    for (int step = 0; step < 3; ++step) {
      Tape tape;
      const BatchNormOptions bn{.replica_sum = distributed ? &over_ranks : nullptr};
      tape.backward(cross_entropy(batch_norm(matmul(local_x, w), gamma, beta, running_mean, running_var, bn), local_y));
      if (buckets) buckets->synchronize(1.0 / double(k));
      for (Tensor64* p : {&w, &gamma, &beta}) {
        p->mutable_value() -= 0.5 * p->grad();
        p->zero_grad();
      }
    }
    return std::vector{w.value(), gamma.value(), beta.value(), running_mean.value(), running_var.value()};
  };
  const auto single = run(false), ranks = run(true);
  for (std::size_t i = 0; i < single.size(); ++i) BOOST_TEST(relative_difference(ranks[i], single[i]) < 1e-12);
}

BOOST_AUTO_TEST_CASE(sync_batch_norm_gradient_over_ranks_passes_a_numerical_check) {
  // L = sum over ranks of sum(batch_norm(x_r) * r_r): the analytic d(L)/d(x_r) of rank r against
  // central differences with one rank's element moved at a time; gamma and beta's gradients summed
  // over ranks against moving them on every rank.
  const GradcheckOptions tolerance;
  const dist::AllreduceSum over_ranks(*world);
  Generator gen(100 + std::uint64_t(world->rank()));
  Tensor64 x = normal<double>({3, 4, 2}, 0.5, 2.0, gen, true);
  const Tensor64 projection = normal<double>({3, 4, 2}, 0.0, 1.0, gen);
  Tensor64 gamma = normal<double>({4}, 1.0, 0.3, gen, true), beta = normal<double>({4}, 0.0, 0.3, gen, true);
  world->broadcast(std::span<double>(gamma.mutable_value().data(), 4));
  world->broadcast(std::span<double>(beta.mutable_value().data(), 4));
  const auto loss = [&] {  // the global loss, on every rank
    Tensor64 running_mean = Tensor64::zeros({4}), running_var = Tensor64::ones({4});
    Tensor64 local = sum(batch_norm(x, gamma, beta, running_mean, running_var, {.replica_sum = &over_ranks}) * projection);
    double total = local.item();
    world->sum(std::span<double>(&total, 1));
    return std::pair{local, total};
  };
  {
    Tape tape;
    tape.backward(loss().first);
  }
  const auto numeric = [&](double& v) {
    const double saved = v;
    v = saved + tolerance.eps;
    const double up = loss().second;
    v = saved - tolerance.eps;
    const double down = loss().second;
    v = saved;
    return (up - down) / (2 * tolerance.eps);
  };
  std::size_t failures = 0;
  const auto check = [&](double analytic, double numerical) {
    if (std::abs(analytic - numerical) > tolerance.atol + tolerance.rtol * std::abs(numerical)) ++failures;
  };
  for (int owner = 0; owner < world->size(); ++owner)
    for (std::size_t i = 0; i < x.size(); ++i) {
      double unmoved = 0;
      const double d = numeric(world->rank() == owner ? x.mutable_value().flat(i) : unmoved);
      if (world->rank() == owner) check(x.grad().flat(i), d);
    }
  for (Tensor64* p : {&gamma, &beta}) {
    array<double> analytic = p->grad();
    world->sum(std::span<double>(analytic.data(), analytic.size()));
    for (std::size_t i = 0; i < p->size(); ++i) check(analytic(i), numeric(p->mutable_value()(i)));
  }
  BOOST_TEST(failures == 0u);
}

BOOST_AUTO_TEST_CASE(a_model_that_differs_between_ranks_is_rejected_at_start_up) {
  nn::manual_seed(0);
  nn::Sequential model{nn::Linear(4, world->rank() == 0 ? 3 : 5)};
  const std::string message = testing::message_of<value_error>([&] { dist::DataParallel ddp(model, *world); });
  BOOST_TEST(testing::message_has(std::runtime_error(message), {"disagree on the model", "rank 0 has", "rank 1 has"}));
}

BOOST_AUTO_TEST_CASE(a_batch_size_that_differs_between_ranks_is_rejected_at_start_up) {
  nn::Sequential model = small_model(0);
  dist::DataParallel ddp(model, *world);
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  SharedFolder folder;
  const std::string message = testing::message_of<value_error>([&] {
    train::fit(model, opt, random_dataset(),
               {.epochs = 1, .batch_size = global_batch + std::size_t(world->rank()), .out_dir = folder.path,
                .quiet = true, .replicas = &ddp});
  });
  BOOST_TEST(testing::message_has(std::runtime_error(message), {"disagree on the batch size", "rank 0 has 24", "rank 1 has 25"}));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_one_process_resumes_on_k_ranks_as_if_uninterrupted) {
  const data::Dataset data = random_dataset();
  const train::FitOptions base{.epochs = 3, .batch_size = global_batch, .seed = 3, .check_initial_loss = false, .quiet = true};
  TempDir own;
  const SharedFolder folder;
  nn::Sequential uninterrupted = small_model(21);
  {
    optim::Optimizer opt(uninterrupted.parameters(), optim::adam({.lr = 1e-2}));
    train::FitOptions o = base;
    o.out_dir = own.path;
    train::fit(uninterrupted, opt, data, o);
  }
  if (world->is_main()) {  // one process, one epoch
    nn::Sequential first = small_model(21);
    optim::Optimizer opt(first.parameters(), optim::adam({.lr = 1e-2}));
    train::FitOptions o = base;
    o.epochs = 1;
    o.out_dir = folder.path;
    train::fit(first, opt, data, o);
  }
  world->barrier();
  nn::Sequential resumed = small_model(99);  // other weights and dropout stream until resumed
  dist::DataParallel ddp(resumed, *world);
  optim::Optimizer opt(resumed.parameters(), optim::adam({.lr = 1e-2}));
  train::FitOptions o = base;
  o.out_dir = folder.path;
  o.resume = true;
  o.replicas = &ddp;
  const train::History h = train::fit(resumed, opt, data, o);
  BOOST_TEST(h.first_epoch == 2);
  BOOST_TEST(worst_difference(resumed, uninterrupted) < 1e-5);
}

BOOST_AUTO_TEST_CASE(only_rank_0_writes_checkpoints_and_metrics) {
  nn::Sequential model = small_model(0);
  dist::DataParallel ddp(model, *world);
  optim::Optimizer opt(model.parameters(), optim::sgd(0.1));
  const SharedFolder folder;
  train::fit(model, opt, random_dataset(),
             {.epochs = 1, .batch_size = global_batch, .out_dir = folder.path, .quiet = true, .replicas = &ddp});
  world->barrier();
  BOOST_TEST(std::filesystem::exists(folder.path / "checkpoint.safetensors"));
  BOOST_TEST(std::filesystem::exists(folder.path / "metrics.csv"));
  if (!world->is_main()) BOOST_TEST(folder.own.files().empty());
}

BOOST_AUTO_TEST_CASE(a_search_over_ranks_gives_the_trials_and_results_of_one_process) {
  // Noisy's runs keep state between rungs, so a trial trained on another rank than before would
  // show. Successive halving, then ASHA, whose progress reports come in the same order too.
  std::atomic<std::size_t> runs_built = 0;
  const tune::Objective objective = [&](const tune::Config& c, std::uint64_t seed) {
    ++runs_built;
    return std::make_unique<testing::Noisy>(c["quality"], seed);
  };
  dist::TrialProcesses ranks(*world);
  for (tune::Scheduler scheduler : {tune::Scheduler::successive_halving, tune::Scheduler::asha}) {
    testing::JobLog alone_log, ranks_log;
    tune::SearchOptions options{.trials = 20, .scheduler = scheduler, .eta = 2, .min_budget = 1, .max_budget = 8,
                                .seed = 5, .threads = 2, .asha_workers = 4, .on_rung_end = alone_log.recorder()};
    const auto alone = tune::search(testing::quality_space(), objective, options);
    options.processes = &ranks;
    options.on_rung_end = ranks_log.recorder();
    runs_built = 0;
    testing::check_identical(alone, tune::search(testing::quality_space(), objective, options));
    BOOST_TEST(runs_built <= (options.trials + ranks.count() - 1) / ranks.count());  // this rank's share only
    if (scheduler == tune::Scheduler::asha)  // a synchronous rung reports as its trials finish
      BOOST_TEST(alone_log.jobs == ranks_log.jobs, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(buckets_start_their_allreduce_during_backward) {
  const data::Split split = random_split(global_batch, 8, 4, 6);
  nn::Sequential replica = small_model(5);
  dist::DataParallel ddp(replica, *world, {.bucket_bytes = 64});  // 4 buckets
  optim::Optimizer opt(replica.parameters(), optim::sgd(0.1));
  train_steps(replica, opt, split, 1, &ddp);
  // The first layer's weight is final last, so its bucket alone may wait for synchronize().
  BOOST_TEST(ddp.buckets().last_timing().started_during_backward + 1 >= ddp.buckets().bucket_count());
  BOOST_TEST(ddp.buckets().bucket_count() > 2u);
}
