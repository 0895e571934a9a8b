// conv2d, the pooling ops and flatten: hand-worked values, the output-size rule, bad shapes, the
// max-pool tie rule, and the float32 oneDNN path against the float64 reference path.
#define BOOST_TEST_MODULE conv
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <random>
#include <xgrad/detail/conv.hpp>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;
using testing::message_of;

namespace {
template <class T>
TensorT<T> arange(const shape_type& shape, double start = 1, double step = 1, bool requires_grad = true) {
  array<T> v = array<T>::from_shape(shape);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = T(start + step * double(i));
  return TensorT<T>(std::move(v), requires_grad);
}

array<double> random_values(const shape_type& shape, std::mt19937& gen) {
  std::uniform_real_distribution<double> u(-1, 1);
  array<double> v = array<double>::from_shape(shape);
  for (auto& x : v) x = u(gen);
  return v;
}

template <class T>
std::vector<T> values(const array<T>& a) {
  return {a.begin(), a.end()};
}

// The largest |a - b| relative to the largest |b| (the float64 result).
double relative_difference(const array<float>& a, const array<double>& b) {
  double diff = 0, scale = 1e-12;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(double(a.data()[i]) - b.data()[i]));
    scale = std::max(scale, std::abs(b.data()[i]));
  }
  return diff / scale;
}

// f on float32 (oneDNN) and on float64 (the reference path), from the same random inputs and the
// same random seed gradient: the outputs and every input's gradient agree to float32's precision.
using Op32 = std::function<Tensor(const std::vector<Tensor>&)>;
using Op64 = std::function<Tensor64(const std::vector<Tensor64>&)>;
void check_paths_agree(const std::vector<shape_type>& shapes, const Op32& f32, const Op64& f64, unsigned seed,
                       double tolerance = 1e-5) {
  std::mt19937 gen(seed);
  std::vector<Tensor> in32;
  std::vector<Tensor64> in64;
  for (const auto& s : shapes) {
    array<double> v = random_values(s, gen);
    in64.emplace_back(v, true);
    in32.emplace_back(xt::cast<float>(v), true);
  }
  Tape tape;
  Tensor64 y64 = f64(in64);
  Tensor y32 = f32(in32);
  const array<double> seed_grad = random_values(y64.shape_vector(), gen);
  tape.backward(y64, seed_grad);
  tape.backward(y32, array<float>(xt::cast<float>(seed_grad)));
  BOOST_TEST(relative_difference(y32.value(), y64.value()) < tolerance);
  for (std::size_t i = 0; i < shapes.size(); ++i)
    BOOST_TEST(relative_difference(in32[i].grad(), in64[i].grad()) < tolerance, "gradient of input " << i);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(conv2d_op)

BOOST_AUTO_TEST_CASE(a_convolution_sums_each_window_times_the_filter) {
  // x = 1..9 as 3x3, a 2x2 filter (1, 0; 0, -1): each output is x[i][j] - x[i+1][j+1] = -4; a bias of 0.5.
  for (int dtype = 0; dtype < 2; ++dtype) {
    const auto check = [](auto x, auto w, auto b) {
      auto y = conv2d(x, w, b);
      BOOST_TEST(y.shape_vector() == (shape_type{1, 1, 2, 2}));
      for (auto v : y.value()) BOOST_TEST(v == -3.5);
    };
    if (dtype == 0)
      check(arange<float>({1, 1, 3, 3}), Tensor(array<float>{{{{1, 0}, {0, -1}}}}), Tensor(array<float>{0.5f}));
    else
      check(arange<double>({1, 1, 3, 3}), Tensor64(array<double>{{{{1, 0}, {0, -1}}}}), Tensor64(array<double>{0.5}));
  }
}

BOOST_AUTO_TEST_CASE(the_output_size_is_the_course_formula) {
  // (W - F + 2P) / S + 1, rounded down: 28 with F 5 P 2 S 1; (28 - 5 + 4) / 2 + 1 = 14; non-square.
  const Tensor x = Tensor::zeros({2, 3, 28, 20});
  BOOST_TEST(conv2d(x, Tensor::zeros({4, 3, 5, 5}), {.padding = 2}).shape_vector() == (shape_type{2, 4, 28, 20}));
  BOOST_TEST(conv2d(x, Tensor::zeros({4, 3, 5, 5}), {.stride = 2, .padding = 2}).shape_vector() == (shape_type{2, 4, 14, 10}));
  BOOST_TEST(conv2d(x, Tensor::zeros({4, 3, 3, 1}), {.stride = {1, 2}}).shape_vector() == (shape_type{2, 4, 26, 10}));
  BOOST_TEST(conv2d(x, Tensor::zeros({4, 3, 3, 3}), {.dilation = 2}).shape_vector() == (shape_type{2, 4, 24, 16}));
}

BOOST_AUTO_TEST_CASE(shapes_that_cannot_work_throw_shape_errors_naming_the_op_and_shapes) {
  const Tensor x = Tensor::zeros({1, 4, 5, 5});
  const std::string too_big = message_of<shape_error>([&] { conv2d(x, Tensor::zeros({2, 4, 7, 3})); });
  BOOST_TEST(testing::message_has(shape_error(too_big), {"conv2d", "height 7", "(1, 4, 5, 5)", "(2, 4, 7, 3)"}));
  const std::string channels = message_of<shape_error>([&] { conv2d(x, Tensor::zeros({2, 3, 3, 3})); });
  BOOST_TEST(testing::message_has(shape_error(channels), {"conv2d", "channels", "(2, 3, 3, 3)"}));
  const std::string groups = message_of<shape_error>([&] { conv2d(x, Tensor::zeros({3, 2, 3, 3}), {.groups = 2}); });
  BOOST_TEST(testing::message_has(shape_error(groups), {"conv2d", "groups", "(3, 2, 3, 3)"}));
  const std::string bias = message_of<shape_error>([&] { conv2d(x, Tensor::zeros({2, 4, 3, 3}), Tensor::zeros({3})); });
  BOOST_TEST(testing::message_has(shape_error(bias), {"conv2d", "bias", "(3,)"}));
  BOOST_TEST(message_of<shape_error>([&] { conv2d(Tensor::zeros({4, 5, 5}), Tensor::zeros({2, 4, 3, 3})); }) != "no error");
}

BOOST_AUTO_TEST_CASE(the_float32_onednn_path_agrees_with_the_float64_reference) {
  struct Case {
    shape_type x, w;
    bool bias;
    Conv2dOptions options;
  };
  const Case cases[] = {
      {{4, 3, 9, 9}, {8, 3, 3, 3}, true, {.padding = 1}},
      {{2, 1, 28, 28}, {6, 1, 5, 5}, false, {.padding = 2}},
      {{3, 4, 10, 7}, {6, 4, 3, 2}, true, {.stride = {2, 1}, .padding = {1, 0}}},
      {{2, 6, 8, 8}, {9, 2, 3, 3}, true, {.padding = 1, .groups = 3}},
      {{2, 2, 11, 9}, {3, 2, 3, 3}, false, {.stride = 2, .padding = 2, .dilation = 2}},
      {{2, 5, 6, 6}, {4, 5, 1, 1}, true, {}},
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("x " << shape_string(c.x) << " w " << shape_string(c.w)) {
      std::vector<shape_type> shapes{c.x, c.w};
      if (c.bias) shapes.push_back({c.w[0]});
      check_paths_agree(
          shapes,
          [&](const std::vector<Tensor>& in) { return c.bias ? conv2d(in[0], in[1], in[2], c.options) : conv2d(in[0], in[1], c.options); },
          [&](const std::vector<Tensor64>& in) {
            return c.bias ? conv2d(in[0], in[1], in[2], c.options) : conv2d(in[0], in[1], c.options);
          },
          seed++);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradients_add_up_when_an_input_is_used_twice) {
  // The second use adds to the first's gradient (oneDNN's kernels overwrite: xgrad adds its result).
  for (int twice = 0; twice < 2; ++twice) {
    Tensor x = arange<float>({1, 2, 4, 4}, -1, 0.1), w = arange<float>({3, 2, 3, 3}, 0.5, -0.05);
    Tape tape;
    Tensor y = sum(conv2d(x, w, {.padding = 1}) * conv2d(x, w, {.padding = 1}));
    tape.backward(y);
    Tensor64 x64 = arange<double>({1, 2, 4, 4}, -1, 0.1), w64 = arange<double>({3, 2, 3, 3}, 0.5, -0.05);
    Tensor64 y64 = sum(conv2d(x64, w64, {.padding = 1}) * conv2d(x64, w64, {.padding = 1}));
    tape.backward(y64);
    BOOST_TEST(relative_difference(x.grad(), x64.grad()) < 1e-5);
    BOOST_TEST(relative_difference(w.grad(), w64.grad()) < 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(steady_state_calls_create_no_primitives) {
  const Tensor x = arange<float>({2, 3, 8, 8}), w = arange<float>({4, 3, 3, 3});
  const auto step = [&] {
    Tape tape;
    Tensor y = sum(max_pool2d(conv2d(x, w, {.padding = 1}), 2));
    tape.backward(y);
  };
  step();
  const std::size_t created = detail::onednn::primitives_created();
  step();
  step();
  BOOST_TEST(created > 0u);
  BOOST_TEST(detail::onednn::primitives_created() == created);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pooling)

BOOST_AUTO_TEST_CASE(max_pool_takes_each_windows_maximum) {
  const Tensor x = arange<float>({1, 1, 4, 4});  // 1..16
  BOOST_TEST(values(max_pool2d(x, 2).value()) == (std::vector<float>{6, 8, 14, 16}));
  // 3x3 windows at stride 1 with padding 1: the padding never wins, even over negatives.
  const Tensor64 negative = arange<double>({1, 1, 2, 2}, -4);  // -4 -3 / -2 -1
  BOOST_TEST(values(max_pool2d(negative, 3, {.stride = 1, .padding = 1}).value()) == (std::vector<double>{-1, -1, -1, -1}));
}

BOOST_AUTO_TEST_CASE(a_tied_window_sends_its_gradient_to_its_first_maximum) {
  // Two windows of four equal values; the first in row-major order gets all of each window's gradient.
  const auto check = [](auto x) {
    Tape tape;
    tape.backward(sum(max_pool2d(x, 2)));
    using T = typename decltype(x)::value_type;
    static constexpr int first_of_each_window[] = {1, 0, 1, 0, 0, 0, 0, 0};
    for (std::size_t i = 0; i < 8; ++i) BOOST_TEST(x.grad().data()[i] == T(first_of_each_window[i]), "element " << i);
  };
  check(Tensor::full({1, 1, 2, 4}, 3.0f, true));
  check(Tensor64::full({1, 1, 2, 4}, 3.0, true));
}

BOOST_AUTO_TEST_CASE(avg_pool_divides_by_the_window_with_or_without_its_padding) {
  const Tensor64 x = Tensor64::ones({1, 1, 2, 2});
  // 3x3 windows around each element see four ones: 4/9 when padding counts, 4/4 when it does not.
  const Tensor64 counted = avg_pool2d(x, 3, {.stride = 1, .padding = 1});
  const Tensor64 uncounted = avg_pool2d(x, 3, {.stride = 1, .padding = 1, .count_padding = false});
  const Tensor uncounted32 = avg_pool2d(Tensor::ones({1, 1, 2, 2}), 3, {.stride = 1, .padding = 1, .count_padding = false});
  BOOST_TEST(values(counted.value()) == std::vector<double>(4, 4.0 / 9), boost::test_tools::tolerance(1e-12) << boost::test_tools::per_element());
  BOOST_TEST(values(uncounted.value()) == std::vector<double>(4, 1.0), boost::test_tools::per_element());
  BOOST_TEST(values(uncounted32.value()) == std::vector<float>(4, 1.0f), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_float32_onednn_pooling_agrees_with_the_float64_reference) {
  using Pool32 = std::function<Tensor(const Tensor&)>;
  using Pool64 = std::function<Tensor64(const Tensor64&)>;
  const std::vector<std::tuple<std::string, Pool32, Pool64>> pools = {
      {"max 2", [](const Tensor& x) { return max_pool2d(x, 2); }, [](const Tensor64& x) { return max_pool2d(x, 2); }},
      {"max 3 stride 2 pad 1", [](const Tensor& x) { return max_pool2d(x, 3, {.stride = 2, .padding = 1}); },
       [](const Tensor64& x) { return max_pool2d(x, 3, {.stride = 2, .padding = 1}); }},
      {"avg 3 stride 1 pad 1", [](const Tensor& x) { return avg_pool2d(x, 3, {.stride = 1, .padding = 1}); },
       [](const Tensor64& x) { return avg_pool2d(x, 3, {.stride = 1, .padding = 1}); }},
      {"avg (2,3) no padding count", [](const Tensor& x) { return avg_pool2d(x, {2, 3}, {.padding = {1, 1}, .count_padding = false}); },
       [](const Tensor64& x) { return avg_pool2d(x, {2, 3}, {.padding = {1, 1}, .count_padding = false}); }},
      {"global avg", [](const Tensor& x) { return global_avg_pool2d(x); }, [](const Tensor64& x) { return global_avg_pool2d(x); }},
  };
  for (const auto& [name, p32, p64] : pools)
    BOOST_TEST_CONTEXT(name) {
      check_paths_agree({{3, 4, 9, 8}}, [&](const std::vector<Tensor>& in) { return p32(in[0]); },
                        [&](const std::vector<Tensor64>& in) { return p64(in[0]); }, 7);
    }
}

BOOST_AUTO_TEST_CASE(global_avg_pool_gives_each_channel_its_mean) {
  const Tensor x = arange<float>({2, 3, 2, 2});  // channel p holds 4p+1 .. 4p+4
  BOOST_TEST(values(global_avg_pool2d(x).value()) == (std::vector<float>{2.5, 6.5, 10.5, 14.5, 18.5, 22.5}));
}

BOOST_AUTO_TEST_CASE(bad_windows_throw_naming_the_op) {
  const Tensor x = Tensor::zeros({1, 1, 3, 3});
  BOOST_TEST(testing::message_has(shape_error(message_of<shape_error>([&] { max_pool2d(x, 4); })), {"max_pool2d", "(1, 1, 3, 3)"}));
  BOOST_TEST(testing::message_has(value_error(message_of<value_error>([&] { avg_pool2d(x, 2, {.padding = 2}); })), {"avg_pool2d", "half"}));
  BOOST_TEST(message_of<shape_error>([&] { global_avg_pool2d(Tensor::zeros({3, 3})); }) != "no error");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(flatten_merges_the_axes_from_start_axis_on) {
  const Tensor x = arange<float>({2, 3, 4, 5});
  BOOST_TEST(flatten(x).shape_vector() == (shape_type{2, 60}));
  BOOST_TEST(flatten(x, 2).shape_vector() == (shape_type{2, 3, 20}));
  BOOST_TEST(flatten(x, 0).shape_vector() == (shape_type{120}));
  BOOST_TEST(values(flatten(x).value()) == values(x.value()));
}
