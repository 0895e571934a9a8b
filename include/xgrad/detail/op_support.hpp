#pragma once
// What every op in ops/ uses: buffers and nodes from the tape's pool, the one entry point through
// which a backward adds to an input's gradient (add_grad, which undoes broadcasting), recording an
// op's result, and shape helpers.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnoalias.hpp>

#include "xgrad/anomaly.hpp"
#include "xgrad/detail/tape_pool.hpp"
#include "xgrad/tensor.hpp"

namespace xg::detail {

template <class S>
shape_type to_shape(const S& s) {
  return shape_type(s.begin(), s.end());
}
// An array's own shape is a shape_type already: no copy (bind the result to a value, not a
// reference, when the argument is a temporary).
inline const shape_type& to_shape(const shape_type& s) { return s; }
static_assert(std::is_same_v<array<float>::shape_type, shape_type>, "xarray's shapes are shape_types");

// The element count of a shape; shape_error naming the op when the product overflows or exceeds
// 2^56 elements (far beyond any memory, and its bytes still fit a size_t), instead of wrapping
// around to a small number.
std::size_t checked_size(const char* op, std::span<const std::size_t> shape);
template <class S>
std::size_t checked_size(const char* op, const S& shape) {
  return checked_size(op, std::span<const std::size_t>(shape.data(), shape.size()));
}

// A buffer for an op's output: taken from the active tape's pool when one of that size is free.
template <class T>
array<T> new_buffer(const shape_type& shape, Tape* tape = Tape::active()) {
  if (tape) return tape->pool().take_buffer<T>(shape);
  checked_size("new_buffer", shape);
  return array<T>::from_shape(shape);
}

// A node for an op's output (or a saved buffer): one the active tape took back, if it has one.
template <class T>
std::shared_ptr<Node<T>> new_node(Tape* tape = Tape::active()) {
  if (tape) return tape->pool().take_node<T>();
  return std::make_shared<Node<T>>();
}

// A buffer an op saves for its backward (batch norm's per-channel statistics, dropout's mask, max's
// positions as std::int64_t). It is held by a node on the active tape, so that tape.clear()
// recycles it like an output; op names whose buffer it is.
template <class T>
std::shared_ptr<Node<T>> saved_buffer(const char* op, const shape_type& shape) {
  Tape* tape = Tape::active();
  array<T> value = new_buffer<T>(shape, tape);  // first, as an op's output: see tape_pool.hpp
  auto node = new_node<T>(tape);
  node->value = std::move(value);
  node->op = op;
  if (tape) tape->record(node);
  return node;
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

// Calls row(i, offset) for each innermost row i of a contiguous row-major tensor of `shape`, with
// offset the position of the row's first element in a smaller tensor of the given strides (0 on the
// dimensions it is broadcast along), walking the outer dimensions like an odometer.
template <class Row>
void for_each_row(std::span<const std::size_t> shape, std::span<const std::size_t> strides, Row&& row) {
  const std::size_t rank = shape.size();
  std::size_t outer = 1;
  for (std::size_t d = 0; d + 1 < rank; ++d) outer *= shape[d];
  shape_type index(rank, 0);
  std::size_t offset = 0;
  for (std::size_t o = 0; o < outer; ++o) {
    row(o, offset);
    for (std::size_t d = rank - 1; d-- > 0;) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

// Strided reductions and their adjoint, for tensors of `shape` (contiguous, row-major) against a
// smaller tensor whose stride for each dimension of `shape` is given (0 where it is broadcast):
// sum_into:       small[offset(i)] += big[i]           (sum over the broadcast dimensions)
// broadcast_into: big[i] += scale * small[offset(i)]   (the gradient of sum_into)
template <class T>
void sum_into(const T* big, std::span<const std::size_t> shape, std::span<const std::size_t> small_strides,
              T* small);
template <class T>
void broadcast_into(const T* small, std::span<const std::size_t> shape,
                    std::span<const std::size_t> small_strides, T* big, T scale = T(1));

// Row-major strides of keep_shape (same rank as the big shape) with 0 where keep_shape has a 1.
shape_type reduced_strides(const shape_type& keep_shape);

// Makes node.grad a buffer of the node's shape for this pass. True when it is fresh (its contents
// undefined: overwrite it), false when it holds a partial gradient (add to it). Only add_grad and
// the backward seed call it. A node from the pool still holds the buffer of its last use: reshaped
// when the element count matches, else swapped for one that does (the old one goes to the pool).
template <class T>
bool claim_grad(Node<T>& node) {
  if (node.has_grad) return false;
  if (node.grad.size() == node.value.size()) {
    node.grad.resize(node.value.shape());
  } else {
    Tape* tape = Tape::active();
    array<T> fitting = new_buffer<T>(to_shape(node.value.shape()), tape);
    if (tape && node.grad.size()) tape->pool().keep_buffer(std::move(node.grad));
    node.grad = std::move(fitting);
  }
  node.has_grad = true;
  return true;
}

// Adds g, laid out over a broadcast of the input's shape, summed back down to that shape.
template <class T>
void add_broadcast_grad(Node<T>& input, const array<T>& g, const char* op);

// The one way a backward adds d(loss)/d(input) to an input's gradient. write(dst, overwrite)
// writes the gradient laid out over `shape` into dst: storing when overwrite is true, adding
// otherwise. `shape` is the input's own shape (dst is then its gradient: a first contribution
// overwrites a fresh buffer, later ones add), or the broadcast shape the op used (dst is then a
// scratch buffer the tape recycles, summed back to the input's shape here, in one place). Inputs
// that need no gradient are skipped: write is not called.
template <class T, class Write>
void add_grad(Node<T>& input, const char* op, const shape_type& shape, Write&& write) {
  if (!input.requires_grad) return;
  const auto& own = input.value.shape();
  if (std::equal(shape.begin(), shape.end(), own.begin(), own.end())) {
    const bool fresh = claim_grad(input);
    write(input.grad.data(), fresh);
    return;
  }
  const auto scratch = saved_buffer<T>(op, shape);
  write(scratch->value.data(), true);
  add_broadcast_grad(input, scratch->value, op);
}

// The same for a gradient given as an xtensor expression (g * out, a where(), a transpose).
template <class T, class E>
  requires xt::is_xexpression<std::decay_t<E>>::value
void add_grad(Node<T>& input, const char* op, const E& e) {
  if (!input.requires_grad) return;
  const shape_type shape = to_shape(e.shape());
  add_grad(input, op, shape, [&](T* dst, bool overwrite) {
    auto view = xt::adapt(dst, checked_size(op, shape), xt::no_ownership(), shape);
    if (overwrite)
      xt::noalias(view) = e;
    else
      xt::noalias(view) += e;
  });
}

// Whether an op's backward reads its inputs' and its own value (most do), or only the incoming
// gradient (add, sub, reshape, sum...). Reads::values makes backward check that none of them was
// changed in place since the op ran.
enum class Reads { values, nothing };

// The node for an op's result. It records on the active tape, with its backward closure, when
// gradients are enabled and some input requires them; otherwise it is a constant.
template <class T, class Inputs, class Backward>
TensorT<T> make_result_of(const char* op, array<T>&& value, const Inputs& inputs, Backward&& backward,
                          Reads reads) {
  Tape* tape = Tape::active();
  auto node = new_node<T>(tape);
  node->value = std::move(value);
  node->op = op;
  if (detect_anomaly() && !node->value_is_finite()) throw_forward_anomaly(*node, inputs);
  std::size_t slot = 0;
  for (const TensorT<T>* in : inputs)
    if (slot < node->inputs.size()) {
      node->inputs[slot] = in->node().get();
      node->input_versions[slot++] = in->node()->version;
    }
  node->reads_values = reads == Reads::values;
  bool needs_grad = false;
  if (tape && grad_enabled())
    for (const auto& in : inputs) needs_grad = needs_grad || in->requires_grad();
  if (needs_grad) {
    for (const TensorT<T>* in : inputs)
      if (!in->node()->grad_ready_hooks.empty()) tape->arm_grad_ready_hooks(in->node());
    node->requires_grad = true;
    node->backward = std::forward<Backward>(backward);
    tape->record(node);
  } else if (tape && node->grad.size()) {
    tape->pool().keep_buffer(std::move(node->grad));  // a constant needs no gradient buffer
  }
  return TensorT<T>(std::move(node));
}

template <class T, class Backward>
TensorT<T> make_result(const char* op, array<T>&& value, std::initializer_list<const TensorT<T>*> inputs,
                       Backward&& backward, Reads reads = Reads::values) {
  return make_result_of<T>(op, std::move(value), inputs, std::forward<Backward>(backward), reads);
}

// For ops with a variable number of inputs (l2_penalty over a parameter list).
template <class T, class Backward>
TensorT<T> make_result(const char* op, array<T>&& value, const std::vector<TensorT<T>>& inputs,
                       Backward&& backward, Reads reads = Reads::values) {
  std::vector<const TensorT<T>*> pointers;
  for (const auto& in : inputs) pointers.push_back(&in);
  return make_result_of<T>(op, std::move(value), pointers, std::forward<Backward>(backward), reads);
}

}  // namespace xg::detail
