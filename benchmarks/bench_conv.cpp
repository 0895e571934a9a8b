// Each convolution and pooling layer of the CNN recipe (issue 13; batch 128), forward and backward, in
// GFLOP/s (pooling in GB/s moved) against the machine's measured sgemm peak: xgrad's oneDNN path in
// blocked layouts (the default), oneDNN on plain NCHW, and the reference path (im2col + sgemm).
// Last, a whole training step of the recipe (forward, backward, Adam) on one batch, the figure
// benchmarks/compare_cnn.sh sets against PyTorch's (benchmarks/torch_recipes.py --model cnn).
//   bench_conv [--threads 1|2|both] [--steps N] [--step-only]
#include <cblas.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <xgrad/detail/conv.hpp>
#include <xgrad/detail/op_support.hpp>
#include <xgrad/train/train.hpp>
#include <xgrad/xgrad.hpp>

#include "bench_support.hpp"

using namespace xg;
using namespace xg::detail;

namespace {
std::vector<float> filled(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = float((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  return v;
}

double median_ms(const std::function<void()>& f, int steps) { return bench::time_steps(f, 2, steps).median_ms(); }

// sgemm of a square size large enough to run at the BLAS kernel's peak.
double sgemm_peak_gflops(int steps) {
  const std::size_t n = 1024;
  std::vector<float> a = filled(n * n), b = filled(n * n), c(n * n);
  const int m = int(n);
  const double ms = median_ms(
      [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0f, a.data(), m, b.data(), m, 0.0f, c.data(), m); },
      steps);
  return 2.0 * double(n) * n * n / ms / 1e6;
}

Conv2dGeometry conv(dim32 c, dim32 k, dim32 hw) {
  return {128, c, hw, hw, k, 5, 5, hw, hw, 1, 1, 1, 2, 2, 1, 1, false};
}
Pool2dGeometry pool(dim32 c, dim32 hw) { return {128, c, hw, hw, 2, 2, hw / 2, hw / 2, 2, 2, 0, 0, PoolKind::max}; }

void bench_conv_layer(const char* name, const Conv2dGeometry& g, double peak, int steps) {
  std::vector<float> x = filled(g.input_size()), w = filled(g.weight_size()), y(g.output_size()),
                     gx(g.input_size()), gw(g.weight_size()), col(conv2d_col_size(g));
  const double gflop = g.flops() / 1e9;
  struct Pass {
    const char* name;
    std::function<void()> onednn, reference;
  };
  const Pass passes[] = {
      {"forward", [&] { onednn::conv2d_forward(g, x.data(), w.data(), nullptr, y.data()); },
       [&] { conv2d_forward_reference(g, x.data(), w.data(), (const float*)nullptr, y.data(), col.data()); }},
      {"backward data", [&] { onednn::conv2d_backward_data(g, y.data(), w.data(), gx.data()); },
       [&] { conv2d_backward_data_reference(g, y.data(), w.data(), gx.data(), true, col.data()); }},
      {"backward weights", [&] { onednn::conv2d_backward_weights(g, x.data(), y.data(), gw.data()); },
       [&] { conv2d_backward_weights_reference(g, x.data(), y.data(), gw.data(), true, col.data()); }},
  };
  for (const Pass& p : passes) {
    onednn::set_blocked_convolutions(true);
    const double blocked = median_ms(p.onednn, steps);
    onednn::set_blocked_convolutions(false);
    const double plain = median_ms(p.onednn, steps);
    onednn::set_blocked_convolutions(true);
    const double reference = median_ms(p.reference, steps);
    std::printf("%-7s %-17s %8.2f ms %6.1f GF/s %4.0f%% | %8.2f ms %6.1f GF/s | %8.2f ms %6.1f GF/s\n", name, p.name,
                blocked, gflop / blocked * 1e3, 100 * gflop / blocked * 1e3 / peak, plain, gflop / plain * 1e3,
                reference, gflop / reference * 1e3);
  }
}

void bench_pool_layer(const char* name, const Pool2dGeometry& g, int steps) {
  std::vector<float> x = filled(g.input_size()), y(g.output_size()), gx(g.input_size());
  std::vector<unsigned char> workspace(onednn::pool2d_workspace_bytes(g));
  const double bytes = 4.0 * double(g.input_size() + g.output_size());
  const double fwd = median_ms([&] { onednn::pool2d_forward(g, x.data(), y.data(), workspace.data()); }, steps);
  const double bwd = median_ms([&] { onednn::pool2d_backward(g, y.data(), workspace.data(), gx.data()); }, steps);
  const double fwd_ref = median_ms([&] { pool2d_forward_reference(g, x.data(), y.data()); }, steps);
  const double bwd_ref = median_ms([&] { pool2d_backward_reference(g, x.data(), y.data(), gx.data(), true); }, steps);
  std::printf("%-7s %-17s %8.2f ms %6.1f GB/s      | %25s | %8.2f ms %6.1f GB/s\n", name, "forward", fwd, bytes / fwd / 1e6, "",
              fwd_ref, bytes / fwd_ref / 1e6);
  std::printf("%-7s %-17s %8.2f ms %6.1f GB/s      | %25s | %8.2f ms %6.1f GB/s\n", name, "backward", bwd, bytes / bwd / 1e6, "",
              bwd_ref, bytes / bwd_ref / 1e6);
}
// The recipe, as examples/fashion_mnist.cpp --model cnn builds it.
double recipe_step_ms(int steps) {
  nn::manual_seed(0);
  nn::Sequential model{
      nn::Conv2d(1, 32, 5, {.padding = 2, .bias = false}), nn::BatchNorm(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(32, 64, 5, {.padding = 2, .bias = false}), nn::BatchNorm(64), nn::ReLU(), nn::MaxPool2d(2),
      nn::Flatten(), nn::Linear(3136, 256, nn::no_bias), nn::BatchNorm(256), nn::ReLU(), nn::Dropout(0.3),
      nn::Linear(256, 10)};
  optim::Optimizer optimizer(model.parameters(), optim::adam({.lr = 1e-3}));
  Generator gen(1);
  const Tensor x = normal<float>({128, 1, 28, 28}, 0.0f, 1.0f, gen);
  std::vector<int> labels(128);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int(i % 10);
  Tape tape;
  std::size_t step = 0;
  return bench::time_steps([&] { train::train_step(model, optimizer, tape, x, labels, ++step); }, 3, steps).median_ms();
}
}  // namespace

int main(int argc, char** argv) {
  bench::ensure_benchmark_environment(argv);
  std::string threads = "both";
  int steps = 10;
  bool step_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--step-only")) step_only = true;
    if (i + 1 < argc && !std::strcmp(argv[i], "--threads")) threads = argv[i + 1];
    if (i + 1 < argc && !std::strcmp(argv[i], "--steps")) steps = std::stoi(argv[i + 1]);
  }
  std::vector<int> counts;
  if (threads == "both" || threads == "1") counts.push_back(1);
  if (threads == "both" || threads == "2") counts.push_back(2);
  for (int n : counts) {
    bench::use_threads(n);
    if (step_only) {
      std::printf("xgrad threads %d: median %.1f ms/step over %d steps (batch 128)\n", n, recipe_step_ms(steps), steps);
      continue;
    }
    const double peak = sgemm_peak_gflops(steps);
    std::printf("\n%d thread%s, BLAS %s: sgemm 1024^3 peak %.1f GFLOP/s; batch 128, median of %d\n", n, n > 1 ? "s" : "",
                bench::blas_kernel_name(), peak, steps);
    std::printf("%-7s %-17s %-31s | %-25s | %s\n", "layer", "pass", "oneDNN blocked (% of peak)", "oneDNN NCHW",
                "reference (im2col + sgemm)");
    bench_conv_layer("conv1", conv(1, 32, 28), peak, steps);
    bench_pool_layer("pool1", pool(32, 28), steps);
    bench_conv_layer("conv2", conv(32, 64, 14), peak, steps);
    bench_pool_layer("pool2", pool(64, 14), steps);
    std::printf("recipe training step (batch 128): %.1f ms\n", recipe_step_ms(steps));
  }
  return 0;
}
