#pragma once
// Distributed tuning: tune::search's trials spread over the ranks of an MPI job (see
// tune::Processes). Pass it as SearchOptions::processes; rank 0 writes the results.
#include "xgrad/dist/context.hpp"
#include "xgrad/tune/search.hpp"

namespace xg::dist {

class TrialProcesses final : public tune::Processes {
 public:
  explicit TrialProcesses(const Context& context) : context_(context) {}
  std::size_t count() const override { return std::size_t(context_.size()); }
  std::size_t index() const override { return std::size_t(context_.rank()); }
  std::vector<std::string> gather(const std::string& mine) override { return context_.all_gather(mine); }

 private:
  const Context& context_;
};

}  // namespace xg::dist
