#pragma once
// Builders for element-wise ops. unary_op: the forward is an xtensor expression evaluated into a
// pooled buffer, the backward a function of the input node, d(out) and out. binary_op: a value and
// two partial derivatives.
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "xgrad/detail/op_support.hpp"

namespace xg::detail {

template <class T, class Forward, class Backward>
TensorT<T> unary_op(const char* op, const TensorT<T>& x, Forward&& forward, Backward&& backward) {
  array<T> out = new_buffer<T>(to_shape(x.shape()));
  xt::noalias(out) = forward(x.value());
  return make_result<T>(op, std::move(out), {&x},
                        [x = x.node(), backward](const array<T>& g, const array<T>& y) {
                          backward(*x, g, y);
                        });
}

// Adds g * partial(k) to node.grad[k] for every element k (overwriting a freshly claimed buffer).
template <class T, class Partial>
void accumulate_elements(Node<T>& node, const array<T>& g, Partial&& partial) {
  if (!node.requires_grad) return;
  const bool fresh = claim_grad(node);
  T* grad = node.grad.data();
  const T* gy = g.data();
  const std::size_t n = g.size();
  if (fresh)
    for (std::size_t k = 0; k < n; ++k) grad[k] = gy[k] * partial(k);
  else
    for (std::size_t k = 0; k < n; ++k) grad[k] += gy[k] * partial(k);
}

// An element-wise op of two tensors from its value f(x, y) and partial derivatives d_dx(x, y, out)
// and d_dy(x, y, out), each written once as a generic function. When both inputs hold as many
// elements as the output (no broadcasting, the common case, and every scalar op) they run on
// numbers in plain loops; otherwise on xtensor expressions, and accumulate sums the broadcast
// gradient back down.
template <class T, class F, class DX, class DY>
TensorT<T> binary_op(const char* op, const TensorT<T>& a, const TensorT<T>& b, F f, DX d_dx, DY d_dy) {
  const bool same_size = a.size() == b.size() &&
                         std::equal(a.shape().begin(), a.shape().end(), b.shape().begin(), b.shape().end());
  array<T> out = new_buffer<T>(same_size ? to_shape(a.shape())
                                         : broadcast_shapes(op, to_shape(a.shape()), to_shape(b.shape())));
  if (same_size) {
    const T *x = a.value().data(), *y = b.value().data();
    T* o = out.data();
    for (std::size_t k = 0; k < out.size(); ++k) o[k] = f(x[k], y[k]);
  } else {
    xt::noalias(out) = f(a.value(), b.value());
  }
  return make_result<T>(
      op, std::move(out), {&a, &b},
      [a = a.node(), b = b.node(), op, d_dx, d_dy](const array<T>& g, const array<T>& out) {
        const array<T>& x = a->value;
        const array<T>& y = b->value;
        if (x.size() == g.size() && y.size() == g.size()) {
          const T *px = x.data(), *py = y.data(), *po = out.data();
          accumulate_elements(*a, g, [&](std::size_t k) { return d_dx(px[k], py[k], po[k]); });
          accumulate_elements(*b, g, [&](std::size_t k) { return d_dy(px[k], py[k], po[k]); });
        } else {
          accumulate(*a, g * d_dx(x, y, out), op);
          accumulate(*b, g * d_dy(x, y, out), op);
        }
      });
}

}  // namespace xg::detail

// Explicit instantiation for both dtypes of every op a file defines: XG_INSTANTIATE(DECLARE) with
// DECLARE(T) expanding to the declarations for one T.
#define XG_INSTANTIATE(DECLARE) \
  DECLARE(float)                \
  DECLARE(double)
