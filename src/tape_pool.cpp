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
  const std::size_t size = checked_size("tape", shape);
  auto& [buffers, nodes] = kept<T>();
  const auto reshaped = [&](array<T>& spare) {
    array<T> buffer = std::move(spare);  // leaves spare empty (size 0)
    buffer.resize(shape);                // same element count: the storage is kept
    return buffer;
  };
  // The node this op is about to take holds a buffer of that size: the usual case in a loop.
  if (!nodes.empty() && nodes.back()->value.size() == size) return reshaped(nodes.back()->value);
  auto it = buffers.find(size);
  if (it == buffers.end() || it->second.empty()) return array<T>::from_shape(shape);
  array<T> buffer = reshaped(it->second.back());
  it->second.pop_back();
  return buffer;
}

template <class T>
std::shared_ptr<Node<T>> TapePool::take_node() {
  auto& spare = kept<T>().nodes;
  if (spare.empty()) return std::make_shared<Node<T>>();
  std::shared_ptr<Node<T>> node = std::move(spare.back());
  spare.pop_back();
  // The op assigns its own value: keep this one, which no op took, for another.
  if (node->value.size()) keep_buffer(std::move(node->value));
  return node;
}

template <class T>
void TapePool::take_back(std::shared_ptr<Node<T>> node) {
  node->reset();  // its value and grad stay: the next step's op at this place takes them
  kept<T>().nodes.push_back(std::move(node));
}

template <class T>
void TapePool::keep_buffer(array<T>&& buffer) {
  const std::size_t size = buffer.size();
  kept<T>().buffers[size].push_back(std::move(buffer));
}

template <class T>
void return_to_pool(TapePool& pool, std::shared_ptr<Node<T>> node) {
  pool.take_back(std::move(node));
}

#define DECLARE(T)                                                          \
  template array<T> TapePool::take_buffer<T>(const shape_type&);            \
  template std::shared_ptr<Node<T>> TapePool::take_node<T>();               \
  template void TapePool::take_back<T>(std::shared_ptr<Node<T>>);           \
  template void TapePool::keep_buffer<T>(array<T>&&);                       \
  template void return_to_pool<T>(TapePool&, std::shared_ptr<Node<T>>);
DECLARE(float)
DECLARE(double)
DECLARE(std::int64_t)
#undef DECLARE

}  // namespace xg::detail
