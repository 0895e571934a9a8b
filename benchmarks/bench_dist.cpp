// Data parallelism's costs on this machine: MPI_Allreduce time per bucket size, and the MLP-BN
// training step (784-512-256-10, global batch 128) on K ranks: the step on its shard alone, then
// data-parallel with the allreduces after backward and overlapped with it. Run under mpirun:
//   mpirun --oversubscribe -np 2 build/benchmarks/bench_dist
// Rank 0 prints medians over --steps steps. See docs/distributed.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>
#include <xgrad/xgrad.hpp>

using namespace xg;

namespace {
using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median seconds of one MPI_Allreduce of n floats, every rank starting together.
double allreduce_seconds(const dist::Context& world, std::size_t n, int repeats) {
  std::vector<float> data(n, 1.0f);
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    world.barrier();
    const auto t0 = clock_type::now();
    world.sum(data);
    times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  return median(times);
}

nn::Sequential mlp_bn() {
  nn::manual_seed(0);
  return nn::Sequential{nn::Linear(784, 512, nn::no_bias), nn::BatchNorm(512), nn::ReLU(),
                        nn::Linear(512, 256, nn::no_bias), nn::BatchNorm(256), nn::ReLU(), nn::Linear(256, 10)};
}

struct StepTimes {
  double step = 0, wait = 0;
  std::size_t buckets = 0, early = 0;
};

// Median step time (and time waiting for the allreduces) on this rank's shard of a global batch.
StepTimes step_times(const dist::Context& world, const data::Split& batch, int steps,
                     const dist::DataParallelOptions* ddp_options) {
  nn::Sequential model = mlp_bn();
  std::unique_ptr<dist::DataParallel> ddp =
      ddp_options ? std::make_unique<dist::DataParallel>(model, world, *ddp_options) : nullptr;
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  const std::size_t k = std::size_t(world.size()), rows = batch.size() / k, offset = std::size_t(world.rank()) * rows;
  const data::Batch local{dist::rows_of(batch.images, offset, rows), std::span(batch.labels).subspan(offset, rows)};
  Tape tape;
  std::vector<double> times, waits;
  StepTimes result;
  for (int s = 0; s < steps + 3; ++s) {  // three warm-up steps
    world.barrier();
    const auto t0 = clock_type::now();
    train::train_step(model, opt, tape, local.x, local.y, std::size_t(s + 1), ddp.get());
    if (s < 3) continue;
    times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    if (ddp) waits.push_back(ddp->buckets().last_timing().wait_seconds);
  }
  result.step = median(times);
  if (ddp) {
    result.wait = median(waits);
    result.buckets = ddp->buckets().bucket_count();
    result.early = ddp->buckets().last_timing().started_during_backward;
  }
  return result;
}
}  // namespace

int main(int argc, char** argv) {
  dist::Context world(argc, argv);
  CLI::App app{"Allreduce and data-parallel step times under mpirun"};
  int steps = 30, repeats = 20, threads = 1;
  std::size_t batch_size = 128, bucket_kb = 512;
  app.add_option("--steps", steps, "timed steps per configuration")->capture_default_str();
  app.add_option("--repeats", repeats, "allreduces per size")->capture_default_str();
  app.add_option("--batch-size", batch_size, "global batch")->capture_default_str();
  app.add_option("--bucket-kb", bucket_kb, "bucket size for the overlapped step")->capture_default_str();
  app.add_option("--threads", threads, "threads per rank")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  set_num_threads(threads);
  const bool print = world.is_main();

  if (print) std::printf("%d ranks, %d thread(s) each\n\nallreduce (median of %d)\n%12s %12s %10s\n", world.size(), threads,
                         repeats, "floats", "bytes", "ms");
  // SyncBatchNorm's per-channel sums, the MLP-BN's gradients in one bucket, a 25 MiB bucket.
  for (std::size_t n : {std::size_t(513), std::size_t(536586), std::size_t(25) << 18}) {
    const double s = allreduce_seconds(world, n, repeats);
    if (print) std::printf("%12zu %12zu %10.3f\n", n, n * sizeof(float), 1e3 * s);
  }

  Generator gen(0);
  data::Split batch;
  batch.images = normal<float>({batch_size, 784}, 0.0f, 1.0f, gen);
  for (std::size_t i = 0; i < batch_size; ++i) batch.labels.push_back(int(i % 10));
  const StepTimes alone = step_times(world, batch, steps, nullptr);
  const dist::DataParallelOptions after{.bucket_bytes = bucket_kb << 10, .overlap = false};
  const dist::DataParallelOptions overlapped{.bucket_bytes = bucket_kb << 10, .overlap = true};
  const StepTimes sync = step_times(world, batch, steps, &after);
  const StepTimes over = step_times(world, batch, steps, &overlapped);
  if (print) {
    std::printf("\nMLP-BN step, global batch %zu (median of %d)\n", batch_size, steps);
    std::printf("%-44s %8.2f ms\n", "shard alone (no communication)", 1e3 * alone.step);
    std::printf("%-44s %8.2f ms  (waiting %.2f ms, %zu buckets)\n", "data-parallel, allreduce after backward",
                1e3 * sync.step, 1e3 * sync.wait, sync.buckets);
    std::printf("%-44s %8.2f ms  (waiting %.2f ms, %zu of %zu buckets started in backward)\n",
                "data-parallel, allreduce overlapped", 1e3 * over.step, 1e3 * over.wait, over.early, over.buckets);
  }
  return 0;
}
