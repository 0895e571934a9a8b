// One hand-worked value test per op (forward values; gradients where they are easy to see).
#define BOOST_TEST_MODULE ops
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;
namespace tt = boost::test_tools;

using testing::t;
namespace {
// An (n, 1) array: xtensor finds {{a}, {b}} ambiguous.
array<double> column(std::initializer_list<double> v) {
  array<double> c = array<double>::from_shape({v.size(), 1});
  std::copy(v.begin(), v.end(), c.begin());
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(arithmetic_broadcasts_like_numpy) {
  Tensor64 a = t({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor64 b = t({10.0, 20.0, 30.0});
  BOOST_TEST(add(a, b).value()(1, 2) == 36.0);
  BOOST_TEST(sub(a, b).value()(0, 1) == -18.0);
  BOOST_TEST(mul(a, b).value()(1, 0) == 40.0);
  BOOST_TEST(div(a, b).value()(0, 2) == 0.1, tt::tolerance(1e-12));
  BOOST_TEST(neg(a).value()(1, 1) == -5.0);
  BOOST_TEST(pow(a, 2.0).value()(1, 2) == 36.0);
}

BOOST_AUTO_TEST_CASE(div_gradient_by_hand) {
  Tensor64 x = Tensor64::scalar(6.0, true), y = Tensor64::scalar(3.0, true);
  Tape tape;
  tape.backward(x / y);
  BOOST_TEST(x.grad()() == 1.0 / 3.0, tt::tolerance(1e-12));
  BOOST_TEST(y.grad()() == -6.0 / 9.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(math_functions_by_hand) {
  Tensor64 x = t({1.0, 4.0});
  BOOST_TEST(exp(x).value()(0) == std::exp(1.0), tt::tolerance(1e-12));
  BOOST_TEST(log(x).value()(1) == std::log(4.0), tt::tolerance(1e-12));
  BOOST_TEST(sqrt(x).value()(1) == 2.0);
  BOOST_TEST(abs(t({-2.5})).value()(0) == 2.5);
}

BOOST_AUTO_TEST_CASE(activations_by_hand) {
  Tensor64 x = t({-2.0, 0.0, 3.0});
  BOOST_TEST(relu(x).value()(0) == 0.0);
  BOOST_TEST(relu(x).value()(2) == 3.0);
  BOOST_TEST(leaky_relu(x, 0.1).value()(0) == -0.2, tt::tolerance(1e-12));
  BOOST_TEST(elu(x, 1.0).value()(0) == std::exp(-2.0) - 1.0, tt::tolerance(1e-12));
  BOOST_TEST(sigmoid(x).value()(1) == 0.5);
  BOOST_TEST(tanh(x).value()(2) == std::tanh(3.0), tt::tolerance(1e-12));
  BOOST_TEST(where(t({1.0, 0.0, 1.0}), x, t({9.0})).value()(1) == 9.0);
}

BOOST_AUTO_TEST_CASE(relu_gradient_is_the_mask) {
  Tensor64 x = t({-2.0, 3.0}, true);
  Tape tape;
  tape.backward(sum(relu(x)));
  BOOST_TEST(x.grad()(0) == 0.0);
  BOOST_TEST(x.grad()(1) == 1.0);
}

BOOST_AUTO_TEST_CASE(relu_and_leaky_relu_add_to_a_gradient_that_holds_a_partial_one) {
  // x also feeds the sum directly, whose gradient reaches x first; (512, 512) runs in parallel.
  for (const shape_type& shape : {shape_type{5}, shape_type{512, 512}}) {
    BOOST_TEST_CONTEXT("shape " << shape_string(shape)) {
      Generator gen(3);
      Tensor64 x = normal<double>(shape, 0.0, 1.0, gen, true);
      Tape tape;
      tape.backward(sum(relu(x) + leaky_relu(x, 0.1) + x));
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = x.value().data()[i];
        wrong += x.grad().data()[i] != (v > 0 ? 3.0 : 1.1);
      }
      BOOST_TEST(wrong == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(reductions_by_hand) {
  Tensor64 a = t({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  BOOST_TEST(sum(a).item() == 21.0);
  BOOST_TEST(sum(a, {0}).value()(2) == 9.0);
  BOOST_TEST(sum(a, {1}, true).shape()[1] == 1u);
  BOOST_TEST(mean(a, {1}).value()(1) == 5.0);
  BOOST_TEST(max(a, 1).value()(0) == 3.0);
  BOOST_TEST(max(a, 0).value()(1) == 5.0);
}

BOOST_AUTO_TEST_CASE(max_gradient_goes_to_the_maximum) {
  Tensor64 a = t({{1.0, 7.0, 3.0}}, true);
  Tape tape;
  tape.backward(sum(max(a, 1)));
  BOOST_TEST(a.grad()(0, 1) == 1.0);
  BOOST_TEST(a.grad()(0, 0) == 0.0);
}

BOOST_AUTO_TEST_CASE(matmul_by_hand) {
  Tensor64 a = t({{1.0, 2.0}, {3.0, 4.0}}), b = t({{5.0, 6.0}, {7.0, 8.0}});
  Tensor64 c = matmul(a, b);
  BOOST_TEST(c.value()(0, 0) == 19.0);
  BOOST_TEST(c.value()(1, 1) == 50.0);
  Tensor row = Tensor::ones({1, 2}), column = Tensor::ones({2, 1});
  row.mutable_value()(0, 1) = 2.f;
  column.mutable_value()(0, 0) = 3.f;
  column.mutable_value()(1, 0) = 4.f;
  BOOST_TEST(matmul(row, column).item() == 11.0f);
}

BOOST_AUTO_TEST_CASE(transpose_and_reshape_by_hand) {
  Tensor64 a = t({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor64 at = transpose(a);
  BOOST_TEST(at.shape()[0] == 3u);
  BOOST_TEST(at.value()(2, 1) == 6.0);
  Tensor64 r = reshape(a, {3, -1});
  BOOST_TEST(r.shape()[1] == 2u);
  BOOST_TEST(r.value()(1, 0) == 3.0);
}

BOOST_AUTO_TEST_CASE(log1p_and_expm1_keep_the_digits_of_a_small_x) {
  Tensor64 x = t({1e-10, 1.0});
  BOOST_TEST(log1p(x).value()(0) == 9.9999999995e-11, tt::tolerance(1e-15));  // x - x^2 / 2; log(1 + x) gives 1.00000008269037e-10
  BOOST_TEST(log1p(x).value()(1) == std::log(2.0), tt::tolerance(1e-15));
  BOOST_TEST(expm1(x).value()(0) == 1.00000000005e-10, tt::tolerance(1e-15));
  BOOST_TEST(expm1(x).value()(1) == std::exp(1.0) - 1.0, tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(maximum_and_minimum_split_the_gradient_at_a_tie_like_pytorch) {
  Tensor64 a = t({1.0, 5.0, 3.0}, true), b = t({4.0, 5.0, 2.0}, true);
  Tape tape;
  const Tensor64 hi = maximum(a, b), lo = minimum(a, b);
  BOOST_TEST(hi.value() == array<double>({4.0, 5.0, 3.0}));
  BOOST_TEST(lo.value() == array<double>({1.0, 5.0, 2.0}));
  tape.backward(sum(hi * 2.0 + lo));
  BOOST_TEST(a.grad() == array<double>({1.0, 1.5, 2.0}));  // max: 0, 1/2, 1 (x2); min: 1, 1/2, 0
  BOOST_TEST(b.grad() == array<double>({2.0, 1.5, 1.0}));
}

BOOST_AUTO_TEST_CASE(maximum_broadcasts_and_propagates_nan) {
  const Tensor64 m = maximum(t({{1.0, 2.0}, {3.0, NAN}}), t({2.5}));
  BOOST_TEST(m.value()(0, 0) == 2.5);
  BOOST_TEST(m.value()(1, 0) == 3.0);
  BOOST_TEST(std::isnan(m.value()(1, 1)));
  BOOST_TEST(std::isnan(minimum(t({NAN}), t({0.0})).item()));
}

BOOST_AUTO_TEST_CASE(clamp_passes_the_gradient_inside_the_bounds_including_them) {
  Tensor64 x = t({-2.0, -1.0, 0.0, 1.0, 2.0}, true);
  Tape tape;
  const Tensor64 y = clamp(x, -1.0, 1.0);
  BOOST_TEST(y.value() == array<double>({-1.0, -1.0, 0.0, 1.0, 1.0}));
  tape.backward(sum(y));
  BOOST_TEST(x.grad() == array<double>({0.0, 1.0, 1.0, 1.0, 0.0}));
}

BOOST_AUTO_TEST_CASE(comparisons_give_constant_masks_that_broadcast) {
  Tensor64 a = t({1.0, 2.0, 3.0}, true), b = t({2.0});
  BOOST_TEST(less(a, b).value() == array<double>({1.0, 0.0, 0.0}));
  BOOST_TEST(less_equal(a, b).value() == array<double>({1.0, 1.0, 0.0}));
  BOOST_TEST(greater(a, b).value() == array<double>({0.0, 0.0, 1.0}));
  BOOST_TEST(greater_equal(a, b).value() == array<double>({0.0, 1.0, 1.0}));
  BOOST_TEST(equal(a, b).value() == array<double>({0.0, 1.0, 0.0}));
  BOOST_TEST(not_equal(a, b).value() == array<double>({1.0, 0.0, 1.0}));
  Tape tape;
  BOOST_TEST(!less(a, b).requires_grad());
}

BOOST_AUTO_TEST_CASE(softplus_gelu_and_silu_by_hand) {
  BOOST_TEST(softplus(t({0.0})).item() == std::log(2.0), tt::tolerance(1e-15));
  BOOST_TEST(softplus(t({1.0})).item() == 1.3132616875182228, tt::tolerance(1e-15));
  BOOST_TEST(softplus(t({-30.0})).item() == 9.357622968839737e-14, tt::tolerance(1e-12));
  BOOST_TEST(softplus(t({30.0})).item() == 30.0);          // above the threshold: x itself
  BOOST_TEST(softplus(t({1.0}), 2.0).item() == std::log1p(std::exp(2.0)) / 2, tt::tolerance(1e-15));
  BOOST_TEST(gelu(t({1.0})).item() == 0.8413447460685429, tt::tolerance(1e-15));
  BOOST_TEST(gelu(t({-1.0})).item() == -0.15865525393145707, tt::tolerance(1e-14));
  BOOST_TEST(gelu(t({1.0}), GeluApproximation::tanh).item() == 0.8411919906082768, tt::tolerance(1e-15));
  BOOST_TEST(silu(t({1.0})).item() == 0.7310585786300049, tt::tolerance(1e-15));
  BOOST_TEST(silu(t({-2.0})).item() == -0.2384058440442351, tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(softplus_gradient_is_the_sigmoid) {
  Tensor64 x = t({-1.0, 0.0, 2.0}, true);
  Tape tape;
  tape.backward(sum(softplus(x)));
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(x.grad()(i) == 1 / (1 + std::exp(-x.value()(i))), tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(pointwise_losses_by_hand_under_each_reduction) {
  const Tensor64 x = t({1.0, 2.0, 3.0}), y = t({1.0, 0.0, 0.0});
  BOOST_TEST(mse_loss(x, y).item() == 13.0 / 3, tt::tolerance(1e-15));
  BOOST_TEST(mse_loss(x, y, Reduction::sum).item() == 13.0);
  BOOST_TEST(mse_loss(x, y, Reduction::none).value() == array<double>({0.0, 4.0, 9.0}));
  const Tensor64 d = t({0.0, 2.0, -3.0}), zero = t({0.5, 0.0, 0.0});
  BOOST_TEST(huber_loss(d, zero, Reduction::none).value() == array<double>({0.125, 1.5, 2.5}));
  BOOST_TEST(huber_loss(d, zero, Reduction::none, 2.0).value() == array<double>({0.125, 2.0, 4.0}));
  const Tensor64 bce = binary_cross_entropy_with_logits(t({0.0, 100.0, -100.0}), t({1.0, 0.0, 0.5}), Reduction::none);
  BOOST_TEST(bce.value()(0) == std::log(2.0), tt::tolerance(1e-15));
  BOOST_TEST(bce.value()(1) == 100.0);  // log(1 + e^100) without overflow
  BOOST_TEST(bce.value()(2) == 50.0);
}

BOOST_AUTO_TEST_CASE(pointwise_loss_gradients_reach_input_and_target) {
  Tensor64 x = t({1.0, 2.0, -1.0}, true), y = t({1.5, 0.0, 0.0}, true);
  Tape tape;
  tape.backward(mse_loss(x, y) + huber_loss(x, y, Reduction::sum));
  // mse mean: 2 (x - y) / 3; huber sum: (x - y) clipped to [-1, 1]
  BOOST_TEST(x.grad()(0) == 2 * -0.5 / 3 - 0.5, tt::tolerance(1e-15));
  BOOST_TEST(x.grad()(1) == 2 * 2.0 / 3 + 1.0, tt::tolerance(1e-15));
  BOOST_TEST(y.grad()(2) == -(2 * -1.0 / 3 - 1.0), tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(nll_loss_picks_the_labelled_log_probability_and_skips_ignored_rows) {
  const Tensor64 lp = t({{-1.0, -2.0, -3.0}, {-0.5, -1.5, -2.5}, {-0.1, -0.2, -0.3}});
  const std::vector<int> labels{2, 0, -100};
  BOOST_TEST(nll_loss(lp, labels).item() == 1.75);  // (3 + 0.5) / 2: the ignored row does not count
  BOOST_TEST(nll_loss(lp, labels, {.reduction = Reduction::sum}).item() == 3.5);
  BOOST_TEST(nll_loss(lp, labels, {.reduction = Reduction::none}).value() == array<double>({3.0, 0.5, 0.0}));
  const std::vector<int> labels_2{2, 0, 1};
  BOOST_TEST(nll_loss(lp, labels_2, {.ignore_index = 2}).item() == (0.5 + 0.2) / 2, tt::tolerance(1e-15));  // row 0 ignored
}

BOOST_AUTO_TEST_CASE(cross_entropy_with_label_smoothing_matches_pytorch) {
  // torch.nn.functional.cross_entropy([[1, 2, 3]], [0], label_smoothing=0.1) = lse - (0.9 * 1 + 0.1 * mean(1, 2, 3))
  const Tensor64 z = t({{1.0, 2.0, 3.0}});
  const std::vector<int> label{0};
  BOOST_TEST(cross_entropy(z, label, {.label_smoothing = 0.1}).item() == 2.30760596444438, tt::tolerance(1e-14));
  BOOST_TEST(composed::cross_entropy(z, label, {.label_smoothing = 0.1}).item() == 2.30760596444438, tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(cross_entropy_mean_counts_only_rows_not_ignored) {
  const Tensor64 z = t({{1.0, 2.0, 3.0}, {5.0, 0.0, 0.0}});
  const std::vector<int> labels{0, -100}, first{0};
  const Tensor64 first_row = t({{1.0, 2.0, 3.0}});
  BOOST_TEST(cross_entropy(z, labels, {}).item() == cross_entropy(first_row, first).item(), tt::tolerance(1e-15));
  BOOST_TEST(cross_entropy(z, labels, {.reduction = Reduction::none}).value()(1) == 0.0);
  BOOST_TEST(std::isnan(cross_entropy(z, std::vector<int>{-100, -100}, {}).item()));  // 0 / 0, as in PyTorch
}

BOOST_AUTO_TEST_CASE(concat_joins_along_an_axis_and_splits_the_gradient_back) {
  Tensor64 a = t({{1.0, 2.0}, {3.0, 4.0}}, true), b = t(column({5.0, 6.0}), true);
  Tape tape;
  const Tensor64 c = concat<double>({a, b}, 1);
  BOOST_TEST(c.value() == array<double>({{1.0, 2.0, 5.0}, {3.0, 4.0, 6.0}}));
  BOOST_TEST(concat<double>({a, a}, 0).value() == array<double>({{1.0, 2.0}, {3.0, 4.0}, {1.0, 2.0}, {3.0, 4.0}}));
  tape.backward(sum(c * t({1.0, 10.0, 100.0})));
  BOOST_TEST(a.grad() == array<double>({{1.0, 10.0}, {1.0, 10.0}}));
  BOOST_TEST(b.grad() == column({100.0, 100.0}));
}

BOOST_AUTO_TEST_CASE(stack_adds_a_new_axis) {
  const Tensor64 a = t({1.0, 2.0, 3.0}), b = t({4.0, 5.0, 6.0});
  BOOST_TEST(stack<double>({a, b}).value() == array<double>({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}));
  BOOST_TEST(stack<double>({a, b}, -1).value() == array<double>({{1.0, 4.0}, {2.0, 5.0}, {3.0, 6.0}}));
}

BOOST_AUTO_TEST_CASE(slice_follows_python_rules) {
  Tensor64 x = t({{0.0, 1.0, 2.0, 3.0, 4.0}, {5.0, 6.0, 7.0, 8.0, 9.0}}, true);
  BOOST_TEST(slice(x, 1, 1, 3).value() == array<double>({{1.0, 2.0}, {6.0, 7.0}}));     // x[:, 1:3]
  BOOST_TEST(slice(x, 1, -2).value() == array<double>({{3.0, 4.0}, {8.0, 9.0}}));       // x[:, -2:]
  BOOST_TEST(slice(x, 1, 0, 100, 2).value() == array<double>({{0.0, 2.0, 4.0}, {5.0, 7.0, 9.0}}));  // x[:, ::2]
  BOOST_TEST(slice(x, 0, 1, 2).value() == array<double>({{5.0, 6.0, 7.0, 8.0, 9.0}}));  // x[1:2]
  BOOST_TEST(slice(x, 1, 4, 2).shape_vector() == (shape_type{2, 0}));                  // x[:, 4:2] is empty
  Tape tape;
  tape.backward(sum(slice(x, 1, 1, 5, 3)));  // x[:, 1::3]: columns 1 and 4
  BOOST_TEST(x.grad() == array<double>({{0.0, 1.0, 0.0, 0.0, 1.0}, {0.0, 1.0, 0.0, 0.0, 1.0}}));
}

BOOST_AUTO_TEST_CASE(index_select_adds_the_gradient_of_a_repeated_index) {
  Tensor64 w = t({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, true);
  Tape tape;
  const Tensor64 rows = index_select(w, 0, std::vector<int>{2, 0, 2, -1});
  BOOST_TEST(rows.value() == array<double>({{5.0, 6.0}, {1.0, 2.0}, {5.0, 6.0}, {5.0, 6.0}}));
  BOOST_TEST(index_select(w, 1, std::vector<int>{1}).value() == column({2.0, 4.0, 6.0}));
  tape.backward(sum(rows));
  BOOST_TEST(w.grad() == array<double>({{1.0, 1.0}, {0.0, 0.0}, {3.0, 3.0}}));
}

BOOST_AUTO_TEST_CASE(gather_picks_along_the_axis_like_torch_gather) {
  // torch.gather(torch.tensor([[1., 2.], [3., 4.]]), 1, torch.tensor([[0, 0], [1, 0]])) = [[1, 1], [4, 3]]
  Tensor64 x = t({{1.0, 2.0}, {3.0, 4.0}}, true);
  Tape tape;
  const Tensor64 g = gather(x, 1, array<int>{{0, 0}, {1, 0}});
  BOOST_TEST(g.value() == array<double>({{1.0, 1.0}, {4.0, 3.0}}));
  BOOST_TEST(gather(x, 0, array<int>{{1, 0}}).value() == array<double>({{3.0, 2.0}}));
  tape.backward(sum(g));
  BOOST_TEST(x.grad() == array<double>({{2.0, 0.0}, {1.0, 1.0}}));
}

BOOST_AUTO_TEST_CASE(var_and_std_biased_and_unbiased_by_hand) {
  const Tensor64 x = t({{1.0, 2.0, 3.0, 4.0}, {2.0, 2.0, 2.0, 2.0}});
  BOOST_TEST(var(x, {1}).value() == array<double>({5.0 / 3, 0.0}), tt::per_element());  // torch.var(x, 1)
  BOOST_TEST(var(x, {1}, false).value()(0) == 1.25);
  BOOST_TEST(stddev(x, {1}, false).value()(0) == std::sqrt(1.25), tt::tolerance(1e-15));
  BOOST_TEST(var(x).item() == 5.5 / 7, tt::tolerance(1e-14));  // over all 8 values (mean 2.25), / 7
  BOOST_TEST(var(x, {0}, true, true).shape_vector() == (shape_type{1, 4}));
  BOOST_TEST(var(x + 1e9, {1}).value()(0) == 5.0 / 3, tt::tolerance(1e-6));  // data far from zero keeps its digits
}

BOOST_AUTO_TEST_CASE(logsumexp_is_stable_and_its_gradient_is_the_softmax) {
  Tensor64 x = t({{1000.0, 1000.0}, {0.0, std::log(3.0)}}, true);
  Tape tape;
  const Tensor64 l = logsumexp(x, {1});
  BOOST_TEST(l.value()(0) == 1000.0 + std::log(2.0), tt::tolerance(1e-15));
  BOOST_TEST(l.value()(1) == std::log(4.0), tt::tolerance(1e-15));
  tape.backward(sum(l));
  BOOST_TEST(x.grad()(0, 0) == 0.5, tt::tolerance(1e-12));  // exp(1000 - (1000 + log 2)): 1000's rounding
  BOOST_TEST(x.grad()(1, 1) == 0.75, tt::tolerance(1e-15));
  BOOST_TEST(logsumexp(t({-INFINITY, -INFINITY})).item() == -INFINITY);
  BOOST_TEST(logsumexp(t({INFINITY, 1.0})).item() == INFINITY);
}

BOOST_AUTO_TEST_CASE(max_over_axes_shares_the_gradient_between_ties_like_amax) {
  Tensor64 x = t({{1.0, 4.0}, {4.0, 2.0}, {0.0, 3.0}}, true);
  Tape tape;
  const Tensor64 m = max(x);
  BOOST_TEST(m.item() == 4.0);
  BOOST_TEST(max(x, axes_type{0}).value() == array<double>({4.0, 4.0}));
  BOOST_TEST(min(x, axes_type{0, 1}, true).value() == column({0.0}));
  tape.backward(m);
  BOOST_TEST(x.grad() == array<double>({{0.0, 0.5}, {0.5, 0.0}, {0.0, 0.0}}));  // torch.amax: 1/2 each
  BOOST_TEST(std::isnan(max(t({1.0, NAN, 3.0})).item()));
}

BOOST_AUTO_TEST_CASE(max_and_min_with_indices_like_torch_max_with_a_dim) {
  Tensor64 x = t({{1.0, 5.0, 5.0}, {7.0, -2.0, 0.0}}, true);
  Tape tape;
  const auto [values, indices] = max_with_indices(x, 1);
  BOOST_TEST(values.value() == array<double>({5.0, 7.0}));
  BOOST_TEST(indices == (std::vector<std::int64_t>{1, 0}), tt::per_element());  // the first of tied maxima
  const auto lowest = min_with_indices(x, 0, true);
  BOOST_TEST(lowest.values.value() == array<double>({{1.0, -2.0, 0.0}}));
  BOOST_TEST(lowest.indices == (std::vector<std::int64_t>{0, 1, 1}), tt::per_element());
  BOOST_TEST(min(x, 1).value() == array<double>({1.0, -2.0}));
  tape.backward(sum(values));
  BOOST_TEST(x.grad() == array<double>({{0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}));
  BOOST_TEST(max_with_indices(t({1.0, NAN, 3.0}), 0).indices[0] == 1);  // NaN is the maximum, as in PyTorch
}

BOOST_AUTO_TEST_CASE(matmul_broadcasts_batches_and_treats_vectors_like_torch) {
  const Tensor64 a = t({{1.0, 2.0}, {3.0, 4.0}});
  const Tensor64 v = t({1.0, -1.0});
  BOOST_TEST(matmul(v, v).item() == 2.0);                                       // (2,) @ (2,): a scalar
  BOOST_TEST(matmul(a, v).value() == array<double>({-1.0, -1.0}));              // (2,2) @ (2,)
  BOOST_TEST(matmul(v, a).value() == array<double>({-2.0, -2.0}));              // (2,) @ (2,2)
  Tensor64 batch = t({{{1.0, 0.0}, {0.0, 1.0}}, {{2.0, 0.0}, {0.0, 2.0}}}, true);  // (2,2,2)
  Tensor64 left = t({{{1.0, 2.0}}}, true);                                          // (1,1,2)
  Tape tape;
  const Tensor64 c = matmul(left, batch);  // (1,1,2) @ (2,2,2) = (2,1,2)
  BOOST_TEST(c.value() == array<double>({{{1.0, 2.0}}, {{2.0, 4.0}}}));
  tape.backward(sum(c));
  BOOST_TEST(left.grad() == array<double>({{{3.0, 3.0}}}));  // summed over the batches it was used in
  BOOST_TEST(batch.grad() == array<double>({{{1.0, 1.0}, {2.0, 2.0}}, {{1.0, 1.0}, {2.0, 2.0}}}));
}
