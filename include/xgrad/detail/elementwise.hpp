#pragma once
// Builders for element-wise ops: the forward is an xtensor expression evaluated into a pooled
// buffer, the backward a function of the input node(s), d(out) and out.
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

template <class T, class Forward, class Backward>
TensorT<T> binary_op(const char* op, const TensorT<T>& a, const TensorT<T>& b, Forward&& forward,
                     Backward&& backward) {
  array<T> out = new_buffer<T>(broadcast_shapes(op, to_shape(a.shape()), to_shape(b.shape())));
  xt::noalias(out) = forward(a.value(), b.value());
  return make_result<T>(op, std::move(out), {&a, &b},
                        [a = a.node(), b = b.node(), backward](const array<T>& g, const array<T>& y) {
                          backward(*a, *b, g, y);
                        });
}

}  // namespace xg::detail

// Explicit instantiation for both dtypes of every op a file defines: XG_INSTANTIATE(DECLARE) with
// DECLARE(T) expanding to the declarations for one T.
#define XG_INSTANTIATE(DECLARE) \
  DECLARE(float)                \
  DECLARE(double)
