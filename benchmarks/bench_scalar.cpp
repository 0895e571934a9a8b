// Tape overhead: one gradient-descent step on J(w) = w^2 - 10w + 25 (forward, backward, update).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <xgrad/xgrad.hpp>

int main() {
  using namespace xg;
  using clock = std::chrono::steady_clock;
  Tensor w = Tensor::scalar(0.0f, true);
  Tape tape;
  auto step = [&] {
    tape.clear();  // first, as a training loop does: last step's cost is gone, so its node is reused
    Tensor cost = w * w - 10.0f * w + 25.0f;
    tape.backward(cost);
    w.mutable_value()() -= 0.01f * w.grad()();  // a number: an xtensor expression would make a temporary
    w.zero_grad();
  };
  for (int i = 0; i < 1000; ++i) step();
  std::vector<double> per_step_ns;
  for (int rep = 0; rep < 21; ++rep) {
    const int n = 10000;
    auto t0 = clock::now();
    for (int i = 0; i < n; ++i) step();
    per_step_ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count() / n);
  }
  std::nth_element(per_step_ns.begin(), per_step_ns.begin() + 10, per_step_ns.end());
  std::printf("scalar J(w) step: median %.0f ns over 21 runs of 10000 steps (w = %.4f)\n", per_step_ns[10], w.item());
}
