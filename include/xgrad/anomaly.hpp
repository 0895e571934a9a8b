#pragma once
// Anomaly mode: every op's output and every gradient backward computes is checked for NaN/Inf, and
// the first bad one throws xg::numeric_error naming the op, the step and the input ranges. Off by
// default; when off it costs one branch per op.
#include <string>

#include "xgrad/tensor.hpp"

namespace xg {

void set_detect_anomaly(bool on);
bool detect_anomaly();

namespace detail {
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

// After a node's backward in anomaly mode: throws numeric_error when it gave one of its inputs a
// non-finite gradient, naming the op, its record and the step.
void check_backward_anomaly(const NodeBase& node, std::size_t step);
}  // namespace detail

}  // namespace xg
