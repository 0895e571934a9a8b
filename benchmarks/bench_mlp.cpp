// Issue 6: one training step of MLP-BN and MLP-small (forward, backward, Adam) by the Eigen baseline,
// by the GEMM-only floor and, once its ops are on main, by xgrad; timed in one process with 1 and/or
// 2 threads. Prints a table and writes a CSV.
//
//   bench_mlp [--threads 1|2|both] [--steps N (>= 200 for published figures)] [--warmup N] [--csv PATH]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <cblas.h>

#include "bench_support.hpp"
#include "eigen_baseline.hpp"
#include "gemm_floor.hpp"

#include "xgrad_models.hpp"

using namespace xg::bench;

namespace {

struct Options {
  std::vector<int> threads{1, 2};
  int steps = 200, warmup = 20;
  std::string csv = XG_BENCH_RESULTS_DIR "/mlp.csv";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--threads")
      o.threads = value == "both" ? std::vector<int>{1, 2} : std::vector<int>{std::stoi(value)};
    else if (arg == "--steps")
      o.steps = std::stoi(value);
    else if (arg == "--warmup")
      o.warmup = std::stoi(value);
    else if (arg == "--csv")
      o.csv = value;
    else
      throw std::invalid_argument("unknown option " + arg);
  }
  return o;
}

// One model's fixed training batch, shared by every implementation.
struct Workload {
  std::string model;
  MlpConfig config;
  Matrix<float> x;  // [inputs x batch] column-major = xgrad's row-major [batch x inputs]
  std::vector<int> labels;
};

Workload make_workload(std::string model, MlpConfig config) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> label(0, int(config.widths.back()) - 1);
  Workload w{std::move(model), config, Matrix<float>(config.widths.front(), config.batch),
             std::vector<int>(config.batch)};
  for (Eigen::Index i = 0; i < w.x.size(); ++i) w.x.data()[i] = normal(gen);
  for (int& y : w.labels) y = label(gen);
  return w;
}

// An implementation builds its model for a workload and returns the step to time; the model lives
// as long as the step, so only one is in memory at a time.
struct Implementation {
  std::string name;
  std::function<std::function<void()>(const Workload&)> prepare;
};

std::vector<Implementation> implementations() {
  std::vector<Implementation> impls{
      {"Eigen",
       [](const Workload& w) -> std::function<void()> {
         auto model = std::make_shared<Mlp<float>>(w.config);
         return [model, &w] { model->step(w.x, w.labels); };
       }},
      {"GEMM-only",
       [](const Workload& w) -> std::function<void()> {
         // OpenBLAS's own threads: the fastest these products run here, the floor to compare with.
         openblas_set_num_threads(xg::num_threads());
         auto floor = std::make_shared<GemmFloor>(w.config);
         return [floor] { floor->step(); };
       }},
  };
  // The xgrad model starts from the Eigen model's initial weights, so both compute the same thing;
  // xgrad-ib runs each parameter's Adam update during backward.
  for (const bool in_backward : {false, true})
    impls.push_back({in_backward ? "xgrad-ib" : "xgrad", [in_backward](const Workload& w) -> std::function<void()> {
                       Mlp<float> same_start(w.config);
                       auto model = std::make_shared<XgradMlp>(same_start, in_backward);
                       auto x = std::make_shared<xg::Tensor>(to_tensor(w.x));
                       return [model, x, &w] { model->step(*x, w.labels); };
                     }});
  return impls;
}

struct Row {
  std::string model, implementation;
  int threads;
  StepTimes times;
  double gflops, peak_rss_mb;
  double vs_eigen = 0, vs_gemm = 0;  // this row's median over theirs
};

void print_and_write(const std::vector<Row>& rows, const std::string& csv_path) {
  std::printf("\n%-10s %-10s %3s %9s %9s %9s %9s %8s %8s %8s %9s %11s %9s\n", "model", "impl", "thr", "ms/step",
              "p10", "p90", "cpu ms", "vs Eigen", "vs GEMM", "GFLOP/s", "new/step", "malloc/step", "peak MB");
  std::ofstream csv(csv_path);
  if (!csv) std::fprintf(stderr, "cannot write %s\n", csv_path.c_str());
  csv << "model,implementation,threads,steps,ms_per_step_median,ms_p10,ms_p90,cpu_ms_per_step_median,vs_eigen,"
         "vs_gemm_only,gflops,news_per_step,mallocs_per_step,peak_rss_mb\n";
  for (const Row& r : rows) {
    const double median = r.times.median_ms(), p10 = r.times.quantile_ms(0.1), p90 = r.times.quantile_ms(0.9);
    const double cpu = r.times.median_cpu_ms();
    std::printf("%-10s %-10s %3d %9.3f %9.3f %9.3f %9.3f %8.2f %8.2f %8.1f %9.1f %11.1f %9.1f\n", r.model.c_str(),
                r.implementation.c_str(), r.threads, median, p10, p90, cpu, r.vs_eigen, r.vs_gemm, r.gflops,
                r.times.news_per_step, r.times.mallocs_per_step, r.peak_rss_mb);
    csv << r.model << ',' << r.implementation << ',' << r.threads << ',' << r.times.ms.size() << ',' << median
        << ',' << p10 << ',' << p90 << ',' << cpu << ',' << r.vs_eigen << ',' << r.vs_gemm << ',' << r.gflops << ','
        << r.times.news_per_step << ',' << r.times.mallocs_per_step << ',' << r.peak_rss_mb << '\n';
  }
  std::printf("\nvs Eigen / vs GEMM: this median over Eigen's / GEMM-only's, same model and threads.\n"
              "xgrad-ib: the optimizer inside backward (Optimizer::set_step_in_backward).\n"
              "cpu ms: median process CPU time per step, all threads (spinning included).\n"
              "peak MB is the process's high-water mark so far. 2-thread figures move between runs on\n"
              "shared VMs: compare them only within one run. CSV: %s\n",
              csv_path.c_str());
}

}  // namespace

int main(int argc, char** argv) try {
  ensure_benchmark_environment(argv);
  const Options options = parse(argc, argv);
  const std::vector<Workload> workloads{make_workload("MLP-BN", mlp_bn_config()),
                                        make_workload("MLP-small", mlp_small_config())};
  std::printf("OpenBLAS kernels: %s; OMP_WAIT_POLICY=%s; Eigen SIMD: %s; %d steps after %d warm-up\n",
              blas_kernel_name(), std::getenv("OMP_WAIT_POLICY"), Eigen::SimdInstructionSetsInUse(), options.steps,
              options.warmup);
  std::vector<Row> rows;
  for (int threads : options.threads) {
    use_threads(threads);
    for (const Workload& w : workloads) {
      const double flops = GemmFloor(w.config).flops_per_step();
      const std::size_t first = rows.size();
      for (const Implementation& impl : implementations()) {
        std::fprintf(stderr, "%s %s %d thread(s)...\n", w.model.c_str(), impl.name.c_str(), threads);
        StepTimes times = time_steps(impl.prepare(w), options.warmup, options.steps);
        const double gflops = flops / times.median_ms() * 1e-6;
        rows.push_back({w.model, impl.name, threads, std::move(times), gflops, peak_rss_mb()});
        use_threads(threads);  // let this implementation's pool go quiet before the next one
      }
      auto median_of = [&](const std::string& implementation) {
        for (std::size_t i = first; i < rows.size(); ++i)
          if (rows[i].implementation == implementation) return rows[i].times.median_ms();
        throw std::logic_error("no " + implementation + " row");
      };
      const double eigen = median_of("Eigen"), gemm = median_of("GEMM-only");
      for (std::size_t i = first; i < rows.size(); ++i) {
        rows[i].vs_eigen = rows[i].times.median_ms() / eigen;
        rows[i].vs_gemm = rows[i].times.median_ms() / gemm;
      }
    }
  }
  print_and_write(rows, options.csv);
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_mlp: %s\n", e.what());
  return 1;
}
