// Issue 6: the elementwise kernels of a training step on ~1M floats, as GB/s of the bytes each must
// move at least once, against a copy of the same size measured in the same run (the bandwidth
// reference: 4 MiB arrays sit in L2/L3 here, so it is cache bandwidth, as it is for the kernels in a step).
//
//   bench_kernels [--threads N] [--reps N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

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
      // ---- xgrad kernels go here, on the same sizes, once they are on main ----
  };

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
