// The gradient check: every registered op, a checker that can fail, and whole composed graphs.
#define BOOST_TEST_MODULE gradcheck
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <iostream>
#include <xgrad/detail/elementwise.hpp>
#include <xgrad/xgrad.hpp>

using namespace xg;

// One test case per registry row, named for the op: `--run_test=registry/relu` checks one op.
void check_op(const OpEntry& op) {
  BOOST_TEST(!op.cases.empty(), "op " << op.name << " has no gradient-check samples");
  double worst = 0;
  for (std::size_t i = 0; i < op.cases.size(); ++i) {
    const OpCase& c = op.cases[i];
    GradcheckResult r = gradcheck(c.apply, sample_inputs(op, c, 1000 + i), {}, op.name + " " + c.label);
    BOOST_TEST(r.passed, r.report());
    BOOST_TEST(r.elements_checked > 0u);
    worst = std::max(worst, r.worst_relative_error);
  }
  std::cout << "gradcheck " << op.name << ": " << op.cases.size() << " cases, worst relative error " << worst << "\n";
}

// Test names may hold letters, digits and '_' only: "batch_norm (composed)" becomes batch_norm__composed_.
std::string test_name(const std::string& op) {
  std::string name = op;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

struct RegistrySuite {
  RegistrySuite() {
    auto* suite = BOOST_TEST_SUITE("registry");
    for (const OpEntry& op : op_registry())
      suite->add(boost::unit_test::make_test_case([&op] { check_op(op); }, test_name(op.name), __FILE__, __LINE__));
    boost::unit_test::framework::master_test_suite().add(suite);
  }
} const registry_suite;

BOOST_AUTO_TEST_CASE(the_registry_has_rows) { BOOST_TEST(op_registry().size() > 20u); }

// A test-only op whose backward is deliberately wrong (it forgets the factor 2 of d(x^2)/dx).
template <class T>
TensorT<T> wrong_square(const TensorT<T>& x) {
  return detail::unary_op<detail::Kernel::loops>(
      "wrong_square", x, [](T v) { return v * v; }, [](T in, T) { return in; });
}

BOOST_AUTO_TEST_CASE(the_checker_catches_a_wrong_backward) {
  Tensor64 x(array<double>{0.5, -1.5, 2.0});
  GradcheckResult r = gradcheck([](const std::vector<Tensor64>& in) { return wrong_square(in[0]); }, {x}, {}, "wrong_square");
  BOOST_TEST(!r.passed);
  BOOST_TEST(r.report().find("FAILED") != std::string::npos);
  BOOST_TEST(r.analytic * 2 == r.numeric, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(the_checker_catches_a_missing_gradient) {
  // The output depends on x, but the op is recorded as a constant: no gradient reaches x.
  Tensor64 x(array<double>{0.5, 1.5});
  GradcheckResult r = gradcheck([](const std::vector<Tensor64>& in) { return exp(in[0].detach()); }, {x});
  BOOST_TEST(!r.passed);
}

BOOST_AUTO_TEST_CASE(a_two_layer_mlp_loss_checks_against_every_parameter) {
  // x(4,3) -> Linear(3,5) -> tanh -> Linear(5,2) -> mean squared error against fixed targets.
  const OpEntry shapes{"mlp", {{"mlp", {{4, 3}, {3, 5}, {5}, {5, 2}, {2}}, nullptr}}};
  std::vector<Tensor64> inputs = sample_inputs(shapes, shapes.cases[0], 7);
  const Tensor64 target(array<double>{{1.0, 0.0}, {0.0, 1.0}, {0.5, 0.5}, {-1.0, 2.0}});
  auto loss = [&](const std::vector<Tensor64>& p) {
    Tensor64 h = tanh(matmul(p[0], p[1]) + p[2]);
    Tensor64 y = matmul(h, p[3]) + p[4];
    return mean(pow(y - target, 2.0));
  };
  GradcheckResult r = gradcheck(loss, inputs, {}, "two-layer MLP");
  std::cout << "gradcheck " << r.report() << "\n";
  BOOST_TEST(r.passed, r.report());
  BOOST_TEST(r.elements_checked == 12u + 15u + 5u + 10u + 2u);
}

BOOST_AUTO_TEST_CASE(a_graph_reusing_a_tensor_checks) {
  Tensor64 x(array<double>{{0.3, -0.7}, {1.1, 0.4}});
  auto f = [](const std::vector<Tensor64>& in) { return sum(sigmoid(in[0]) * in[0] + matmul(in[0], in[0]), {0}); };
  GradcheckResult r = gradcheck(f, {x}, {}, "reuse");
  BOOST_TEST(r.passed, r.report());
}
