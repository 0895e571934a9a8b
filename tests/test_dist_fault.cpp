// A rank that dies (SIGKILL) ends an mpirun job with mpirun's message within the stated timeout,
// never a hang, and leaves the last checkpoint whole. Arguments after --: mpirun, dist_kill_worker.
#define BOOST_TEST_MODULE dist_fault
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;

namespace {
// What docs/distributed.md promises: the job is over this long after a rank dies.
constexpr int timeout_seconds = 60;

struct Outcome {
  int status = 0;
  std::string output;
  double seconds = 0;
};

Outcome run(const std::string& command) {
  const auto t0 = std::chrono::steady_clock::now();
  Outcome o;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) o.output.append(buffer, n);
  o.status = pclose(pipe);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_killed_rank_ends_the_job_with_a_clear_message_and_a_whole_checkpoint) {
  const auto& suite = boost::unit_test::framework::master_test_suite();
  BOOST_TEST_REQUIRE(suite.argc == 3);
  const std::string mpirun = suite.argv[1], worker = suite.argv[2];
  testing::TempDir dir;
  // `timeout` turns a hang into a failure of this test rather than of the whole suite.
  const Outcome o = run("timeout " + std::to_string(timeout_seconds + 30) + " " + mpirun + " --oversubscribe -np 2 " +
                        worker + " " + dir.path.string());
  BOOST_TEST_MESSAGE(o.output);
  BOOST_TEST(o.status != 0);
  BOOST_TEST(o.seconds < timeout_seconds);
  BOOST_TEST(testing::message_has(std::runtime_error(o.output), {"exited on signal 9"}));
  nn::manual_seed(0);
  nn::Sequential model{nn::Linear(16, 32, nn::no_bias), nn::BatchNorm(32), nn::ReLU(), nn::Linear(32, 4)};
  int epoch = 0;
  BOOST_CHECK_NO_THROW(epoch = train::load_checkpoint(dir.path / "checkpoint.safetensors", model));
  BOOST_TEST(epoch >= 2);
}
