#pragma once
// What conv2d and the pooling ops share: the output-size rule and how a gradient reaches an input.
#include <string>

#include "xgrad/detail/op_support.hpp"

namespace xg::detail {

// The output size along one axis: (in + 2 padding - dilation (filter - 1) - 1) / stride + 1, rounded
// down. Throws shape_error naming the op and the shapes when the (dilated) window does not fit in
// the padded input, value_error for a zero stride or dilation.
inline std::size_t window_output_size(const char* op, const char* axis, std::size_t in, std::size_t filter,
                                      std::size_t stride, std::size_t padding, std::size_t dilation,
                                      const std::string& shapes) {
  if (stride == 0 || dilation == 0)
    throw value_error(std::string(op) + ": stride and dilation must be at least 1 (" + shapes + ")");
  const std::size_t extent = dilation * (filter - 1) + 1;
  if (filter == 0 || in + 2 * padding < extent)
    throw shape_error(std::string(op) + ": a window of " + axis + " " + std::to_string(filter) +
                      (dilation > 1 ? " (dilated to " + std::to_string(extent) + ")" : std::string()) +
                      " is larger than the padded input's " + axis + " " + std::to_string(in) + " + 2*" +
                      std::to_string(padding) + " (" + shapes + ")");
  return (in + 2 * padding - extent) / stride + 1;
}

// For kernels that can only overwrite (oneDNN's): straight into dst when overwriting, otherwise into
// scratch the tape recycles, then added.
template <class T, class Kernel>
void overwrite_or_add(const char* op, std::size_t size, T* dst, bool overwrite, Kernel&& kernel) {
  if (overwrite) {
    kernel(dst);
    return;
  }
  const auto scratch = saved_buffer<T>(op, {size});
  kernel(scratch->value.data());
  for (std::size_t i = 0; i < size; ++i) dst[i] += scratch->value.data()[i];
}

}  // namespace xg::detail
