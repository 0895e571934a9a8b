// Checkpoints survive crashes: a child process saves checkpoint after checkpoint and is killed with
// SIGKILL at random moments, many times; after every kill the file loads intact and is one whole
// generation (its data match its metadata), never older than one that loaded before. Interrupted
// with SIGINT instead, it also leaves no temporary file.
#define BOOST_TEST_MODULE crash
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <random>
#include <thread>
#include <xgrad/io/safetensors.hpp>
#include <xgrad/train/train.hpp>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using testing::TempDir;

// Generation g: 4 MB of weights all equal to g, and g in the metadata.
constexpr std::size_t weights = 1 << 20;

void save_generation(const fs::path& file, int generation) {
  io::save_safetensors(file, {{"weight", Tensor::full({weights}, float(generation))}, {"bias", Tensor::full({16}, float(-generation))}},
                       {{"generation", std::to_string(generation)}});
}

// The generation the file holds; fails the test unless it is whole.
int load_generation(const fs::path& file) {
  const io::Safetensors loaded = io::load_safetensors(file);  // throws on any corruption
  const int generation = std::stoi(loaded.metadata.at("generation"));
  const Tensor weight = loaded.f32("weight"), bias = loaded.f32("bias");
  BOOST_REQUIRE_EQUAL(weight.size(), weights);
  // One check over the whole array: a framework assertion per element made this test take minutes
  // under the sanitizers.
  const auto all_equal = [](const Tensor& t, float v) {
    return std::all_of(t.value().begin(), t.value().end(), [v](float x) { return x == v; });
  };
  BOOST_REQUIRE_MESSAGE(all_equal(weight, float(generation)), "weights not all " << generation);
  BOOST_REQUIRE_MESSAGE(all_equal(bias, float(-generation)), "biases not all " << -generation);
  return generation;
}

// A child process running save() until it is killed. It never returns into the test framework:
// a failure ends it with status 1, which the parent reports.
template <class Save>
pid_t start_saver(Save save) {
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGINT, SIG_DFL);  // as in a program of the user's (the test framework handles some)
    try {
      for (int i = 0;; ++i) save(i);
    } catch (...) {
    }
    ::_exit(1);
  }
  return pid;
}

void kill_and_reap(pid_t child, int signal = SIGKILL) {
  ::kill(child, signal);
  int status = 0;
  BOOST_REQUIRE_EQUAL(::waitpid(child, &status, 0), child);
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == signal, "the saver failed: status " << status);
}

double seconds_per_save(const fs::path& file) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) save_generation(file, 0);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 3;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_save_killed_at_any_moment_leaves_the_previous_checkpoint_intact) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  const double save_time = seconds_per_save(file);
  BOOST_TEST_MESSAGE("one save takes " << save_time * 1e3 << " ms");
  std::mt19937 rng(12345);
  // Kill points spread over about three saves, so they fall in every phase of one: header, data,
  // fsync, rename, folder sync (and between saves).
  std::uniform_real_distribution<double> delay(0.0, 3.0 * save_time);
  int last = load_generation(file), kills = 0, advanced = 0;
  for (int round = 0; round < 60; ++round) {
    const pid_t child = start_saver([&, first = last + 1](int i) { save_generation(file, first + i); });
    std::this_thread::sleep_for(std::chrono::duration<double>(delay(rng)));
    kill_and_reap(child);
    ++kills;
    const int now = load_generation(file);
    BOOST_REQUIRE_GE(now, last);  // a completed save is never lost
    advanced += now > last;
    last = now;
  }
  BOOST_TEST_MESSAGE(kills << " kills, " << advanced << " of them after at least one completed save");
  BOOST_TEST(advanced > 0);  // the kills did not all land before the first save finished
  BOOST_TEST(advanced < kills);  // and not all between saves: some interrupted one

  // Killed saves leave temporary files behind (hidden, named after the dead process); they get in
  // the way of neither loading nor the next save.
  save_generation(file, last + 1);
  BOOST_TEST(load_generation(file) == last + 1);
}

BOOST_AUTO_TEST_CASE(a_training_checkpoint_killed_mid_save_still_loads_whole) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  nn::manual_seed(1);
  nn::Sequential model{nn::Linear(512, 512), nn::ReLU(), nn::Dropout(0.2), nn::Linear(512, 10)};
  optim::Optimizer opt(model.parameters(), optim::adam({.lr = 1e-3}));
  train::save_checkpoint(file, model, opt, 1);
  const double save_time = seconds_per_save(dir.path / "timing.safetensors");
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> delay(0.0, 2.0 * save_time);
  for (int round = 0; round < 20; ++round) {
    const pid_t child = start_saver([&](int i) { train::save_checkpoint(file, model, opt, 2 + i); });
    std::this_thread::sleep_for(std::chrono::duration<double>(delay(rng)));
    kill_and_reap(child);
    nn::Sequential restored{nn::Linear(512, 512), nn::ReLU(), nn::Dropout(0.2), nn::Linear(512, 10)};
    optim::Optimizer restored_opt(restored.parameters(), optim::adam({.lr = 1e-3}));
    BOOST_TEST(train::load_checkpoint(file, restored, &restored_opt) >= 1);
    const auto a = model.named_parameters(), b = restored.named_parameters();
    for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST((a[i].second.value() == b[i].second.value()));
  }
}

BOOST_AUTO_TEST_CASE(sigint_during_a_save_ends_the_process_after_it_without_leaving_a_temporary_file) {
  TempDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  const double save_time = seconds_per_save(file);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> delay(0.0, 2.0 * save_time);
  for (int round = 0; round < 20; ++round) {
    const pid_t child = start_saver([&](int i) { save_generation(file, 1 + i); });
    std::this_thread::sleep_for(std::chrono::duration<double>(delay(rng)));
    kill_and_reap(child, SIGINT);  // still ended by SIGINT, as the user asked
    BOOST_TEST_REQUIRE(dir.files() == std::vector<std::string>{"checkpoint.safetensors"},
                       boost::test_tools::per_element());
    load_generation(file);
  }
}
