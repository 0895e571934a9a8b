// Issue 6: the elementwise kernels of a training step on ~1M floats, as GB/s of the bytes each must
// move at least once, against a copy of the same size measured in the same run (the bandwidth
// reference: 4 MiB arrays sit in L2/L3 here, so it is cache bandwidth, as it is for the kernels in a step).
//
//   bench_kernels [--threads N] [--reps N]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <xgrad/xgrad.hpp>

#include "bench_support.hpp"
#include "eigen_baseline.hpp"

using namespace xg::bench;

namespace {

constexpr Eigen::Index features = 1024, batch = 1024, n = features * batch;  // 1Mi floats, 4 MiB
constexpr Eigen::Index classes = 10, samples = n / classes;

Matrix<float> random_matrix(Eigen::Index rows, Eigen::Index cols, std::mt19937& gen) {
  std::normal_distribution<float> normal;
  Matrix<float> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(gen);
  return m;
}

// The plain loop a compiler would otherwise turn into a memcpy call.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void copy_loop(const float* src, float* dst,
                                                                              Eigen::Index count) {
  for (Eigen::Index i = 0; i < count; ++i) dst[i] = src[i];
}

// The same bytes as an Eigen matrix (features down the rows, one sample per column) as xgrad's
// row-major [samples x features] tensor.
xg::Tensor to_tensor(const Matrix<float>& m, bool requires_grad) {
  xg::array<float> a = xg::array<float>::from_shape({std::size_t(m.cols()), std::size_t(m.rows())});
  std::copy_n(m.data(), m.size(), a.begin());
  return xg::Tensor(std::move(a), requires_grad);
}

// An op's own backward, as the tape calls it for its node, but without the tape's seeding pass:
// out's recorded closure, taken from the node (clearing the tape would free it there).
std::function<void()> op_backward(const xg::Tensor& out, const xg::array<float>& grad_out) {
  auto backward = std::make_shared<xg::Node<float>::backward_fn>(std::move(out.node()->backward));
  return [backward, out, &grad_out] { (*backward)(grad_out, out.value()); };
}

struct Kernel {
  std::string name;
  double bytes;  // compulsory traffic: each input read once, each output written once
  std::function<void()> run;
};

}  // namespace

int main(int argc, char** argv) try {
  ensure_benchmark_environment(argv);
  int threads = 1, reps = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (arg == "--reps")
      reps = std::stoi(argv[i + 1]);
    else
      throw std::invalid_argument("unknown option " + arg);
  }
  use_threads(threads);

  std::mt19937 gen(5);
  const double f = sizeof(float);
  Matrix<float> src = random_matrix(features, batch, gen), dst(features, batch);
  Matrix<float> z = random_matrix(features, batch, gen), h(features, batch), d = random_matrix(features, batch, gen);
  Matrix<float> logits = random_matrix(classes, samples, gen), dlogits(classes, samples);
  std::vector<int> labels(samples);
  for (int& y : labels) y = int(gen() % classes);
  Vector<float> gamma = Vector<float>::Ones(features), beta = Vector<float>::Zero(features);
  Vector<float> dgamma(features), dbeta(features);
  BatchNormState<float> bn;
  bn.resize(features);
  Param<float> weights;
  weights.resize(features, batch);
  weights.value = random_matrix(features, batch, gen);
  weights.grad = random_matrix(features, batch, gen);
  Adam<float> adam;
  Param<float>* adam_params[] = {&weights};

  std::vector<Kernel> kernels{
      {"copy (memcpy)", 2 * n * f, [&] { std::memcpy(dst.data(), src.data(), n * sizeof(float)); }},
      {"copy (loop)", 2 * n * f, [&] { copy_loop(src.data(), dst.data(), n); }},
      {"Eigen ReLU forward", 2 * n * f, [&] { relu_forward(z, h); }},
      {"Eigen ReLU backward", 3 * n * f, [&] { relu_backward(h, d); }},
      {"Eigen softmax-CE fwd+bwd", 2 * n * f, [&] { softmax_cross_entropy(logits, labels, dlogits); }},
      // forward: read z, write z_hat (in place) and h; backward: read z_hat, h, d, write d.
      {"Eigen batch norm+ReLU forward", 3 * n * f, [&] { batch_norm_relu_forward(z, gamma, beta, bn, h); }},
      {"Eigen batch norm+ReLU backward", 4 * n * f,
       [&] { batch_norm_relu_backward(z, h, gamma, bn, d, dgamma, dbeta); }},
      {"Eigen Adam update", 7 * n * f, [&] { adam.step(adam_params); }},
  };

  // xgrad's ops on the same bytes, through the public API on one reused tape: clearing it between
  // runs recycles the outputs, as in a training loop. The leaves' gradients are reset each run, so
  // backward writes them afresh as it does an intermediate's in a step.
  xg::Tape tape;
  const std::size_t width = features;
  xg::Tensor zt = to_tensor(z, true), logits_t = to_tensor(logits, true);
  xg::Tensor gamma_t = xg::Tensor::ones({width}, true), beta_t = xg::Tensor::zeros({width}, true);
  xg::Tensor running_mean = xg::Tensor::zeros({width}), running_var = xg::Tensor::ones({width});
  const xg::array<float> dout = to_tensor(d, false).value();
  const auto batch_norm_train = [&] {
    return xg::batch_norm(zt, gamma_t, beta_t, running_mean, running_var, {.train = true});
  };
  const auto reset_grads = [&] {
    for (xg::Tensor* t : {&zt, &logits_t, &gamma_t, &beta_t}) t->zero_grad();
  };
  const std::function<void()> relu_backward_op = op_backward(xg::relu(zt), dout);
  const std::function<void()> bn_backward_op = op_backward(batch_norm_train(), dout);
  // Adam on a parameter of n floats whose gradient stays set: read p, g, m, v and write p, m, v.
  xg::Tensor adam_param = to_tensor(weights.value, true);
  tape.backward(adam_param * to_tensor(weights.grad, false), dout);
  xg::optim::Optimizer adam_t({adam_param}, xg::optim::adam({.lr = 1e-3}));
  kernels.insert(kernels.end(), {
      {"xgrad ReLU forward", 2 * n * f, [&] {
         tape.clear();
         xg::relu(zt);
       }},
      {"xgrad ReLU backward", 3 * n * f, [&] {
         reset_grads();
         relu_backward_op();
       }},
      {"xgrad softmax-CE fwd+bwd", 2 * n * f,
       [&] {
         tape.clear();
         reset_grads();
         tape.backward(xg::cross_entropy(logits_t, labels));
       }},
      // forward: read x, write y; backward: read x, d(y), write d(x).
      {"xgrad batch norm forward", 2 * n * f, [&] {
         tape.clear();
         batch_norm_train();
       }},
      {"xgrad batch norm backward", 3 * n * f, [&] {
         reset_grads();
         bn_backward_op();
       }},
      {"xgrad Adam update", 7 * n * f, [&] { adam_t.step(); }},
  });

  std::printf("%d thread(s), %ld floats per array, median of %d runs, OMP_WAIT_POLICY=%s\n\n", threads, long(n),
              reps, std::getenv("OMP_WAIT_POLICY"));
  std::printf("%-32s %10s %9s %9s %12s\n", "kernel", "us", "GB/s", "% copy", "malloc/run");
  double copy_gbps = 0;
  for (const Kernel& k : kernels) {
    const StepTimes t = time_steps(k.run, 10, reps);
    const double gbps = k.bytes / (t.median_ms() * 1e-3) * 1e-9;
    if (copy_gbps == 0) copy_gbps = gbps;  // the first row, memcpy, is the reference
    std::printf("%-32s %10.1f %9.1f %8.0f%% %12.1f\n", k.name.c_str(), t.median_ms() * 1e3, gbps,
                100 * gbps / copy_gbps, t.mallocs_per_step);
  }
  std::printf("\nGB/s counts the bytes each kernel must move at least once (inputs read, outputs written).\n");
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_kernels: %s\n", e.what());
  return 1;
}
