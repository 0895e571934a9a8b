#include "xgrad/dist/context.hpp"

#include <cstdlib>
#include <sstream>
#include <vector>

#include "xgrad/errors.hpp"

namespace xg::dist {

namespace {

template <class T>
void sum_in_place(std::span<T> values, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), int(values.size()), detail::datatype_of(T()), MPI_SUM, comm);
}
template <class T>
void broadcast_from_main(std::span<T> values, MPI_Comm comm) {
  MPI_Bcast(values.data(), int(values.size()), detail::datatype_of(T()), 0, comm);
}
}  // namespace

Context::Context(int& argc, char**& argv) { start(&argc, &argv); }
Context::Context() { start(nullptr, nullptr); }

void Context::start(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Context::~Context() {
  MPI_Comm_free(&comm_);
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (owns_mpi_ && !finalised) MPI_Finalize();
}

void Context::sum(std::span<float> values) const { sum_in_place(values, comm_); }
void Context::sum(std::span<double> values) const { sum_in_place(values, comm_); }
void Context::broadcast(std::span<float> values) const { broadcast_from_main(values, comm_); }
void Context::broadcast(std::span<double> values) const { broadcast_from_main(values, comm_); }

void Context::broadcast(std::string& text) const {
  unsigned long long length = text.size();
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, comm_);
  text.resize(length);
  MPI_Bcast(text.data(), int(length), MPI_CHAR, 0, comm_);
}

std::vector<std::string> Context::all_gather(const std::string& text) const {
  const int length = int(text.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
  MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm_);
  int total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::string all(std::size_t(total), '\0');
  MPI_Allgatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, comm_);
  std::vector<std::string> texts;
  for (std::size_t r = 0; r < lengths.size(); ++r) texts.push_back(all.substr(std::size_t(offsets[r]), std::size_t(lengths[r])));
  return texts;
}

void Context::check_same(const std::string& what, std::uint64_t value) const {
  std::vector<std::uint64_t> values(static_cast<std::size_t>(size_));
  MPI_Allgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, comm_);
  bool same = true;
  for (std::uint64_t v : values) same = same && v == values[0];
  if (same) return;
  std::ostringstream msg;
  msg << "dist: the ranks disagree on " << what << ":";
  for (std::size_t r = 0; r < values.size(); ++r) msg << (r ? "," : "") << " rank " << r << " has " << values[r];
  msg << "; every rank must run the same configuration";
  throw value_error(msg.str());
}

void Context::barrier() const { MPI_Barrier(comm_); }

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(variable)) return true;
  return false;
}

std::uint64_t fingerprint(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace xg::dist
