#pragma once
// The tape's pools: nodes and buffers that Tape::clear() took back from records no one else holds,
// handed to the next step's ops, so a training loop that reuses one tape allocates nothing for
// shapes that repeat.
//
// A node comes back with its buffers still in it, and the nodes of a step come back so that the
// next step's first op finds the last step's first node on top. An op takes its output buffer
// (new_buffer) and then its node (new_node): in a loop that repeats its ops, the buffer is the one
// the top node holds and the node is that same node, so recycling moves no buffer in or out of a
// table. Buffers that do not fit where they are go to a table by element count, for any op.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "xgrad/tensor.hpp"

namespace xg::detail {

class TapePool {
 public:
  // A buffer of that shape: the next node's, a kept one of the same element count, or a new one.
  template <class T>
  array<T> take_buffer(const shape_type& shape);
  // A fresh node: a kept one (without a value: a buffer it still held goes to the table), or a new one.
  template <class T>
  std::shared_ptr<Node<T>> take_node();
  // Keeps an unreferenced node, with its buffers.
  template <class T>
  void take_back(std::shared_ptr<Node<T>> node);
  // Keeps a buffer for a later take_buffer of its element count.
  template <class T>
  void keep_buffer(array<T>&& buffer);

 private:
  template <class T>
  struct Kept {
    std::unordered_map<std::size_t, std::vector<array<T>>> buffers;  // by element count
    std::vector<std::shared_ptr<Node<T>>> nodes;                      // the next one last
  };
  template <class T>
  Kept<T>& kept();

  Kept<float> f32_;
  Kept<double> f64_;
  Kept<std::int64_t> i64_;  // indices an op saves (max's positions, cross-entropy's labels)
};

}  // namespace xg::detail
