// concat, stack, slice, index_select and gather: ops that copy whole lines or single elements of
// their input. Each views a tensor around its axis as (outer, n, inner), so a line is a contiguous
// run of `inner` values, and backward adds d(out) back where each value came from.
#include <limits>
#include <string>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {

namespace {
// out[o, offset_i + j, :] = x_i[o, j, :]: the inputs laid side by side along an axis, each of
// size(x_i) / outer elements per outer index. concat and stack differ only in the output shape.
template <class T>
TensorT<T> join(const char* op, const std::vector<TensorT<T>>& xs, shape_type out_shape, std::size_t outer) {
  array<T> out = detail::new_buffer<T>(out_shape);
  const std::size_t row = outer ? out.size() / outer : 0;  // one outer index's run in the output
  std::size_t offset = 0;
  for (const TensorT<T>& x : xs) {
    const std::size_t width = outer ? x.size() / outer : 0;
    const T* in = x.value().data();
    for (std::size_t o = 0; o < outer; ++o) std::copy(in + o * width, in + (o + 1) * width, out.data() + o * row + offset);
    offset += width;
  }
  std::vector<std::shared_ptr<Node<T>>> nodes;
  for (const TensorT<T>& x : xs) nodes.push_back(x.node());
  return detail::make_result<T>(op, std::move(out), xs,
                                [nodes = std::move(nodes), outer, row](const array<T>& g, const array<T>&) {
                                  std::size_t offset = 0;
                                  for (const auto& x : nodes) {
                                    const std::size_t width = outer ? x->value.size() / outer : 0;
                                    detail::add_grad(*x, "concat", detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
                                      for (std::size_t k = 0; k < x->value.size(); ++k) {
                                        const T d = g.data()[k / width * row + offset + k % width];
                                        gx[k] = overwrite ? d : gx[k] + d;
                                      }
                                    });
                                    offset += width;
                                  }
                                });
}

void check_not_empty(const char* op, std::size_t count) {
  if (count == 0) throw value_error(std::string(op) + ": no tensors given (need at least one)");
}

// out[o, j, :] = x[o, source(j), :] for j < m; backward adds each line of d(out) to the line it
// came from (repeated sources add up).
template <class T, class Source>
TensorT<T> take_lines(const char* op, const TensorT<T>& x, std::size_t axis, std::size_t m, Source source) {
  shape_type out_shape = detail::to_shape(x.shape());
  const detail::AxisSplit s = detail::split_at_axis(out_shape, axis);
  out_shape[axis] = m;
  array<T> out = detail::new_buffer<T>(out_shape);
  const T* in = x.value().data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t j = 0; j < m; ++j) {
      const T* line = in + (o * s.n + source(j)) * s.inner;
      std::copy(line, line + s.inner, out.data() + (o * m + j) * s.inner);
    }
  return detail::make_result<T>(op, std::move(out), {&x}, [x = x.node(), op, s, m, source](const array<T>& g, const array<T>&) {
    detail::add_grad(*x, op, detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
      if (overwrite) std::fill(gx, gx + x->value.size(), T(0));
      for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j) {
          T* line = gx + (o * s.n + source(j)) * s.inner;
          const T* from = g.data() + (o * m + j) * s.inner;
          for (std::size_t i = 0; i < s.inner; ++i) line[i] += from[i];
        }
    });
  }, detail::Reads::nothing);
}

// index must lie in [0, n) (negative indices count from the end, as in PyTorch); value_error names
// the index, where it is and n.
std::size_t checked_index(const char* op, long index, std::size_t n, std::size_t position) {
  const long size = long(n);
  if (index < -size || index >= size)
    throw value_error(std::string(op) + ": index " + std::to_string(index) + " (position " + std::to_string(position) +
                      ") is out of range for an axis of size " + std::to_string(n));
  return std::size_t(index < 0 ? index + size : index);
}
}  // namespace

template <class T>
TensorT<T> concat(const std::vector<TensorT<T>>& xs, long axis) {
  check_not_empty("concat", xs.size());
  const shape_type first = detail::to_shape(xs[0].shape());
  const std::size_t ax = detail::normalize_axis("concat", axis, first.size());
  shape_type out_shape = first;
  out_shape[ax] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const shape_type s = detail::to_shape(xs[i].shape());
    bool fits = s.size() == first.size();
    for (std::size_t d = 0; fits && d < s.size(); ++d) fits = d == ax || s[d] == first[d];
    if (!fits)
      throw shape_error("concat: tensor " + std::to_string(i) + " of shape " + shape_string(s) +
                        " does not fit tensor 0 of shape " + shape_string(first) + " along axis " + std::to_string(axis) +
                        " (the other dimensions must be equal)");
    out_shape[ax] += s[ax];
  }
  return join("concat", xs, out_shape, detail::split_at_axis(first, ax).outer);
}

template <class T>
TensorT<T> stack(const std::vector<TensorT<T>>& xs, long axis) {
  check_not_empty("stack", xs.size());
  const shape_type first = detail::to_shape(xs[0].shape());
  for (std::size_t i = 1; i < xs.size(); ++i)
    if (detail::to_shape(xs[i].shape()) != first)
      throw shape_error("stack: tensor " + std::to_string(i) + " of shape " + shape_string(xs[i].shape()) +
                        " differs from tensor 0 of shape " + shape_string(first) + " (stacked tensors have one shape)");
  const std::size_t ax = detail::normalize_axis("stack", axis, first.size() + 1);  // a new axis
  shape_type out_shape;  // first's with xs.size() at ax (built, not inserted: GCC 12 misreads svector::insert)
  for (std::size_t d = 0; d <= first.size(); ++d) {
    if (d == ax) out_shape.push_back(xs.size());
    if (d < first.size()) out_shape.push_back(first[d]);
  }
  return join("stack", xs, out_shape, detail::split_at_axis(out_shape, ax).outer);
}

template <class T>
TensorT<T> slice(const TensorT<T>& x, long axis, long start, long stop, long step) {
  const std::size_t ax = detail::normalize_axis("slice", axis, x.dim());
  if (step < 1) throw value_error("slice: step " + std::to_string(step) + " is not positive");
  // Python's rules: a negative bound counts from the end, and bounds outside the axis are clamped.
  const long n = long(x.shape()[ax]);
  const auto bound = [n](long b) { return std::clamp(b < 0 ? b + n : b, 0L, n); };
  const long first = bound(start), end = bound(stop);
  const std::size_t m = end > first ? std::size_t((end - first + step - 1) / step) : 0;
  return take_lines("slice", x, ax, m, [first = std::size_t(first), step = std::size_t(step)](std::size_t j) {
    return first + j * step;
  });
}

template <class T>
TensorT<T> index_select(const TensorT<T>& x, long axis, std::span<const int> indices) {
  const std::size_t ax = detail::normalize_axis("index_select", axis, x.dim());
  // The indices in a buffer of integers the tape recycles: the closure holds no vector.
  const auto rows = detail::saved_buffer<std::int64_t>("index_select", {indices.size()});
  for (std::size_t j = 0; j < indices.size(); ++j)
    rows->value.data()[j] = std::int64_t(checked_index("index_select", indices[j], x.shape()[ax], j));
  return take_lines("index_select", x, ax, indices.size(), [rows](std::size_t j) { return std::size_t(rows->value.data()[j]); });
}

// out[i_0, ..., i_r] = x[i_0, ..., index[i_0, ..., i_r], ..., i_r] with the index on `axis`.
template <class T>
TensorT<T> gather(const TensorT<T>& x, long axis, const array<int>& index) {
  const shape_type xs = detail::to_shape(x.shape()), is = detail::to_shape(index.shape());
  const std::size_t ax = detail::normalize_axis("gather", axis, xs.size());
  bool fits = is.size() == xs.size();
  for (std::size_t d = 0; fits && d < xs.size(); ++d) fits = d == ax || is[d] <= xs[d];
  if (!fits)
    throw shape_error("gather: index of shape " + shape_string(is) + " does not fit input of shape " + shape_string(xs) +
                      " (same rank, and no larger than the input except along axis " + std::to_string(axis) + ")");
  // Where each output element comes from in x, in a buffer of integers the tape recycles.
  const auto sources = detail::saved_buffer<std::int64_t>("gather", is);
  shape_type position(xs.size(), 0);
  const shape_type strides = detail::to_shape(x.value().strides());
  for (std::size_t k = 0; k < index.size(); ++k) {
    std::size_t offset = 0;
    for (std::size_t d = 0; d < xs.size(); ++d)
      offset += (d == ax ? checked_index("gather", index.data()[k], xs[ax], k) : position[d]) * strides[d];
    sources->value.data()[k] = std::int64_t(offset);
    for (std::size_t d = xs.size(); d-- > 0;) {  // the next position, row-major
      if (++position[d] < is[d]) break;
      position[d] = 0;
    }
  }
  array<T> out = detail::new_buffer<T>(is);
  for (std::size_t k = 0; k < out.size(); ++k) out.data()[k] = x.value().data()[std::size_t(sources->value.data()[k])];
  return detail::make_result<T>("gather", std::move(out), {&x}, [x = x.node(), sources](const array<T>& g, const array<T>&) {
    detail::add_grad(*x, "gather", detail::to_shape(x->value.shape()), [&](T* gx, bool overwrite) {
      if (overwrite) std::fill(gx, gx + x->value.size(), T(0));
      for (std::size_t k = 0; k < g.size(); ++k) gx[std::size_t(sources->value.data()[k])] += g.data()[k];
    });
  }, detail::Reads::nothing);
}

#define DECLARE(T)                                                                 \
  template TensorT<T> concat(const std::vector<TensorT<T>>&, long);                \
  template TensorT<T> stack(const std::vector<TensorT<T>>&, long);                 \
  template TensorT<T> slice(const TensorT<T>&, long, long, long, long);            \
  template TensorT<T> index_select(const TensorT<T>&, long, std::span<const int>); \
  template TensorT<T> gather(const TensorT<T>&, long, const array<int>&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
