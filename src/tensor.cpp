#include <algorithm>

#include "xgrad/detail/op_support.hpp"
#include "xgrad/tensor.hpp"

namespace xg {

template <class T>
TensorT<T>::TensorT() : node_(std::make_shared<Node<T>>()) {
  node_->value = array<T>::from_shape({});
  node_->value() = T(0);
}

template <class T>
TensorT<T>::TensorT(array<T> value, bool requires_grad) : node_(std::make_shared<Node<T>>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

template <class T>
TensorT<T> TensorT<T>::scalar(T v, bool requires_grad) {
  array<T> a = array<T>::from_shape({});
  a() = v;
  return TensorT(std::move(a), requires_grad);
}

template <class T>
TensorT<T> TensorT<T>::full(const shape_type& shape, T v, bool requires_grad) {
  detail::checked_size("Tensor::full", shape);
  array<T> a = array<T>::from_shape(shape);
  a.fill(v);
  return TensorT(std::move(a), requires_grad);
}

template <class T>
TensorT<T> TensorT<T>::zeros(const shape_type& shape, bool requires_grad) {
  return full(shape, T(0), requires_grad);
}

template <class T>
TensorT<T> TensorT<T>::ones(const shape_type& shape, bool requires_grad) {
  return full(shape, T(1), requires_grad);
}

template <class T>
array<T>& TensorT<T>::mutable_value() const {
  ++node_->version;
  return node_->value;
}

template <class T>
std::size_t TensorT<T>::add_grad_ready_hook(std::function<void()> hook) {
  auto& hooks = node_->grad_ready_hooks;
  const std::size_t id = hooks.empty() ? 0 : hooks.back().first + 1;
  hooks.emplace_back(id, std::move(hook));
  return id;
}

template <class T>
void TensorT<T>::remove_grad_ready_hook(std::size_t id) {
  std::erase_if(node_->grad_ready_hooks, [id](const auto& hook) { return hook.first == id; });
}

template <class T>
const array<T>& TensorT<T>::grad() const {
  if (!node_->has_grad)
    throw graph_error(std::string("grad: the tensor (op '") + node_->op +
                      "') has no gradient; does it require one, and did backward reach it?");
  return node_->grad;
}

template <class T>
array<T>& TensorT<T>::grad() {
  return const_cast<array<T>&>(std::as_const(*this).grad());
}

template <class T>
void TensorT<T>::zero_grad() {
  node_->has_grad = false;  // the buffer is kept and zeroed on next use
}

template <class T>
TensorT<T>& TensorT<T>::set_requires_grad(bool on) {
  node_->requires_grad = on;
  return *this;
}

template <class T>
TensorT<T> TensorT<T>::detach() const {
  return TensorT(node_->value, false);
}

template <class T>
T TensorT<T>::item() const {
  if (size() != 1)
    throw shape_error("item: needs a one-element tensor, got shape " + shape_string(shape()));
  return *node_->value.data();
}

template class TensorT<float>;
template class TensorT<double>;

}  // namespace xg
