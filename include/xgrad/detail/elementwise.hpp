#pragma once
// Builders for element-wise ops. unary_op: the forward is an xtensor expression evaluated into a
// pooled buffer, the backward a function of the input node, d(out) and out. binary_op: a value and
// two partial derivatives. map_op: a value and a derivative of one number, both plain loops.
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "xgrad/detail/op_support.hpp"
#include "xgrad/detail/parallel.hpp"

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

// Adds grad_of(k) to node.grad[k] for every element k (overwriting a freshly claimed buffer), in
// parallel above the grain.
template <class T, class GradOf>
void accumulate_elements(Node<T>& node, GradOf&& grad_of) {
  if (!node.requires_grad) return;
  const bool fresh = claim_grad(node);
  T* grad = node.grad.data();
  parallel_ranges(node.grad.size(), [&](std::size_t begin, std::size_t end) {
    if (fresh)
      for (std::size_t k = begin; k < end; ++k) grad[k] = grad_of(k);
    else
      for (std::size_t k = begin; k < end; ++k) grad[k] += grad_of(k);
  });
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
    parallel_ranges(out.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = begin; k < end; ++k) o[k] = f(x[k], y[k]);
    });
  } else {
    xt::noalias(out) = f(a.value(), b.value());
  }
  return make_result<T>(
      op, std::move(out), {&a, &b},
      [a = a.node(), b = b.node(), op, d_dx, d_dy](const array<T>& g, const array<T>& out) {
        const array<T>& x = a->value;
        const array<T>& y = b->value;
        if (x.size() == g.size() && y.size() == g.size()) {
          const T *px = x.data(), *py = y.data(), *po = out.data(), *gy = g.data();
          accumulate_elements(*a, [&](std::size_t k) { return gy[k] * d_dx(px[k], py[k], po[k]); });
          accumulate_elements(*b, [&](std::size_t k) { return gy[k] * d_dy(px[k], py[k], po[k]); });
        } else {
          accumulate(*a, g * d_dx(x, y, out), op);
          accumulate(*b, g * d_dy(x, y, out), op);
        }
      });
}

// out[i] = forward(x[i]); backward writes d(x)[i] = backward(g[i], x[i], out[i]) straight into x's
// gradient, with no expression or temporary in between. Both are loops the compiler vectorises,
// parallel above the grain. Not for exp and the like: the compiler keeps those scalar, while xsimd
// vectorises them in unary_op's expressions.
template <class T, class Forward, class Backward>
TensorT<T> map_op(const char* op, const TensorT<T>& x, Forward forward, Backward backward) {
  array<T> out = new_buffer<T>(to_shape(x.shape()));
  const T* in = x.value().data();
  T* y = out.data();
  parallel_ranges(out.size(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) y[i] = forward(in[i]);
  });
  return make_result<T>(op, std::move(out), {&x}, [x = x.node(), backward](const array<T>& g, const array<T>& out) {
    const T *gy = g.data(), *in = x->value.data(), *y = out.data();
    accumulate_elements(*x, [&](std::size_t i) { return backward(gy[i], in[i], y[i]); });
  });
}

}  // namespace xg::detail

// Explicit instantiation for both dtypes of every op a file defines: XG_INSTANTIATE(DECLARE) with
// DECLARE(T) expanding to the declarations for one T.
#define XG_INSTANTIATE(DECLARE) \
  DECLARE(float)                \
  DECLARE(double)
