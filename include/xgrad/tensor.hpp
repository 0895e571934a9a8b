#pragma once
// The core of xgrad: Tensor (a cheap handle to a graph node), Node, Tape (records each op as it runs
// and walks the records backward) and the no-grad scope. Ops build on it through
// detail/op_support.hpp; the tape's node and buffer pools live in detail/tape_pool.hpp.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/config.hpp"  // first: it checks the flags xtensor is about to be compiled with

#include <xtensor/xarray.hpp>

#include "xgrad/detail/inline_function.hpp"
#include "xgrad/errors.hpp"

// A thread_local that the library reads on every op. In a shared library the default TLS model
// reaches it through a call to __tls_get_addr; the initial-exec model reads it at a fixed offset
// from the thread pointer. Its cost: a library loaded with dlopen takes these few bytes from
// glibc's reserve of static TLS, which is there for exactly that.
#define XG_THREAD_LOCAL [[gnu::tls_model("initial-exec")]] thread_local

namespace xg {

template <class T>
using array = xt::xarray<T>;
// Up to four dimensions inline (xtensor's own shape type): shapes cost no allocation.
using shape_type = xt::svector<std::size_t, 4>;

class Tape;
template <class T>
struct Node;

namespace detail {
class TapePool;
// Keeps a node no one holds, and its buffers, for later steps (defined in tape_pool.cpp).
template <class T>
void return_to_pool(TapePool& pool, std::shared_ptr<Node<T>> node);

// What every node holds besides its value, with a new node's defaults (reset() restores them).
struct NodeFields {
  const char* op = "leaf";   // the op that produced this node ("leaf" for inputs and parameters)
  bool requires_grad = false;
  bool has_grad = false;     // grad holds this pass's value (zero_grad() clears it)
  // What became of the op's backward: it runs while live; backward or tape.clear() released it.
  enum class Graph : unsigned char { live, freed_by_backward, cleared } graph = Graph::live;
  bool reads_values = true;  // backward reads its inputs' and its own value: check their versions
  const Tape* tape = nullptr;
  std::size_t tape_index = 0;
  // Bumped by every in-place change of the value (TensorT::mutable_value), as PyTorch's version
  // counter: backward refuses to use a value that changed after the op read it.
  std::uint64_t version = 0;
  std::uint64_t recorded_version = 0;
  // The op's first inputs and their versions when it ran: anomaly reports and version checks.
  std::array<const struct NodeBase*, 4> inputs{};
  std::array<std::uint64_t, 4> input_versions{};
  // Called during backward as soon as this leaf's gradient is final (TensorT::add_grad_ready_hook).
  std::vector<std::pair<std::size_t, std::function<void()>>> grad_ready_hooks;
  const Tape* first_use_tape = nullptr;  // the tape on which the hooks are armed
};

struct NodeBase : NodeFields {
  virtual ~NodeBase() = default;
  virtual void run_backward() = 0;
  virtual void release_graph(Graph why) = 0;
  virtual bool value_is_finite() const = 0;
  virtual bool grad_is_finite() const = 0;
  // Hands a node no one else holds back to the pool, which reuses it and its buffers.
  virtual void give_back(TapePool& pool, std::shared_ptr<NodeBase> self) = 0;
  void reset() { static_cast<NodeFields&>(*this) = NodeFields{}; }
  // Throws graph_error when backward would read a value changed since the op ran.
  void check_versions() const;
};

[[noreturn]] void throw_freed_graph(const NodeBase& node);

// Empties a backward closure without recursion: the closure holds its inputs' nodes, whose
// closures hold theirs, so destroying a chain of 300k ops recursively would overflow the stack. While
// one closure is being destroyed, the closures it releases wait in a queue and go one at a time.
template <class Closure>
void destroy_iteratively(Closure& closure) {
  XG_THREAD_LOCAL std::vector<Closure> pending;
  XG_THREAD_LOCAL bool draining = false;
  if (draining) {
    pending.push_back(std::move(closure));
    return;
  }
  draining = true;
  closure = nullptr;  // in place: the closure is empty before its captures go
  while (!pending.empty()) {
    Closure next = std::move(pending.back());
    pending.pop_back();
  }
  draining = false;
}
}  // namespace detail

// One value in the graph. An op's backward receives d(loss)/d(out) and the output value (so that
// ops like exp or sigmoid need not save it) and adds to its inputs' gradients.
template <class T>
struct Node final : detail::NodeBase {
  // Room for the captures of every op's closure (its input nodes and a few numbers), so that
  // recording an op allocates nothing.
  using backward_fn = detail::InlineFunction<void(const array<T>& grad_out, const array<T>& out), 128>;

  // Empty until an op fills them: a default xarray would allocate one element.
  array<T> value = array<T>::from_shape({0});
  array<T> grad = array<T>::from_shape({0});
  backward_fn backward;

  ~Node() override { release_graph(Graph::cleared); }
  void run_backward() override {
    if (!has_grad) return;
    if (!backward) {
      if (graph != Graph::live) detail::throw_freed_graph(*this);
      return;
    }
    if (reads_values) check_versions();
    backward(grad, value);
  }
  void release_graph(Graph why) override {
    if (!backward) return;
    graph = why;
    detail::destroy_iteratively(backward);
  }
  void give_back(detail::TapePool& pool, std::shared_ptr<detail::NodeBase> self) override {
    detail::return_to_pool(pool, std::static_pointer_cast<Node<T>>(std::move(self)));
  }
  bool value_is_finite() const override { return all_finite(value); }
  bool grad_is_finite() const override { return !has_grad || all_finite(grad); }
  static bool all_finite(const array<T>& a) {
    for (const T& x : a)
      if (!std::isfinite(x)) return false;
    return true;
  }
};

template <class T>
class TensorT {
 public:
  using value_type = T;

  TensorT();
  explicit TensorT(array<T> value, bool requires_grad = false);
  explicit TensorT(std::shared_ptr<Node<T>> node) : node_(std::move(node)) {}

  static TensorT scalar(T v, bool requires_grad = false);
  // Shapes whose element count overflows, or exceeds what can be addressed, throw shape_error.
  static TensorT zeros(const shape_type& shape, bool requires_grad = false);
  static TensorT ones(const shape_type& shape, bool requires_grad = false);
  static TensorT full(const shape_type& shape, T v, bool requires_grad = false);

  const array<T>& value() const { return node_->value; }
  // For in-place changes (optimizers, gradient checks, data loading). It bumps the version: a
  // backward that would read the old value throws graph_error instead of computing a wrong gradient.
  array<T>& mutable_value() const;
  const array<T>& grad() const;
  array<T>& grad();
  bool has_grad() const { return node_->has_grad; }
  void zero_grad();

  bool requires_grad() const { return node_->requires_grad; }
  TensorT& set_requires_grad(bool on = true);
  // A leaf holding a copy of this value: the graph behind it is cut off.
  TensorT detach() const;

  // hook() runs during every backward as soon as this leaf's gradient is final, i.e. right after
  // the last op that contributes to it has run (PyTorch's register_post_accumulate_grad_hook): an
  // optimizer can update the parameter while its gradient is in cache, a data-parallel wrapper can
  // start reducing it. Returns an id for remove_grad_ready_hook.
  std::size_t add_grad_ready_hook(std::function<void()> hook);
  void remove_grad_ready_hook(std::size_t id);

  const auto& shape() const { return node_->value.shape(); }
  shape_type shape_vector() const { return {shape().begin(), shape().end()}; }
  std::size_t dim() const { return node_->value.dimension(); }
  std::size_t size() const { return node_->value.size(); }
  T item() const;  // the value of a one-element tensor
  const char* op() const { return node_->op; }

  const std::shared_ptr<Node<T>>& node() const { return node_; }

 private:
  std::shared_ptr<Node<T>> node_;
};

using Tensor = TensorT<float>;
using Tensor64 = TensorT<double>;

struct BackwardOptions {
  bool keep_graph = false;  // keep what the ops saved, so that backward can run again
};

// Records every op applied while it is active on this thread (define-by-run). A Tape becomes active
// when constructed and stops when destroyed; tapes nest, and may be destroyed in any order (the
// newest one alive is active). backward() walks the records in reverse creation order, a
// topological order by construction.
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // d(loss)/d(loss) = 1 for a one-element loss.
  template <class T>
  void backward(const TensorT<T>& loss, BackwardOptions options = {});
  // Any output, seeded with d(loss)/d(out) of its shape (an array or any xtensor expression). A
  // template on the expression, so that backward(loss, {.keep_graph = true}) is not ambiguous.
  template <class T, class E>
  void backward(const TensorT<T>& out, const xt::xexpression<E>& seed, BackwardOptions options = {}) {
    if constexpr (std::is_same_v<E, array<T>>)
      backward_seeded(out, seed.derived_cast(), options);
    else
      backward_seeded(out, array<T>(seed.derived_cast()), options);
  }

  // Forget every record. Output buffers no one else holds are kept for the next step's ops, so a
  // training loop that reuses one tape allocates nothing for shapes that repeat.
  void clear();
  std::size_t size() const { return nodes_.size(); }

  struct Record {
    std::size_t index;  // position in creation order
    const char* op;
  };
  // The first recorded op whose output holds a NaN or Inf, if any: where a bad loss came from.
  std::optional<Record> first_non_finite() const;

  // Backward passes run on this tape so far: the "step" that anomaly reports name.
  std::size_t backward_count() const { return backward_count_; }

  // The newest tape alive on this thread, or nullptr.
  static Tape* active();
  void record(std::shared_ptr<detail::NodeBase> node);
  // The op about to be recorded uses this leaf, which has grad-ready hooks.
  void arm_grad_ready_hooks(std::shared_ptr<detail::NodeBase> leaf);
  detail::TapePool& pool() { return *pool_; }

 private:
  template <class T>
  void backward_seeded(const TensorT<T>& out, const array<T>& seed, BackwardOptions options);
  template <class T, class Seed>
  void walk(const TensorT<T>& out, Seed&& seed, BackwardOptions options);
  void warn_if_growing();

  std::vector<std::shared_ptr<detail::NodeBase>> nodes_;
  // Leaves with grad-ready hooks, by the index of the first op that used them: their gradient is
  // final once the walk has run that op.
  std::vector<std::pair<std::size_t, std::shared_ptr<detail::NodeBase>>> first_uses_;
  std::unique_ptr<detail::TapePool> pool_;
  std::shared_ptr<struct ActiveTapeEntry> active_entry_;
  std::size_t backward_count_ = 0;
  std::size_t size_at_first_backward_ = 0;
  bool warned_growing_ = false;
};

// While alive, ops on this thread record nothing and their outputs do not require gradients. Scopes
// may end in any order: gradients are on again once every NoGrad of the thread has ended.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
};

bool grad_enabled();

// "(2, 3)": shapes in error messages.
template <class S>
std::string shape_string(const S& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

}  // namespace xg
