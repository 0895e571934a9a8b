// Hypergradient descent (Baydin et al. 2018) against plain SGD, both started with a learning rate
// 100x smaller than a good one, on a least-squares problem (convex). sgd_hd learns its learning rate
// from d(loss)/d(lr), which the tape computes through the optimizer's own update node. Prints how many
// steps each needs to bring the loss down to a thousandth of its initial value.
#include <cstdio>

#include <xgrad/xgrad.hpp>

namespace {
using namespace xg;

struct LeastSquares {
  Tensor x, y;  // loss(w) = mean((x w - y)^2)
  Tensor loss(const Tensor& w) const { return mean(pow(matmul(x, w) - y, 2.0f)); }
};

LeastSquares make_problem() {
  Generator gen(42);
  Tensor x = normal<float>({64, 8}, 0, 1, gen);
  Tensor w_true = normal<float>({8, 1}, 0, 1, gen);
  NoGrad no_grad;
  return {x, matmul(x, w_true)};
}

struct Run {
  long steps = -1;  // to reach the target; -1 if it did not within the budget
  double final_lr = 0;
};

Run steps_to_reach(const LeastSquares& problem, optim::Chain transformations, double target, long budget) {
  Tensor w = Tensor::zeros({8, 1}, true);
  optim::Optimizer opt({w}, std::move(transformations));
  Tape tape;
  for (long step = 0; step < budget; ++step) {
    Tensor loss = problem.loss(w);
    if (loss.item() <= target) return {step, opt.learning_rate()};
    tape.backward(loss);
    opt.step();
    opt.zero_grad();
    tape.clear();
  }
  return {-1, opt.learning_rate()};
}
}  // namespace

int main() {
  const LeastSquares problem = make_problem();
  const double initial_loss = problem.loss(Tensor::zeros({8, 1})).item();
  const double target = initial_loss * 1e-3;
  const double good_lr = 0.2, lr = good_lr / 100, hyper_lr = 1e-3;
  const long budget = 100000;
  const Run hd = steps_to_reach(problem, optim::sgd_hd(lr, hyper_lr), target, budget);
  const Run plain = steps_to_reach(problem, optim::sgd(lr), target, budget);
  std::printf("least squares 64x8, initial loss %.4f, target %.6f (1e-3 of it), learning rate %.4g (100x too small)\n",
              initial_loss, target, lr);
  std::printf("sgd_hd (hyper_lr %.0e): %ld steps, learning rate adapted to %.4f\n", hyper_lr, hd.steps, hd.final_lr);
  std::printf("sgd:                   %ld steps\n", plain.steps);
  if (hd.steps > 0 && plain.steps > 0) std::printf("ratio: %.1fx fewer steps with sgd_hd\n", double(plain.steps) / double(hd.steps));
  return hd.steps > 0 && plain.steps >= 5 * hd.steps ? 0 : 1;
}
