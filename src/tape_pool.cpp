#include "xgrad/detail/tape_pool.hpp"

#include "xgrad/detail/op_support.hpp"

namespace xg::detail {

template <class T>
TapePool::Kept<T>& TapePool::kept() {
  if constexpr (std::is_same_v<T, float>)
    return f32_;
  else if constexpr (std::is_same_v<T, double>)
    return f64_;
  else
    return i64_;
}

template <class T>
array<T> TapePool::take_buffer(const shape_type& shape) {
  auto it = kept<T>().buffers.find(checked_size("tape", shape));
  if (it == kept<T>().buffers.end() || it->second.empty()) return array<T>::from_shape(shape);
  array<T> buffer = std::move(it->second.back());
  it->second.pop_back();
  buffer.resize(shape);  // same element count: the storage is kept
  return buffer;
}

template <class T>
std::shared_ptr<Node<T>> TapePool::take_node() {
  auto& spare = kept<T>().nodes;
  if (spare.empty()) return std::make_shared<Node<T>>();
  std::shared_ptr<Node<T>> node = std::move(spare.back());
  spare.pop_back();
  return node;
}

template <class T>
void TapePool::take_back(std::shared_ptr<Node<T>> node) {
  auto& buffers = kept<T>().buffers;
  // Moved-from arrays are empty (size 0): what a node holds before an op fills it.
  if (node->value.size()) buffers[node->value.size()].push_back(std::move(node->value));
  if (node->grad.size()) buffers[node->grad.size()].push_back(std::move(node->grad));
  node->reset();
  kept<T>().nodes.push_back(std::move(node));
}

template <class T>
void return_to_pool(TapePool& pool, std::shared_ptr<Node<T>> node) {
  pool.take_back(std::move(node));
}

#define DECLARE(T)                                                          \
  template array<T> TapePool::take_buffer<T>(const shape_type&);            \
  template std::shared_ptr<Node<T>> TapePool::take_node<T>();               \
  template void TapePool::take_back<T>(std::shared_ptr<Node<T>>);           \
  template void return_to_pool<T>(TapePool&, std::shared_ptr<Node<T>>);
DECLARE(float)
DECLARE(double)
DECLARE(std::int64_t)
#undef DECLARE

}  // namespace xg::detail
