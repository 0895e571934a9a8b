// The tape: recording, the reverse walk, and the no-grad scope.
#include <algorithm>
#include <atomic>
#include <iostream>

#include "xgrad/anomaly.hpp"
#include "xgrad/detail/op_support.hpp"
#include "xgrad/detail/tape_pool.hpp"

namespace xg {

// The tapes alive on a thread, newest last. A tape destroyed out of order, or on another thread,
// only marks its entry dead; the owning thread drops dead entries when it next asks for the active
// tape, so no pointer to a destroyed tape is ever handed out.
struct ActiveTapeEntry {
  explicit ActiveTapeEntry(Tape* t) : tape(t) {}
  Tape* tape;
  std::atomic<bool> alive{true};
};

namespace {
// Every op reads these (XG_THREAD_LOCAL: one instruction, not a call, to reach them).
XG_THREAD_LOCAL std::vector<std::shared_ptr<ActiveTapeEntry>> active_tapes;
XG_THREAD_LOCAL ActiveTapeEntry* newest_tape = nullptr;  // active_tapes.back(), or nullptr
XG_THREAD_LOCAL std::size_t no_grad_scopes = 0;
}  // namespace

Tape::Tape() : pool_(std::make_unique<detail::TapePool>()), active_entry_(std::make_shared<ActiveTapeEntry>(this)) {
  active_tapes.push_back(active_entry_);
  newest_tape = active_entry_.get();
}

Tape::~Tape() {
  for (auto& [index, leaf] : first_uses_) leaf->first_use_tape = nullptr;
  for (auto& n : nodes_) n->tape = nullptr;
  active_entry_->alive.store(false, std::memory_order_release);
}

Tape* Tape::active() {
  if (newest_tape && newest_tape->alive.load(std::memory_order_acquire)) return newest_tape->tape;
  auto& tapes = active_tapes;
  while (!tapes.empty() && !tapes.back()->alive.load(std::memory_order_acquire)) tapes.pop_back();
  newest_tape = tapes.empty() ? nullptr : tapes.back().get();
  return newest_tape ? newest_tape->tape : nullptr;
}

void Tape::record(std::shared_ptr<detail::NodeBase> node) {
  node->tape = this;
  node->tape_index = nodes_.size();
  node->recorded_version = node->version;
  nodes_.push_back(std::move(node));
}

void Tape::arm_grad_ready_hooks(std::shared_ptr<detail::NodeBase> leaf) {
  if (leaf->first_use_tape == this) return;  // an earlier op already used it: that one counts
  leaf->first_use_tape = this;
  first_uses_.emplace_back(nodes_.size(), std::move(leaf));
}

void Tape::clear() {
  for (auto& n : nodes_) n->release_graph(detail::NodeBase::Graph::cleared);
  // Last record first: the pool hands nodes out last in, first out, so the next step's first op
  // gets this step's first node, and the buffers it holds fit (tape_pool.hpp). Iterators, not
  // std::views::reverse, which the fuzz build's clang 14 rejects in libstdc++ 12.
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    auto& n = *it;
    n->tape = nullptr;
    if (n.use_count() == 1) {  // nobody else holds it: it and its buffers serve the next step
      detail::NodeBase& node = *n;
      node.give_back(*pool_, std::move(n));
    }
  }
  nodes_.clear();
  for (auto& [index, leaf] : first_uses_) leaf->first_use_tape = nullptr;
  first_uses_.clear();
}

std::optional<Tape::Record> Tape::first_non_finite() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i]->value_is_finite()) return Record{i, nodes_[i]->op};
  return std::nullopt;
}

template <class T>
void Tape::backward(const TensorT<T>& loss, BackwardOptions options) {
  if (loss.size() != 1)
    throw shape_error("backward: a loss of shape " + shape_string(loss.shape()) +
                      " has more than one element; pass a seed gradient of that shape");
  walk(loss, [](T* grad, bool overwrite) { grad[0] = overwrite ? T(1) : grad[0] + T(1); }, options);
}

template <class T>
void Tape::backward_seeded(const TensorT<T>& out, const array<T>& seed, BackwardOptions options) {
  if (!std::equal(seed.shape().begin(), seed.shape().end(), out.shape().begin(), out.shape().end()))
    throw shape_error("backward: seed of shape " + shape_string(seed.shape()) +
                      " for an output of shape " + shape_string(out.shape()));
  walk(out, [&](T* grad, bool overwrite) {
    for (std::size_t i = 0; i < seed.size(); ++i) grad[i] = overwrite ? seed.data()[i] : grad[i] + seed.data()[i];
  }, options);
}

template <class T, class Seed>
void Tape::walk(const TensorT<T>& out, Seed&& seed, BackwardOptions options) {
  auto& node = *out.node();
  if (node.graph != detail::NodeBase::Graph::live) detail::throw_freed_graph(node);
  if (node.tape != this || node.tape_index >= nodes_.size() || nodes_[node.tape_index].get() != &node)
    throw graph_error(std::string("backward: the tensor (op '") + node.op +
                      "') is not on this tape; record it while the tape is active, with an "
                      "input that requires gradients");

  const std::size_t last = node.tape_index;
  // Gradients of recorded (intermediate) nodes belong to one backward pass only.
  for (std::size_t i = 0; i <= last; ++i) nodes_[i]->has_grad = false;
  detail::add_grad(node, "backward", detail::to_shape(node.value.shape()), seed);
  ++backward_count_;
  warn_if_growing();
  const bool check = detect_anomaly();
  // Leaves whose first use is at or before `last`, walked from the latest first use down.
  auto hooks = std::upper_bound(first_uses_.begin(), first_uses_.end(), last,
                                [](std::size_t i, const auto& use) { return i < use.first; });
  for (std::size_t i = last + 1; i-- > 0;) {
    nodes_[i]->run_backward();
    if (check) detail::check_backward_anomaly(*nodes_[i], backward_count_);
    for (; hooks != first_uses_.begin() && std::prev(hooks)->first == i; --hooks) {
      const detail::NodeBase& leaf = *std::prev(hooks)->second;
      if (leaf.has_grad)
        for (const auto& [id, hook] : leaf.grad_ready_hooks) hook();
    }
  }
  if (!options.keep_graph)
    for (std::size_t i = 0; i <= last; ++i) nodes_[i]->release_graph(detail::NodeBase::Graph::freed_by_backward);
}

// A loop that records a step's graph but never clears the tape keeps every step's nodes and buffers
// alive: memory grows without bound. Several backward passes over one graph do not grow the tape.
void Tape::warn_if_growing() {
  if (backward_count_ == 1) size_at_first_backward_ = nodes_.size();
  if (warned_growing_ || backward_count_ < 10 || nodes_.size() <= 5 * std::max<std::size_t>(size_at_first_backward_, 1))
    return;
  warned_growing_ = true;
  std::cerr << "xgrad: warning: this tape holds " << nodes_.size() << " records after " << backward_count_
            << " backward passes (" << size_at_first_backward_ << " at the first): it keeps every step's graph. "
            << "Call tape.clear() after each step (or use one Tape per step).\n";
}

template void Tape::backward<float>(const TensorT<float>&, BackwardOptions);
template void Tape::backward<double>(const TensorT<double>&, BackwardOptions);
template void Tape::backward_seeded<float>(const TensorT<float>&, const array<float>&, BackwardOptions);
template void Tape::backward_seeded<double>(const TensorT<double>&, const array<double>&, BackwardOptions);

namespace detail {

void NodeBase::check_versions() const {
  const auto changed = [this](const std::string& what, std::uint64_t now, std::uint64_t seen) {
    throw graph_error(std::string("backward: op '") + op + "' (record " + std::to_string(tape_index) + ") reads " +
                      what + ", which was modified in place after the op ran (version " + std::to_string(now) +
                      ", the op saw " + std::to_string(seen) +
                      "): its gradient would be wrong. Run the forward pass again after changing it.");
  };
  if (version != recorded_version) changed("its own output", version, recorded_version);
  for (std::size_t j = 0; j < inputs.size() && inputs[j]; ++j)
    if (inputs[j]->version != input_versions[j])
      changed("its input " + std::to_string(j) + " ('" + inputs[j]->op + "')", inputs[j]->version, input_versions[j]);
}

void throw_freed_graph(const NodeBase& node) {
  if (node.graph == NodeBase::Graph::cleared)
    throw graph_error(std::string("backward: the graph behind '") + node.op +
                      "' was released by tape.clear(); run the forward pass again");
  throw graph_error(std::string("backward: the graph behind '") + node.op +
                    "' was freed by an earlier backward; pass {.keep_graph = true} to the first "
                    "backward to run it twice");
}

}  // namespace detail

NoGrad::NoGrad() { ++no_grad_scopes; }
NoGrad::~NoGrad() { --no_grad_scopes; }
bool grad_enabled() { return no_grad_scopes == 0; }

}  // namespace xg
