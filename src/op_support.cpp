#include "xgrad/detail/op_support.hpp"

#include <cmath>
#include <limits>

namespace xg::detail {

std::size_t checked_size(const char* op, std::span<const std::size_t> shape) {
  constexpr std::size_t limit = std::size_t(1) << 56;  // its bytes fit a size_t for any element type
  std::size_t n = 1;
  bool over = false;
  for (std::size_t d : shape) {
    if (d == 0) return 0;
    if (d > limit || n > limit / d) over = true;
    else n *= d;
  }
  if (over)
    throw shape_error(std::string(op) + ": shape " + shape_string(shape) + " holds more than 2^56 elements");
  return n;
}

shape_type broadcast_shapes(const char* op, const shape_type& a, const shape_type& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  shape_type out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw shape_error(std::string(op) + ": shapes " + shape_string(a) + " and " + shape_string(b) +
                        " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::size_t normalize_axis(const char* op, long axis, std::size_t rank) {
  const long r = static_cast<long>(rank);
  if (axis < -r || axis >= r)
    throw value_error(std::string(op) + ": axis " + std::to_string(axis) +
                      " is out of range for a tensor of rank " + std::to_string(rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

AxisSplit split_at_axis(const shape_type& shape, std::size_t axis) {
  AxisSplit s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i < axis) s.outer *= shape[i];
    else if (i == axis) s.n = shape[i];
    else s.inner *= shape[i];
  }
  return s;
}

template <class T>
void sum_into(const T* big, std::span<const std::size_t> shape, std::span<const std::size_t> strides, T* small) {
  if (shape.empty()) {
    small[0] += big[0];
    return;
  }
  const std::size_t n = shape.back(), s = strides.back();
  for_each_row(shape, strides, [&](std::size_t row, std::size_t offset) {
    const T* src = big + row * n;
    T* dst = small + offset;
    if (s == 0) {
      T acc = 0;
      for (std::size_t i = 0; i < n; ++i) acc += src[i];
      dst[0] += acc;
    } else {
      for (std::size_t i = 0; i < n; ++i) dst[i * s] += src[i];
    }
  });
}

template <class T>
void broadcast_into(const T* small, std::span<const std::size_t> shape, std::span<const std::size_t> strides,
                    T* big, T scale) {
  if (shape.empty()) {
    big[0] += scale * small[0];
    return;
  }
  const std::size_t n = shape.back(), s = strides.back();
  for_each_row(shape, strides, [&](std::size_t row, std::size_t offset) {
    T* dst = big + row * n;
    const T* src = small + offset;
    for (std::size_t i = 0; i < n; ++i) dst[i] += scale * src[i * s];
  });
}

shape_type reduced_strides(const shape_type& keep_shape) {
  shape_type strides(keep_shape.size(), 0);
  std::size_t stride = 1;
  for (std::size_t i = keep_shape.size(); i-- > 0;) {
    strides[i] = keep_shape[i] == 1 ? 0 : stride;
    stride *= keep_shape[i];
  }
  return strides;
}

template <class T>
void add_broadcast_grad(Node<T>& node, const array<T>& g, const char* op) {
  const auto& gs = g.shape();
  const auto& ns = node.value.shape();
  const std::size_t lead = gs.size() >= ns.size() ? gs.size() - ns.size() : 0;
  bool ok = gs.size() >= ns.size();
  // Row-major strides of the node's gradient, lined up with g's dimensions; 0 where summed away.
  shape_type strides(gs.size(), 0);
  std::size_t stride = 1;
  for (std::size_t i = ns.size(); ok && i-- > 0;) {
    const std::size_t gd = gs[i + lead];
    if (ns[i] == gd) strides[i + lead] = ns[i] == 1 ? 0 : stride;
    else if (ns[i] != 1) ok = false;
    stride *= ns[i];
  }
  if (!ok)
    throw shape_error(std::string(op) + ": gradient of shape " + shape_string(gs) +
                      " does not reduce to the input's shape " + shape_string(ns));
  if (claim_grad(node)) node.grad.fill(T(0));
  sum_into(g.data(), std::span<const std::size_t>(gs.data(), gs.size()), strides, node.grad.data());
}

#define DECLARE(T)                                                                                      \
  template void sum_into<T>(const T*, std::span<const std::size_t>, std::span<const std::size_t>, T*);       \
  template void broadcast_into<T>(const T*, std::span<const std::size_t>, std::span<const std::size_t>, T*, T); \
  template void add_broadcast_grad<T>(Node<T>&, const array<T>&, const char*);
DECLARE(float)
DECLARE(double)
#undef DECLARE

}  // namespace xg::detail
