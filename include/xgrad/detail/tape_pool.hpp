#pragma once
// The tape's pools: nodes and buffers that Tape::clear() took back from records no one else holds,
// handed to the next step's ops, so a training loop that reuses one tape allocates nothing for
// shapes that repeat.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "xgrad/tensor.hpp"

namespace xg::detail {

class TapePool {
 public:
  // A buffer of that shape: a kept one of the same element count, or a new one.
  template <class T>
  array<T> take_buffer(const shape_type& shape);
  // A fresh node: a kept one, or a new one.
  template <class T>
  std::shared_ptr<Node<T>> take_node();
  // Keeps an unreferenced node's buffers and the node itself.
  template <class T>
  void take_back(std::shared_ptr<Node<T>> node);

 private:
  template <class T>
  struct Kept {
    std::unordered_map<std::size_t, std::vector<array<T>>> buffers;  // by element count
    std::vector<std::shared_ptr<Node<T>>> nodes;
  };
  template <class T>
  Kept<T>& kept();

  Kept<float> f32_;
  Kept<double> f64_;
  Kept<std::int64_t> i64_;  // indices an op saves (max's positions, cross-entropy's labels)
};

}  // namespace xg::detail
