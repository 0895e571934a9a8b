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

// The elements of an operand that the output repeats row after row: the operand's shape, leading
// 1s aside, is the output's trailing dimensions (a bias over rows, a scalar). 0 when it is not.
template <class S>
std::size_t repeated_row(const S& operand, std::size_t operand_size, const shape_type& out) {
  std::size_t lead = 0;
  while (lead < operand.size() && operand[lead] == 1) ++lead;
  const std::size_t rank = operand.size() - lead;
  if (rank > out.size() || !std::equal(operand.begin() + lead, operand.end(), out.end() - rank)) return 0;
  return operand_size;
}

// Calls body(k, i, j) for every output element k of n, with i and j the elements of the operands
// it reads: k for an operand of n elements, k mod m for one of m that repeats over rows. Parallel
// above the grain when neither repeats.
template <class Body>
void for_each_output(std::size_t n, std::size_t ma, std::size_t mb, Body&& body) {
  const std::size_t m = std::min(ma, mb);
  if (m == n) {
    parallel_ranges(n, [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = begin; k < end; ++k) body(k, k, k);
    });
    return;
  }
  for (std::size_t base = 0; base < n; base += m)
    for (std::size_t j = 0; j < m; ++j) body(base + j, ma == n ? base + j : j, mb == n ? base + j : j);
}

// An element-wise op of two tensors from its value f(x, y) and partial derivatives d_dx(x, y, out)
// and d_dy(x, y, out), each written once as a generic function. When one operand has the output's
// elements and the other the same or a repeated row of them (no broadcasting, a bias, a scalar:
// nearly every use) they run on numbers in plain loops; otherwise on xtensor expressions, and
// accumulate sums the broadcast gradient back down.
template <class T, class F, class DX, class DY>
TensorT<T> binary_op(const char* op, const TensorT<T>& a, const TensorT<T>& b, F f, DX d_dx, DY d_dy) {
  const bool same_shape = std::equal(a.shape().begin(), a.shape().end(), b.shape().begin(), b.shape().end());
  const shape_type shape = same_shape ? to_shape(a.shape()) : broadcast_shapes(op, to_shape(a.shape()), to_shape(b.shape()));
  array<T> out = new_buffer<T>(shape);
  const std::size_t n = out.size();
  const std::size_t ma = a.size() == n ? n : repeated_row(a.shape(), a.size(), shape);
  const std::size_t mb = b.size() == n ? n : repeated_row(b.shape(), b.size(), shape);
  const bool loops = ma && mb && (ma == n || mb == n);
  if (loops) {
    const T *x = a.value().data(), *y = b.value().data();
    T* o = out.data();
    for_each_output(n, ma, mb, [&](std::size_t k, std::size_t i, std::size_t j) { o[k] = f(x[i], y[j]); });
  } else {
    xt::noalias(out) = f(a.value(), b.value());
  }
  return make_result<T>(
      op, std::move(out), {&a, &b},
      [a = a.node(), b = b.node(), op, d_dx, d_dy, n, ma, mb, loops](const array<T>& g, const array<T>& out) {
        const array<T>& x = a->value;
        const array<T>& y = b->value;
        if (!loops) {
          accumulate(*a, g * d_dx(x, y, out), op);
          accumulate(*b, g * d_dy(x, y, out), op);
          return;
        }
        const T *px = x.data(), *py = y.data(), *po = out.data(), *gy = g.data();
        // d(loss)/d(input) = g * partial, summed over the rows an input repeats over. A fresh
        // gradient of the output's size is overwritten; any other is added to.
        const auto add_grad = [&](Node<T>& node, std::size_t m, auto pick, auto partial) {
          if (!node.requires_grad) return;
          const bool overwrite = m == n && claim_grad(node);
          T* grad = ensure_grad(node).data();
          for_each_output(n, ma, mb, [&](std::size_t k, std::size_t i, std::size_t j) {
            const T d = gy[k] * partial(px[i], py[j], po[k]);
            T& slot = grad[pick(i, j)];
            slot = overwrite ? d : slot + d;
          });
        };
        add_grad(*a, ma, [](std::size_t i, std::size_t) { return i; }, d_dx);
        add_grad(*b, mb, [](std::size_t, std::size_t j) { return j; }, d_dy);
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
