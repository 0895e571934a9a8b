#pragma once
// dist::Context: this process's place in an MPI job (rank, size) and the collectives xgrad uses.
// One per process; it initialises MPI unless something else did, and finalises what it initialised.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>

namespace xg::dist {

class Context {
 public:
  // MPI_Init_thread with MPI_THREAD_FUNNELED: xgrad's own threads (TBB, BLAS) never call MPI.
  Context(int& argc, char**& argv);
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_main() const { return rank_ == 0; }  // rank 0 writes checkpoints, metrics and progress
  // A communicator of xgrad's own (a duplicate of MPI_COMM_WORLD), apart from the user's traffic.
  MPI_Comm communicator() const { return comm_; }

  // Sums over the ranks in place; every rank gets the same values.
  void sum(std::span<float> values) const;
  void sum(std::span<double> values) const;
  // Rank 0's values to every rank.
  void broadcast(std::span<float> values) const;
  void broadcast(std::span<double> values) const;
  void broadcast(std::string& text) const;
  // Every rank's text, in rank order.
  std::vector<std::string> all_gather(const std::string& text) const;
  // Throws xg::value_error on every rank when ranks hold different values, naming `what` and each
  // rank's value: a start-up check that the ranks agree (the model, the batch size, ...).
  void check_same(const std::string& what, std::uint64_t value) const;
  void barrier() const;

 private:
  void start(int* argc, char*** argv);

  bool owns_mpi_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

namespace detail {
inline MPI_Datatype datatype_of(float) { return MPI_FLOAT; }
inline MPI_Datatype datatype_of(double) { return MPI_DOUBLE; }
}  // namespace detail

// Whether an MPI launcher (mpirun, srun) started this process: what examples check before they
// initialise MPI on their own.
bool launched_by_mpi();

// FNV-1a: a fingerprint of a text (a model's description) for check_same.
std::uint64_t fingerprint(const std::string& text);

}  // namespace xg::dist
