// A user's own differentiable op, written as an outside program would: only <xgrad/xgrad.hpp>,
// nothing from xg::detail.
#define BOOST_TEST_MODULE custom_op
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <xgrad/xgrad.hpp>

using namespace xg;

namespace {
// softsign(x) = x / (1 + |x|), d/dx = 1 / (1 + |x|)^2.
template <class T>
TensorT<T> softsign(const TensorT<T>& x) {
  array<T> y = x.value() / (T(1) + xt::abs(x.value()));
  return custom_op<T>("softsign", std::move(y), {x}, [x](const array<T>& g, const array<T>&) {
    const array<T> d = T(1) / xt::square(T(1) + xt::abs(x.value()));
    return InputGradients<T>{array<T>(g * d)};
  });
}

// a * b with a broadcast b, whose backward returns the unreduced gradient (summed back for it).
template <class T>
TensorT<T> scaled(const TensorT<T>& a, const TensorT<T>& b, bool wrong = false) {
  array<T> y = a.value() * b.value();
  return custom_op<T>("scaled", std::move(y), {a, b}, [a, b, wrong](const array<T>& g, const array<T>&) {
    array<T> ga = g * b.value();
    if (wrong) ga *= T(2);
    return InputGradients<T>{std::move(ga), array<T>(g * a.value())};
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_custom_op_passes_the_gradient_check) {
  const Tensor64 x(array<double>{{-1.5, 0.3, 2.0}, {0.7, -0.2, 1.1}});
  const GradcheckResult r = gradcheck([](const std::vector<Tensor64>& in) { return softsign(in[0]); }, {x}, {}, "softsign");
  BOOST_TEST(r.passed, r.report());
}

BOOST_AUTO_TEST_CASE(a_custom_op_gradient_of_a_broadcast_input_is_summed_back) {
  const Tensor64 a(array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  const Tensor64 b(array<double>{0.5, -1.0, 2.0});
  const GradcheckResult r = gradcheck([](const std::vector<Tensor64>& in) { return scaled(in[0], in[1]); }, {a, b}, {}, "scaled");
  BOOST_TEST(r.passed, r.report());
}

BOOST_AUTO_TEST_CASE(a_custom_op_with_a_wrong_backward_fails_the_check) {
  const Tensor64 a(array<double>{{1.0, 2.0}}), b(array<double>{3.0, -1.0});
  const GradcheckResult r =
      gradcheck([](const std::vector<Tensor64>& in) { return scaled(in[0], in[1], true); }, {a, b}, {}, "wrong");
  BOOST_TEST(!r.passed);
}

BOOST_AUTO_TEST_CASE(a_custom_op_composes_with_built_in_ops_on_the_tape) {
  Tensor x(array<float>{0.0f, 1.0f}, true);
  Tape tape;
  tape.backward(sum(softsign(x * 2.0f)));
  BOOST_TEST(x.grad()[0] == 2.0f);
  BOOST_TEST(x.grad()[1] == 2.0f / 9.0f, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(a_backward_returning_the_wrong_number_of_gradients_is_a_graph_error) {
  Tensor x(array<float>{1.0f}, true);
  Tape tape;
  Tensor y = custom_op<float>("broken", array<float>(x.value()), {x},
                              [](const array<float>&, const array<float>&) { return InputGradients<float>{}; });
  BOOST_CHECK_THROW(tape.backward(sum(y)), graph_error);
}

BOOST_AUTO_TEST_CASE(a_custom_op_under_no_grad_records_nothing) {
  Tensor x(array<float>{1.0f}, true);
  Tape tape;
  NoGrad off;
  Tensor y = softsign(x);
  BOOST_TEST(!y.requires_grad());
  BOOST_TEST(tape.size() == 0u);
}
