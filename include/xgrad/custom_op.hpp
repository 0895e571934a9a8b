#pragma once
// Differentiable ops defined outside the library, as torch.autograd.Function or jax.custom_vjp:
// the caller computes the forward value, and a backward maps d(loss)/d(out) to a gradient per
// input. Built on the same recording and gradient entry point as the built-in ops, so it records
// on the active tape, respects NoGrad, sums broadcast gradients back down and is checked against
// in-place changes of its inputs; xg::gradcheck checks it like any op.
#include <optional>
#include <string>
#include <vector>

#include "xgrad/detail/op_support.hpp"

namespace xg {

// One entry per input: its gradient (of the input's shape, or of a shape it was broadcast to), or
// std::nullopt for an input that gets none (an index, a constant).
template <class T>
using InputGradients = std::vector<std::optional<array<T>>>;

// name: a string literal (it is kept, not copied), shown in errors and anomaly reports.
// backward(grad_out, out) -> InputGradients<T>, called during Tape::backward with d(loss)/d(out)
// and the output value. It may capture what it needs (copies or the inputs themselves).
template <class T, class Backward>
TensorT<T> custom_op(const char* name, array<T> value, const std::vector<TensorT<T>>& inputs, Backward backward) {
  std::vector<std::shared_ptr<Node<T>>> nodes;
  for (const auto& in : inputs) nodes.push_back(in.node());
  return detail::make_result<T>(
      name, std::move(value), inputs,
      [name, nodes = std::move(nodes), backward = std::move(backward)](const array<T>& g, const array<T>& out) mutable {
        const InputGradients<T> grads = backward(g, out);
        if (grads.size() != nodes.size())
          throw graph_error(std::string(name) + ": backward returned " + std::to_string(grads.size()) +
                            " gradients for " + std::to_string(nodes.size()) + " inputs");
        for (std::size_t i = 0; i < nodes.size(); ++i)
          if (grads[i]) detail::add_grad(*nodes[i], name, *grads[i]);
      });
}

}  // namespace xg
