// matmul (GEMM through BLAS, transposes passed as flags) and transpose.
#include <functional>
#include <numeric>

#include <xtensor/xmanipulation.hpp>

#include <cblas.h>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/ops.hpp"
#include "support.hpp"

namespace xg {

namespace detail {
// The BLAS bridge.
static CBLAS_TRANSPOSE flag(bool t) { return t ? CblasTrans : CblasNoTrans; }

// Empty operands, which BLAS rejects (a zero leading dimension is an "illegal value": it prints a
// message and leaves C untouched, i.e. garbage). Returns whether it handled the product.
template <class T>
static bool empty_gemm(std::size_t m, std::size_t n, std::size_t k, T beta, T* c) {
  if (m != 0 && n != 0 && k != 0) return false;
  if (k == 0)  // C = alpha * (an empty sum) + beta * C
    for (std::size_t i = 0; i < m * n; ++i) c[i] = beta == T(0) ? T(0) : beta * c[i];
  return true;
}

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (empty_gemm(m, n, k, beta, c)) return;
  cblas_sgemm(CblasRowMajor, flag(ta), flag(tb), int(m), int(n), int(k), alpha, a, ta ? int(m) : int(k),
              b, tb ? int(k) : int(n), beta, c, int(n));
}

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          const double* b, double beta, double* c) {
  if (empty_gemm(m, n, k, beta, c)) return;
  cblas_dgemm(CblasRowMajor, flag(ta), flag(tb), int(m), int(n), int(k), alpha, a, ta ? int(m) : int(k),
              b, tb ? int(k) : int(n), beta, c, int(n));
}
}  // namespace detail

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
        // A fresh gradient is overwritten (beta 0), an existing one added to (beta 1).
        detail::add_grad(*a, "matmul", detail::to_shape(a->value.shape()), [&](T* da, bool overwrite) {
          for (std::size_t i = 0; i < batches; ++i)  // dA += dC · Bᵀ
            detail::gemm(false, true, m, k, n, T(1), g.data() + i * m * n, b->value.data() + i * k * n,
                         overwrite ? T(0) : T(1), da + i * m * k);
        });
        detail::add_grad(*b, "matmul", detail::to_shape(b->value.shape()), [&](T* db, bool overwrite) {
          for (std::size_t i = 0; i < batches; ++i)  // dB += Aᵀ · dC
            detail::gemm(true, false, k, n, m, T(1), a->value.data() + i * m * k, g.data() + i * m * n,
                         overwrite ? T(0) : T(1), db + i * k * n);
        });
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
                                  detail::add_grad(*x, "transpose", xt::transpose(g, inverse));
                                },
                                detail::Reads::nothing);
}

#define DECLARE(T)                                                        \
  template TensorT<T> matmul(const TensorT<T>&, const TensorT<T>&);       \
  template TensorT<T> transpose(const TensorT<T>&, const std::vector<std::size_t>&);
XG_INSTANTIATE(DECLARE)

}  // namespace xg
