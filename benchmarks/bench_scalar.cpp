// Tape overhead: one gradient-descent step on J(w) = w^2 - 10w + 25 (forward, backward, update),
// through the tape and as a plain loop doing the same arithmetic, timed in the same run: the ratio
// is what the tape's bookkeeping costs, whatever the machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <xgrad/xgrad.hpp>

namespace {

// The median time of one call of step, in ns, over 21 runs of n calls.
template <class Step>
double median_step_ns(Step&& step, int n) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < n / 10; ++i) step();
  std::vector<double> per_step_ns;
  for (int rep = 0; rep < 21; ++rep) {
    auto t0 = clock::now();
    for (int i = 0; i < n; ++i) step();
    per_step_ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count() / n);
  }
  std::nth_element(per_step_ns.begin(), per_step_ns.begin() + 10, per_step_ns.end());
  return per_step_ns[10];
}

}  // namespace

int main() {
  using namespace xg;
  Tensor w = Tensor::scalar(0.0f, true);
  Tape tape;
  auto tape_step = [&] {
    tape.clear();  // first, as a training loop does: last step's cost is gone, so its node is reused
    Tensor cost = w * w - 10.0f * w + 25.0f;
    tape.backward(cost);
    w.mutable_value()() -= 0.01f * w.grad()();  // a number: an xtensor expression would make a temporary
    w.zero_grad();
  };

  // The tape's arithmetic, op by op: forward (mul, affine, sub, affine), backward in reverse from the
  // seed 1 (affine, sub, affine, mul, whose two operands are both w), the update: the loop an
  // engineer would write, with w in a register. Each step passes x, the seed and the cost through an
  // empty asm statement (x86-64's "x": an SSE register the compiler must assume read and changed),
  // so it can neither fold the steps together nor drop the cost or the multiplications by the seed,
  // and nothing goes through memory.
  float plain_w = 0.0f;
  auto plain_step = [&] {
    float x = plain_w, seed = 1.0f;
    asm volatile("" : "+x"(x), "+x"(seed));
    const float square = x * x, scaled = 10.0f * x, difference = square - scaled;
    const float cost = 1.0f * difference + 25.0f;
    asm volatile("" : : "x"(cost));
    const float d_cost = seed;
    const float d_difference = d_cost * 1.0f;
    const float d_square = d_difference * 1.0f, d_scaled = d_difference * -1.0f;
    float d_x = d_scaled * 10.0f;
    d_x += d_square * x;
    d_x += d_square * x;
    plain_w = x - 0.01f * d_x;
  };

  const double tape_ns = median_step_ns(tape_step, 10000);
  const double plain_ns = median_step_ns(plain_step, 1000000);
  std::printf("scalar J(w) step: tape %.0f ns, plain loop %.2f ns: %.0fx (medians of 21 runs; w = %.4f and %.4f)\n",
              tape_ns, plain_ns, tape_ns / plain_ns, w.item(), plain_w);
}
