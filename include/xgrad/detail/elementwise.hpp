#pragma once
// Element-wise ops, each defined by its value and its local derivative(s): unary_op(f, df) and
// binary_op(f, d_dx, d_dy). Backward multiplies the incoming gradient by the local derivative and
// hands it to add_grad, which owns overwriting, adding and undoing broadcasting.
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "xgrad/detail/op_support.hpp"
#include "xgrad/detail/parallel.hpp"

namespace xg::detail {

// How an element-wise op runs. loops: f and df are called on numbers in plain loops, which the
// compiler vectorises and TBB splits above the grain (relu, affine, pow). expressions: f and df are
// called on whole xtensor expressions, which xsimd vectorises (exp, log, tanh: the compiler keeps
// those scalar in plain loops).
enum class Kernel { loops, expressions };

// out = f(x); d(loss)/dx = g * df(x, out).
template <Kernel kernel, class T, class F, class DF>
TensorT<T> unary_op(const char* op, const TensorT<T>& x, F f, DF df, Reads reads = Reads::values) {
  array<T> out = new_buffer<T>(to_shape(x.shape()));
  if constexpr (kernel == Kernel::loops) {
    const T* in = x.value().data();
    T* y = out.data();
    parallel_ranges(out.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) y[i] = f(in[i]);
    });
  } else {
    xt::noalias(out) = f(x.value());
  }
  return make_result<T>(
      op, std::move(out), {&x},
      [x = x.node(), op, df](const array<T>& g, const array<T>& out) {
        if constexpr (kernel == Kernel::loops) {
          add_grad(*x, op, to_shape(out.shape()), [&](T* dst, bool overwrite) {
            const T *gy = g.data(), *in = x->value.data(), *y = out.data();
            parallel_ranges(out.size(), [&](std::size_t begin, std::size_t end) {
              if (overwrite)
                for (std::size_t i = begin; i < end; ++i) dst[i] = gy[i] * df(in[i], y[i]);
              else
                for (std::size_t i = begin; i < end; ++i) dst[i] += gy[i] * df(in[i], y[i]);
            });
          });
        } else {
          add_grad(*x, op, g * df(x->value, out));
        }
      },
      reads);
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

// out = f(x, y); d(loss)/dx = g * d_dx(x, y, out), d(loss)/dy = g * d_dy(x, y, out), each written
// once as a generic function of numbers or arrays. When one operand has the output's elements and
// the other the same or a repeated row of them (no broadcasting, a bias, a scalar: nearly every
// use) they run on numbers in plain loops; otherwise on xtensor expressions. Either way add_grad
// sums a broadcast operand's gradient back down.
template <class T, class F, class DX, class DY>
TensorT<T> binary_op(const char* op, const TensorT<T>& a, const TensorT<T>& b, F f, DX d_dx, DY d_dy,
                     Reads reads = Reads::values) {
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
          add_grad(*a, op, g * d_dx(x, y, out));
          add_grad(*b, op, g * d_dy(x, y, out));
          return;
        }
        const T *px = x.data(), *py = y.data(), *po = out.data(), *gy = g.data();
        // g * partial over the output's shape; an operand that repeats over rows gets it summed.
        const auto add_partial = [&](Node<T>& node, auto partial) {
          add_grad(node, op, to_shape(out.shape()), [&](T* dst, bool overwrite) {
            for_each_output(n, ma, mb, [&](std::size_t k, std::size_t i, std::size_t j) {
              const T d = gy[k] * partial(px[i], py[j], po[k]);
              dst[k] = overwrite ? d : dst[k] + d;
            });
          });
        };
        add_partial(*a, d_dx);
        add_partial(*b, d_dy);
      },
      reads);
}

}  // namespace xg::detail

// Explicit instantiation for both dtypes of every op a file defines: XG_INSTANTIATE(DECLARE) with
// DECLARE(T) expanding to the declarations for one T.
#define XG_INSTANTIATE(DECLARE) \
  DECLARE(float)                \
  DECLARE(double)
