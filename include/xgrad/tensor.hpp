#pragma once
// Tensor (a cheap handle to a graph node), Node, Tape and the no-grad scope: the core of xgrad.
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "xgrad/config.hpp"  // first: it checks the flags xtensor is about to be compiled with

#include <xtensor/xarray.hpp>

#include "xgrad/detail/inline_function.hpp"
#include "xgrad/errors.hpp"

namespace xg {

template <class T>
using array = xt::xarray<T>;
// Up to four dimensions inline (xtensor's own shape type): shapes cost no allocation.
using shape_type = xt::svector<std::size_t, 4>;

class Tape;

namespace detail {
struct NodeBase {
  virtual ~NodeBase() = default;
  virtual void run_backward() = 0;
  virtual void release_graph() = 0;
  virtual bool value_is_finite() const = 0;
  virtual bool grad_is_finite() const = 0;
  // Hands a node no one else holds back to the tape, which reuses it and its buffers.
  virtual void give_back(Tape& tape, std::shared_ptr<NodeBase> self) = 0;
  // Back to a new node's state, for reuse.
  void reset() {
    op = "leaf";
    requires_grad = has_grad = graph_freed = false;
    tape = nullptr;
    tape_index = 0;
    inputs = {};
  }

  const char* op = "leaf";   // the op that produced this node ("leaf" for inputs and parameters)
  bool requires_grad = false;
  bool has_grad = false;     // grad holds a value (zeroed by zero_grad())
  bool graph_freed = false;  // backward ran and released what the node saved
  const Tape* tape = nullptr;
  std::size_t tape_index = 0;
  // The op's first inputs, for anomaly reports; valid while the graph is alive.
  std::array<const NodeBase*, 4> inputs{};
};
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

  void run_backward() override {
    if (has_grad && backward) backward(grad, value);
  }
  void release_graph() override {
    if (backward) {
      backward = nullptr;
      graph_freed = true;
    }
  }
  void give_back(Tape& tape, std::shared_ptr<detail::NodeBase> self) override;
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
  static TensorT zeros(const shape_type& shape, bool requires_grad = false);
  static TensorT ones(const shape_type& shape, bool requires_grad = false);
  static TensorT full(const shape_type& shape, T v, bool requires_grad = false);

  const array<T>& value() const { return node_->value; }
  // Mutable access for in-place updates of leaves (optimizers, gradient checks).
  array<T>& value() { return node_->value; }
  const array<T>& grad() const;
  array<T>& grad();
  bool has_grad() const { return node_->has_grad; }
  void zero_grad();

  bool requires_grad() const { return node_->requires_grad; }
  TensorT& set_requires_grad(bool on = true);
  // A leaf holding a copy of this value: the graph behind it is cut off.
  TensorT detach() const;

  const auto& shape() const { return node_->value.shape(); }
  shape_type shape_vector() const { return {shape().begin(), shape().end()}; }
  std::size_t dim() const { return node_->value.dimension(); }
  std::size_t size() const { return node_->value.size(); }
  T item() const;  // the value of a one-element tensor
  const char* op() const { return node_->op; }

  const std::shared_ptr<Node<T>>& node() const { return node_; }
  bool same_node(const TensorT& o) const { return node_ == o.node_; }

 private:
  std::shared_ptr<Node<T>> node_;
};

using Tensor = TensorT<float>;
using Tensor64 = TensorT<double>;

struct BackwardOptions {
  bool keep_graph = false;  // keep what the ops saved, so that backward can run again
};

// Records every op applied while it is active on this thread (define-by-run). A Tape becomes active
// when constructed and stops when destroyed; tapes nest. backward() walks the records in reverse
// creation order, a topological order by construction.
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // d(loss)/d(loss) = 1 for a one-element loss.
  template <class T>
  void backward(const TensorT<T>& loss, BackwardOptions options = {});
  // Any output, seeded with d(loss)/d(out) of its shape. The seed's type is deduced, so that a
  // braced `backward(loss, {.keep_graph = true})` can only mean the options.
  template <class T, class Seed>
    requires std::same_as<Seed, array<T>>
  void backward(const TensorT<T>& out, const Seed& seed, BackwardOptions options = {});

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

  static Tape* active();
  void record(std::shared_ptr<detail::NodeBase> node);

  // A buffer of that shape: one that clear() took back from an unreferenced node of the same
  // element count, or a new one.
  template <class T>
  array<T> take_buffer(const shape_type& shape);
  // A fresh node: one that clear() took back, or a new one.
  template <class T>
  std::shared_ptr<Node<T>> take_node();
  // Keeps an unreferenced node's buffers and the node itself for later steps (Node::give_back).
  template <class T>
  void take_back(std::shared_ptr<Node<T>> node);

 private:
  template <class T, class Seed>
  void walk(const TensorT<T>& out, Seed&& seed, BackwardOptions options);

  template <class T>
  struct Pool {
    std::unordered_map<std::size_t, std::vector<array<T>>> buffers;  // by element count
    std::vector<std::shared_ptr<Node<T>>> nodes;
  };
  template <class T>
  Pool<T>& pool();

  std::vector<std::shared_ptr<detail::NodeBase>> nodes_;
  Pool<float> pool_f32_;
  Pool<double> pool_f64_;
  Tape* previous_ = nullptr;
  std::size_t backward_count_ = 0;
};

template <class T>
void Node<T>::give_back(Tape& tape, std::shared_ptr<detail::NodeBase> self) {
  tape.take_back(std::static_pointer_cast<Node<T>>(std::move(self)));
}

// While alive, ops on this thread record nothing and their outputs do not require gradients.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

bool grad_enabled();

// Anomaly mode: every op's output and every gradient backward computes is checked for NaN/Inf, and
// the first bad one throws xg::numeric_error naming the op, the step and the input ranges. Off by
// default; when off it costs one branch per op.
void set_detect_anomaly(bool on);
bool detect_anomaly();

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
