// Run by test_dist_fault under mpirun: trains a small model data-parallel with a checkpoint every
// epoch, and the last rank SIGKILLs itself at the end of epoch 3, as a crashed node would vanish.
#include <csignal>
#include <cstdio>
#include <xgrad/xgrad.hpp>

using namespace xg;

int main(int argc, char** argv) {
  dist::Context world(argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: dist_kill_worker OUT_DIR\n");
    return 2;
  }
  set_num_threads(1);
  Generator gen(0);
  data::Dataset data;
  data.train.images = normal<float>({512, 16}, 0.0f, 1.0f, gen);
  for (std::size_t i = 0; i < 512; ++i) data.train.labels.push_back(int(i % 4));
  data.validation = data.train.head(64);
  data.classes = 4;
  nn::manual_seed(0);
  nn::Sequential model{nn::Linear(16, 32, nn::no_bias), nn::BatchNorm(32), nn::ReLU(), nn::Linear(32, 4)};
  dist::DataParallel ddp(model, world);
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  const bool doomed = world.rank() == world.size() - 1;
  train::fit(model, opt, data,
             {.epochs = 1000, .batch_size = 32, .out_dir = argv[1], .check_initial_loss = false, .quiet = true,
              .on_epoch_end = [&](const train::EpochRecord& r) {
                if (doomed && r.epoch == 3) std::raise(SIGKILL);
              },
              .replicas = &ddp});
  return 0;  // not reached: the job ends when the rank dies
}
