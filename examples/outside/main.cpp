// A program outside the xgrad tree: it sees only the installed headers and library. It fits
// y = 3x - 1 with one Linear layer and Adam, and exits 0 when the fit is close.
#include <cmath>
#include <cstdio>

#include <xgrad/xgrad.hpp>

int main() {
  using namespace xg;
  array<float> x = xt::linspace<float>(-1.0f, 1.0f, 32);
  x.reshape({32, 1});
  const Tensor inputs(x);
  const Tensor targets(array<float>(3.0f * x - 1.0f));

  nn::Linear layer(1, 1);
  optim::Optimizer opt(layer.parameters(), optim::adam({.lr = 0.05}));
  Tape tape;
  float loss_value = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor error = layer(inputs) - targets;
    Tensor loss = mean(error * error);
    tape.backward(loss);
    opt.step();
    opt.zero_grad();
    loss_value = loss.item();
    tape.clear();
  }
  std::printf("xgrad %s (%s): mean squared error after 300 Adam steps %.2e\n", XGRAD_VERSION,
              XGRAD_XSIMD_ARCH, loss_value);
  return loss_value < 1e-4f ? 0 : 1;
}
