// Anomaly mode's cost. Off, every op pays one relaxed load and a branch (detect_anomaly()); on, it
// scans every output and gradient for NaN/Inf. Prints, for a tape-overhead-bound scalar step and an
// MLP-BN step, the median time with the mode off and on (runs interleaved, so both see the same
// machine), and the off check's own cost per op measured in isolation.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <xgrad/xgrad.hpp>

using namespace xg;
using clock_type = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Median time per step (ns) with anomaly mode off and on, over interleaved runs.
std::pair<double, double> time_off_and_on(const std::function<void()>& step, int steps_per_run) {
  std::vector<double> off, on;
  for (int i = 0; i < steps_per_run; ++i) step();  // warm-up: buffers pooled, caches warm
  for (int run = 0; run < 21; ++run)
    for (bool anomaly : {false, true}) {
      set_detect_anomaly(anomaly);
      const auto t0 = clock_type::now();
      for (int i = 0; i < steps_per_run; ++i) step();
      (anomaly ? on : off).push_back(std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / steps_per_run);
    }
  set_detect_anomaly(false);
  return {median(off), median(on)};
}

void report(const char* name, std::size_t ops, std::pair<double, double> off_on, double check_ns) {
  const auto [off, on] = off_on;
  std::printf("%-34s off %10.0f ns  on %10.0f ns (+%5.1f%%)  off-check %6.2f ns = %.3f%% of the step\n", name, off, on,
              100 * (on - off) / off, check_ns * double(ops), 100 * check_ns * double(ops) / off);
}

}  // namespace

int main() {
  // The off check alone: what every op pays when the mode is off.
  const long calls = 200'000'000;
  long taken = 0;
  const auto t0 = clock_type::now();
  for (long i = 0; i < calls; ++i) taken += detect_anomaly();
  const double check_ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / double(calls);
  std::printf("detect_anomaly() when off: %.2f ns per op (%ld of %ld calls true)\n", check_ns, taken, calls);

  Tensor w = Tensor::scalar(0.0f, true);
  Tape scalar_tape;
  const auto scalar_step = [&] {
    Tensor cost = w * w - 10.0f * w + 25.0f;  // 5 ops
    scalar_tape.backward(cost);
    w.mutable_value() -= 0.01f * w.grad();
    w.zero_grad();
    scalar_tape.clear();
  };
  report("scalar J(w) step (5 ops)", 5, time_off_and_on(scalar_step, 10000), check_ns);

  nn::manual_seed(0);
  nn::Sequential model{nn::Linear(784, 256, nn::no_bias), nn::BatchNorm(256), nn::ReLU(), nn::Linear(256, 10)};
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  Generator gen(1);
  const Tensor x = normal<float>({128, 784}, 0.0f, 1.0f, gen);
  std::vector<int> y(128);
  for (int& label : y) label = int(gen() % 10);
  Tape tape;
  std::size_t step = 0;
  const auto mlp_step = [&] { train::train_step(model, opt, tape, x, y, ++step); };
  report("MLP-BN 784-256-10, batch 128 (6 ops)", 6, time_off_and_on(mlp_step, 20), check_ns);
}
