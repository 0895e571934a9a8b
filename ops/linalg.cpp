// matmul (GEMM through BLAS, transposes passed as flags, batches broadcasting) and transpose.
#include <algorithm>
#include <functional>
#include <numeric>

#include <xtensor/xmanipulation.hpp>

#include <cblas.h>

#include "xgrad/detail/elementwise.hpp"
#include "xgrad/detail/parallel.hpp"
#include "xgrad/threads.hpp"
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

// One BLAS call with explicit leading dimensions (a block of a larger product).
static void blas_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                      std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, flag(ta), flag(tb), int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c,
              int(ldc));
}
static void blas_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
                      std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, flag(ta), flag(tb), int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c,
              int(ldc));
}

// BLAS runs single-threaded (threads.cpp): a product worth sharing is cut into one block of C per
// thread, each its own BLAS call on a TBB thread, so that TBB alone owns the cores. With BLAS's own
// pool, its idle workers spin for ~0.1 s after each product and take a core from the TBB loops that
// run between products (issue 17: 2 threads no faster than 1). The cut depends on the thread setting
// only, and each element of C is the same dot product either way, so results do not depend on
// scheduling.
template <class T>
static void parallel_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                          const T* b, T beta, T* c) {
  const std::size_t lda = ta ? m : k, ldb = tb ? k : n;
  // About 20 us of one core's work per block at least: less is not worth a task.
  constexpr std::size_t min_block_macs = std::size_t(1) << 20;
  const std::size_t threads = std::size_t(std::max(threads_per_call(), 1));
  const bool split_columns = n >= m;  // the longer side of C, in multiples of a SIMD kernel's width
  const std::size_t side = split_columns ? n : m, unit = 16, units = (side + unit - 1) / unit;
  const std::size_t parts = std::min({threads, m * n * k / min_block_macs, units});
  if (parts < 2) return blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
  parallel_parts(parts, [&](std::size_t part) {
    const std::size_t begin = std::min(side, units * part / parts * unit);
    const std::size_t end = std::min(side, units * (part + 1) / parts * unit);
    if (begin == end) return;
    if (split_columns)  // columns [begin, end) of op(B) and of C
      blas_gemm(ta, tb, m, end - begin, k, alpha, a, lda, b + (tb ? begin * ldb : begin), ldb, beta, c + begin, n);
    else  // rows [begin, end) of op(A) and of C
      blas_gemm(ta, tb, end - begin, n, k, alpha, a + (ta ? begin : begin * lda), lda, b, ldb, beta, c + begin * n, n);
  });
}

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (empty_gemm(m, n, k, beta, c)) return;
  parallel_gemm(ta, tb, m, n, k, alpha, a, b, beta, c);
}

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          const double* b, double beta, double* c) {
  if (empty_gemm(m, n, k, beta, c)) return;
  parallel_gemm(ta, tb, m, n, k, alpha, a, b, beta, c);
}
}  // namespace detail

namespace {
// How matmul multiplies operands of shapes as and bs: torch.matmul's rules. (..., m, k) @ (..., k, n)
// with the batch dimensions (all but the last two) broadcasting; a 1-D operand is a row (left) or a
// column (right) vector whose dimension the result drops. An unbatched right operand makes every row
// of the left one a row of a single (rows, k) @ (k, n) product.
struct MatmulPlan {
  std::size_t rows = 0, k = 0, n = 0;  // each product is (rows, k) @ (k, n)
  shape_type batch;                    // the output's batch shape (empty when folded into rows)
  shape_type a_strides, b_strides;     // each operand's batch index per output batch dimension; 0 where it broadcasts
  std::size_t batches = 1, a_batches = 1, b_batches = 1;
  shape_type out_shape;
};

MatmulPlan plan_matmul(const shape_type& as, const shape_type& bs) {
  const auto fail = [&](const std::string& why) {
    throw shape_error("matmul: shapes " + shape_string(as) + " and " + shape_string(bs) + " do not multiply (" + why + ")");
  };
  if (as.empty() || bs.empty()) fail("a scalar has no matrix dimensions");
  const bool a_vector = as.size() == 1, b_vector = bs.size() == 1;
  MatmulPlan p;
  const std::size_t m = a_vector ? 1 : as[as.size() - 2];
  p.k = as.back();
  p.n = b_vector ? 1 : bs.back();
  if (p.k != (b_vector ? bs[0] : bs[bs.size() - 2])) fail("the inner sizes differ");
  const shape_type a_batch(as.begin(), as.end() - (a_vector ? 1 : 2)), b_batch(bs.begin(), bs.end() - (b_vector ? 1 : 2));
  shape_type batch;
  try {
    batch = detail::broadcast_shapes("matmul", a_batch, b_batch);
  } catch (const shape_error&) {
    fail("the batch dimensions " + shape_string(a_batch) + " and " + shape_string(b_batch) + " do not broadcast");
  }
  p.out_shape = batch;
  if (!a_vector) p.out_shape.push_back(m);
  if (!b_vector) p.out_shape.push_back(p.n);
  p.rows = m;
  if (b_batch.empty()) {
    for (std::size_t d : a_batch) p.rows *= d;
    return p;
  }
  const auto strides_of = [&](const shape_type& own, std::size_t& count) {
    shape_type padded(batch.size() - own.size(), 1);
    padded.insert(padded.end(), own.begin(), own.end());
    for (std::size_t d : own) count *= d;
    return detail::reduced_strides(padded);
  };
  p.a_strides = strides_of(a_batch, p.a_batches);
  p.b_strides = strides_of(b_batch, p.b_batches);
  for (std::size_t d : batch) p.batches *= d;
  p.batch = std::move(batch);
  return p;
}

// f(i, ia, ib) for every output batch i, with the batches of a and b it multiplies.
template <class F>
void for_each_batch(const MatmulPlan& p, F&& f) {
  for (std::size_t i = 0; i < p.batches; ++i) {
    std::size_t rest = i, ia = 0, ib = 0;
    for (std::size_t d = p.batch.size(); d-- > 0;) {
      const std::size_t index = rest % p.batch[d];
      rest /= p.batch[d];
      ia += index * p.a_strides[d];
      ib += index * p.b_strides[d];
    }
    f(i, ia, ib);
  }
}

// The gemm beta for writing an input's gradient: 0 over a fresh buffer, 1 over one that holds a
// partial gradient. A buffer that several batches add into (an operand that broadcasts) is zeroed
// first instead.
}  // namespace

template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b) {
  const MatmulPlan p = plan_matmul(detail::to_shape(a.shape()), detail::to_shape(b.shape()));
  array<T> out = detail::new_buffer<T>(p.out_shape);
  const std::size_t a_size = p.rows * p.k, b_size = p.k * p.n, c_size = p.rows * p.n;
  for_each_batch(p, [&](std::size_t i, std::size_t ia, std::size_t ib) {
    detail::gemm(false, false, p.rows, p.n, p.k, T(1), a.value().data() + ia * a_size, b.value().data() + ib * b_size,
                 T(0), out.data() + i * c_size);
  });
  return detail::make_result<T>("matmul", std::move(out), {&a, &b}, [a = a.node(), b = b.node()](const array<T>& g, const array<T>&) {
    const MatmulPlan p = plan_matmul(detail::to_shape(a->value.shape()), detail::to_shape(b->value.shape()));
    const std::size_t a_size = p.rows * p.k, b_size = p.k * p.n, c_size = p.rows * p.n;
    // BLAS's beta: 0 overwrites a fresh gradient, 1 adds; an operand that several batches share
    // (broadcast) sums their products, so a fresh buffer is zeroed first.
    const auto beta = [](T* dst, std::size_t size, bool overwrite, bool shared) {
      if (!overwrite) return T(1);
      if (!shared) return T(0);
      std::fill(dst, dst + size, T(0));
      return T(1);
    };
    detail::add_grad(*a, "matmul", detail::to_shape(a->value.shape()), [&](T* da, bool overwrite) {
      const T beta_a = beta(da, a->value.size(), overwrite, p.a_batches != p.batches);
      for_each_batch(p, [&](std::size_t i, std::size_t ia, std::size_t ib) {  // dA += dC · Bᵀ
        detail::gemm(false, true, p.rows, p.k, p.n, T(1), g.data() + i * c_size, b->value.data() + ib * b_size, beta_a,
                     da + ia * a_size);
      });
    });
    detail::add_grad(*b, "matmul", detail::to_shape(b->value.shape()), [&](T* db, bool overwrite) {
      const T beta_b = beta(db, b->value.size(), overwrite, p.b_batches != p.batches);
      for_each_batch(p, [&](std::size_t i, std::size_t ia, std::size_t ib) {  // dB += Aᵀ · dC
        detail::gemm(true, false, p.k, p.n, p.rows, T(1), a->value.data() + ia * a_size, g.data() + i * c_size, beta_b,
                     db + ib * b_size);
      });
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
