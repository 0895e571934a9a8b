#include <algorithm>
#include <atomic>

#include "xgrad/detail/op_support.hpp"
#include "xgrad/tensor.hpp"

namespace xg {

namespace {
thread_local Tape* active_tape = nullptr;
thread_local bool grad_on = true;
std::atomic<bool> anomaly_on{false};

[[noreturn]] void throw_backward_anomaly(const detail::NodeBase& node, std::size_t input, std::size_t step) {
  throw numeric_error(std::string("anomaly: the backward of op '") + node.op + "' (record " +
                      std::to_string(node.tape_index) + ", step " + std::to_string(step) +
                      ") produced a non-finite gradient for its input " + std::to_string(input) + " ('" +
                      node.inputs[input]->op + "')");
}
}  // namespace

void set_detect_anomaly(bool on) { anomaly_on.store(on, std::memory_order_relaxed); }
bool detect_anomaly() { return anomaly_on.load(std::memory_order_relaxed); }

Tape::Tape() : previous_(active_tape) { active_tape = this; }

Tape::~Tape() {
  for (auto& n : nodes_) n->tape = nullptr;
  active_tape = previous_;
}

Tape* Tape::active() { return active_tape; }

void Tape::record(std::shared_ptr<detail::NodeBase> node) {
  node->tape = this;
  node->tape_index = nodes_.size();
  nodes_.push_back(std::move(node));
}

template <class T>
Tape::Pool<T>& Tape::pool() {
  if constexpr (std::is_same_v<T, float>)
    return pool_f32_;
  else
    return pool_f64_;
}

template <class T>
array<T> Tape::take_buffer(const shape_type& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  auto it = pool<T>().buffers.find(n);
  if (it == pool<T>().buffers.end() || it->second.empty()) return array<T>::from_shape(shape);
  array<T> buffer = std::move(it->second.back());
  it->second.pop_back();
  buffer.resize(shape);  // same element count: the storage is kept
  return buffer;
}

template <class T>
std::shared_ptr<Node<T>> Tape::take_node() {
  auto& spare = pool<T>().nodes;
  if (spare.empty()) return std::make_shared<Node<T>>();
  std::shared_ptr<Node<T>> node = std::move(spare.back());
  spare.pop_back();
  return node;
}

template <class T>
void Tape::take_back(std::shared_ptr<Node<T>> node) {
  auto& buffers = pool<T>().buffers;
  // Moved-from arrays are empty (size 0): what a node holds before an op fills it.
  if (node->value.size()) buffers[node->value.size()].push_back(std::move(node->value));
  if (node->grad.size()) buffers[node->grad.size()].push_back(std::move(node->grad));
  node->reset();
  pool<T>().nodes.push_back(std::move(node));
}

void Tape::clear() {
  for (auto& n : nodes_) n->release_graph();
  for (auto& n : nodes_) {
    n->tape = nullptr;
    if (n.use_count() == 1) {  // nobody else holds it: it and its buffers serve the next step
      detail::NodeBase& node = *n;
      node.give_back(*this, std::move(n));
    }
  }
  nodes_.clear();
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
  walk(loss, [](array<T>& grad) { grad.data()[0] += T(1); }, options);
}

template <class T, class Seed>
  requires std::same_as<Seed, array<T>>
void Tape::backward(const TensorT<T>& out, const Seed& seed, BackwardOptions options) {
  if (!std::equal(seed.shape().begin(), seed.shape().end(), out.shape().begin(), out.shape().end()))
    throw shape_error("backward: seed of shape " + shape_string(seed.shape()) +
                      " for an output of shape " + shape_string(out.shape()));
  walk(out, [&](array<T>& grad) { xt::noalias(grad) += seed; }, options);
}

template <class T, class Seed>
void Tape::walk(const TensorT<T>& out, Seed&& seed, BackwardOptions options) {
  const auto& node = out.node();
  if (node->graph_freed)
    throw graph_error(std::string("backward: the graph behind '") + node->op +
                      "' was freed by an earlier backward; pass {.keep_graph = true} to the "
                      "first backward to run it twice");
  if (node->tape != this || node->tape_index >= nodes_.size() ||
      nodes_[node->tape_index].get() != node.get())
    throw graph_error(std::string("backward: the tensor (op '") + node->op +
                      "') is not on this tape; record it while the tape is active, with an "
                      "input that requires gradients");

  const std::size_t last = node->tape_index;
  // Gradients of recorded (intermediate) nodes belong to one backward pass only.
  for (std::size_t i = 0; i <= last; ++i) nodes_[i]->has_grad = false;
  seed(detail::ensure_grad(*node));
  ++backward_count_;
  const bool check = detect_anomaly();
  for (std::size_t i = last + 1; i-- > 0;) {
    nodes_[i]->run_backward();
    if (check)
      for (std::size_t j = 0; j < nodes_[i]->inputs.size() && nodes_[i]->inputs[j]; ++j)
        if (!nodes_[i]->inputs[j]->grad_is_finite()) throw_backward_anomaly(*nodes_[i], j, backward_count_);
  }
  if (!options.keep_graph)
    for (std::size_t i = 0; i <= last; ++i) nodes_[i]->release_graph();
}

template array<float> Tape::take_buffer<float>(const shape_type&);
template array<double> Tape::take_buffer<double>(const shape_type&);
template std::shared_ptr<Node<float>> Tape::take_node<float>();
template std::shared_ptr<Node<double>> Tape::take_node<double>();
template void Tape::take_back<float>(std::shared_ptr<Node<float>>);
template void Tape::take_back<double>(std::shared_ptr<Node<double>>);
template void Tape::backward<float>(const TensorT<float>&, BackwardOptions);
template void Tape::backward<double>(const TensorT<double>&, BackwardOptions);
template void Tape::backward<float, array<float>>(const TensorT<float>&, const array<float>&, BackwardOptions);
template void Tape::backward<double, array<double>>(const TensorT<double>&, const array<double>&, BackwardOptions);

NoGrad::NoGrad() : previous_(grad_on) { grad_on = false; }
NoGrad::~NoGrad() { grad_on = previous_; }
bool grad_enabled() { return grad_on; }

}  // namespace xg
