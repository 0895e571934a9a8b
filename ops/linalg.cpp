// matmul (GEMM through BLAS, transposes passed as flags) and transpose.
#include <functional>
#include <numeric>

#include <xtensor/xmanipulation.hpp>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"

namespace xg {

template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b) {
  const shape_type as = detail::to_shape(a.shape()), bs = detail::to_shape(b.shape());
  const bool batched = as.size() == 3 && bs.size() == 3;
  if (!((as.size() == 2 || as.size() == 3) && (bs.size() == 2 || batched)) ||
      as[as.size() - 1] != bs[bs.size() - 2] || (batched && as[0] != bs[0]))
    throw shape_error("matmul: shapes " + shape_string(as) + " and " + shape_string(bs) +
                      " do not multiply (need (m,k)@(k,n), (b,m,k)@(k,n) or (b,m,k)@(b,k,n))");
  // (b,m,k)@(k,n) is one (b*m,k)@(k,n) product; only (b,m,k)@(b,k,n) loops over the batch.
  const std::size_t batches = batched ? as[0] : 1;
  const std::size_t m = batched ? as[1] : std::accumulate(as.begin(), as.end() - 1, std::size_t(1), std::multiplies<>());
  const std::size_t k = as.back(), n = bs.back();
  shape_type out_shape = as;
  out_shape.back() = n;
  array<T> out = detail::new_buffer<T>(out_shape);
  for (std::size_t i = 0; i < batches; ++i)
    detail::gemm(false, false, m, n, k, T(1), a.value().data() + i * m * k, b.value().data() + i * k * n, T(0),
                 out.data() + i * m * n);
  return detail::make_result<T>(
      "matmul", std::move(out), {&a, &b},
      [a = a.node(), b = b.node(), batches, m, n, k](const array<T>& g, const array<T>&) {
        // A fresh gradient buffer is overwritten (beta 0), an existing one added to (beta 1); each
        // batch writes its own slice, so one choice holds for all of them.
        const T beta_a = a->requires_grad && detail::claim_grad(*a) ? T(0) : T(1);
        const T beta_b = b->requires_grad && detail::claim_grad(*b) ? T(0) : T(1);
        for (std::size_t i = 0; i < batches; ++i) {
          const T* gi = g.data() + i * m * n;
          if (a->requires_grad)  // dA += dC · Bᵀ
            detail::gemm(false, true, m, k, n, T(1), gi, b->value.data() + i * k * n, beta_a, a->grad.data() + i * m * k);
          if (b->requires_grad)  // dB += Aᵀ · dC
            detail::gemm(true, false, k, n, m, T(1), a->value.data() + i * m * k, gi, beta_b, b->grad.data() + i * k * n);
        }
      });
}

template <class T>
TensorT<T> transpose(const TensorT<T>& x, const std::vector<std::size_t>& perm_in) {
  std::vector<std::size_t> perm = perm_in;
  if (perm.empty()) {
    perm.resize(x.dim());
    std::iota(perm.rbegin(), perm.rend(), std::size_t(0));
  }
  std::vector<std::size_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::size_t> identity(x.dim());
  std::iota(identity.begin(), identity.end(), std::size_t(0));
  if (sorted != identity)
    throw value_error("transpose: " + shape_string(perm) + " is not a permutation of the axes of a tensor of shape " +
                      shape_string(x.shape()));
  std::vector<std::size_t> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = i;
  shape_type out_shape(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out_shape[i] = x.shape()[perm[i]];
  array<T> out = detail::new_buffer<T>(out_shape);
  xt::noalias(out) = xt::transpose(x.value(), perm);
  return detail::make_result<T>("transpose", std::move(out), {&x},
                                [x = x.node(), inverse](const array<T>& g, const array<T>&) {
                                  detail::accumulate(*x, xt::transpose(g, inverse), "transpose");
                                });
}

#define DECLARE(T)                                                        \
  template TensorT<T> matmul(const TensorT<T>&, const TensorT<T>&);       \
  template TensorT<T> transpose(const TensorT<T>&, const std::vector<std::size_t>&);
XG_INSTANTIATE(DECLARE)
#undef DECLARE  // a unity build puts several files in one unit

}  // namespace xg
