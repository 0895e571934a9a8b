#pragma once
// What every op in ops/ uses: making an output node, accumulating gradients (undoing broadcasting in
// this one place), strided reductions, axis handling and the BLAS bridge.
#include <algorithm>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>

#include <xtensor/xnoalias.hpp>

#include "xgrad/tensor.hpp"

namespace xg::detail {

// A buffer for an op's output: taken from the active tape's pool when one of that size is free.
template <class T>
array<T> new_buffer(const shape_type& shape) {
  if (Tape* tape = Tape::active()) return tape->take_buffer<T>(shape);
  return array<T>::from_shape(shape);
}

// A node for an op's output (or a saved buffer): one the active tape took back, if it has one.
template <class T>
std::shared_ptr<Node<T>> new_node() {
  if (Tape* tape = Tape::active()) return tape->take_node<T>();
  return std::make_shared<Node<T>>();
}

template <class S>
shape_type to_shape(const S& s) {
  return shape_type(s.begin(), s.end());
}

// NumPy broadcasting of two shapes; throws shape_error naming the op and both shapes.
shape_type broadcast_shapes(const char* op, const shape_type& a, const shape_type& b);

// Normalises a possibly negative axis; throws value_error naming the op, the axis and the rank.
std::size_t normalize_axis(const char* op, long axis, std::size_t rank);

// The view of a shape around one axis as (outer, n, inner) for kernels that work along that axis.
struct AxisSplit {
  std::size_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at_axis(const shape_type& shape, std::size_t axis);

// Strided reductions and their adjoint, for tensors of `shape` (contiguous, row-major) against a
// smaller tensor whose stride for each dimension of `shape` is given (0 where it is broadcast):
// sum_into:       small[offset(i)] += big[i]   (sum over the broadcast dimensions)
// broadcast_into: big[i] += small[offset(i)]   (the gradient of sum_into)
template <class T>
void sum_into(const T* big, std::span<const std::size_t> shape, std::span<const std::size_t> small_strides,
              T* small);
template <class T>
void broadcast_into(const T* small, std::span<const std::size_t> shape,
                    std::span<const std::size_t> small_strides, T* big);

// Row-major strides of keep_shape (same rank as the big shape) with 0 where keep_shape has a 1.
shape_type reduced_strides(const shape_type& keep_shape);

// Adds g, summed down to the node's shape where g was broadcast, to node.grad.
template <class T>
void accumulate_reduced(Node<T>& node, const array<T>& g, const char* op);

// Makes node.grad hold a buffer of the node's shape for this pass. Returns true when the buffer is
// fresh (its contents undefined: the caller overwrites it) and false when it already holds a partial
// gradient (the caller adds to it). Buffers come from the tape's pool, so steps reuse them.
template <class T>
bool claim_grad(Node<T>& node) {
  if (node.has_grad) return false;
  if (node.grad.size() == node.value.size())
    node.grad.resize(node.value.shape());
  else
    node.grad = new_buffer<T>(to_shape(node.value.shape()));
  node.has_grad = true;
  return true;
}

// node.grad, zeroed when claimed fresh: for kernels that add into it.
template <class T>
array<T>& ensure_grad(Node<T>& node) {
  if (claim_grad(node)) node.grad.fill(T(0));
  return node.grad;
}

// A buffer an op saves for its backward (batch norm's per-channel statistics, dropout's mask). It
// is held by a node on the active tape, so that tape.clear() recycles it like an output; op names
// whose buffer it is.
template <class T>
std::shared_ptr<Node<T>> saved_buffer(const char* op, const shape_type& shape) {
  auto node = new_node<T>();
  node->value = new_buffer<T>(shape);
  node->op = op;
  if (Tape* tape = Tape::active()) tape->record(node);
  return node;
}

// Adds the expression e (d(loss)/d(input) as the op computed it) to the input's gradient. Only
// inputs that require gradients are touched; a broadcast input gets the sum over broadcast axes.
template <class T, class E>
void accumulate(Node<T>& node, const E& e, const char* op) {
  if (!node.requires_grad) return;
  const auto& es = e.shape();
  const auto& ns = node.value.shape();
  if (std::equal(es.begin(), es.end(), ns.begin(), ns.end())) {
    if (claim_grad(node))
      xt::noalias(node.grad) = e;
    else
      xt::noalias(node.grad) += e;
  } else if constexpr (std::is_same_v<std::decay_t<E>, array<T>>) {
    accumulate_reduced(node, e, op);  // already evaluated: no copy (a broadcast bias's gradient)
  } else {
    // Evaluated into a buffer the tape recycles (not a fresh array each step), then summed down.
    const auto evaluated = saved_buffer<T>(op, to_shape(es));
    xt::noalias(evaluated->value) = e;
    accumulate_reduced(node, evaluated->value, op);
  }
}

// "[-1.5, 3]" (and how many NaNs): the range of a value, for anomaly reports.
template <class T>
std::string range_string(const array<T>& a);

// Throws numeric_error: op produced NaN/Inf from inputs with the given ranges.
template <class T, class Inputs>
[[noreturn]] void throw_forward_anomaly(const Node<T>& out, const Inputs& inputs) {
  std::string msg = std::string("anomaly: op '") + out.op + "' produced a non-finite value (output range " +
                    range_string(out.value) + ")";
  if (const Tape* tape = Tape::active())
    msg += " at step " + std::to_string(tape->backward_count() + 1) + ", record " + std::to_string(tape->size());
  std::size_t i = 0;
  for (const TensorT<T>* in : inputs)
    msg += "; input " + std::to_string(i++) + " ('" + in->op() + "') range " + range_string(in->value());
  throw numeric_error(msg);
}

// The node for an op's result. It records on the active tape, with its backward closure, when
// gradients are enabled and some input requires them; otherwise it is a constant.
template <class T, class Inputs, class Backward>
TensorT<T> make_result_of(const char* op, array<T>&& value, const Inputs& inputs, Backward&& backward) {
  auto node = new_node<T>();
  node->value = std::move(value);
  node->op = op;
  if (detect_anomaly() && !node->value_is_finite()) throw_forward_anomaly(*node, inputs);
  std::size_t slot = 0;
  for (const TensorT<T>* in : inputs)
    if (slot < node->inputs.size()) node->inputs[slot++] = in->node().get();
  Tape* tape = Tape::active();
  bool needs_grad = false;
  if (tape && grad_enabled())
    for (const auto& in : inputs) needs_grad = needs_grad || in->requires_grad();
  if (needs_grad) {
    node->requires_grad = true;
    node->backward = std::forward<Backward>(backward);
    tape->record(node);
  }
  return TensorT<T>(std::move(node));
}

template <class T, class Backward>
TensorT<T> make_result(const char* op, array<T>&& value,
                       std::initializer_list<const TensorT<T>*> inputs, Backward&& backward) {
  return make_result_of<T>(op, std::move(value), inputs, std::forward<Backward>(backward));
}

// For ops with a variable number of inputs (l2_penalty over a parameter list).
template <class T, class Backward>
TensorT<T> make_result(const char* op, array<T>&& value, const std::vector<TensorT<T>>& inputs,
                       Backward&& backward) {
  std::vector<const TensorT<T>*> pointers;
  for (const auto& in : inputs) pointers.push_back(&in);
  return make_result_of<T>(op, std::move(value), pointers, std::forward<Backward>(backward));
}

// C = alpha * op(A) * op(B) + beta * C, row-major, through BLAS (sgemm/dgemm).
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, const float* b, float beta, float* c);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* a, const double* b, double beta, double* c);

}  // namespace xg::detail
