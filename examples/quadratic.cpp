// Minimise J(w) = w^2 - 10w + 25 = (w - 5)^2 by gradient descent from w = 0, using the tape.
#include <cstdio>

#include <xgrad/xgrad.hpp>

int main() {
  using namespace xg;
  Tensor w = Tensor::scalar(0.0f, /*requires_grad=*/true);
  const float learning_rate = 0.1f;
  Tape tape;
  for (int step = 1; step <= 60; ++step) {
    Tensor cost = w * w - 10.0f * w + 25.0f;
    tape.backward(cost);
    w.mutable_value() -= learning_rate * w.grad();
    w.zero_grad();
    tape.clear();  // the next step records afresh and reuses this step's buffers
    if (step <= 5 || step % 10 == 0) std::printf("step %2d  w = %.6f  J(w) = %.6f\n", step, w.item(), cost.item());
  }
  std::printf("w = %.4f (the minimum is at w = 5)\n", w.item());
  return w.item() > 4.99f && w.item() < 5.01f ? 0 : 1;
}
