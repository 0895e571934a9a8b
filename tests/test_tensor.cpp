// Tensor and Tape: recording, backward, accumulation, no-grad, reuse, and the errors users see.
#define BOOST_TEST_MODULE tensor
#include <boost/test/unit_test.hpp>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;

using testing::message_has;

BOOST_AUTO_TEST_CASE(backward_of_a_scalar_chain_gives_the_derivative) {
  Tensor64 w = Tensor64::scalar(3.0, true);
  Tape tape;
  Tensor64 j = w * w - 10.0 * w + 25.0;  // J'(w) = 2w - 10
  tape.backward(j);
  BOOST_TEST(j.item() == 4.0);
  BOOST_TEST(w.grad()() == -4.0);
}

BOOST_AUTO_TEST_CASE(a_tensor_used_twice_gets_the_sum_of_both_gradients) {
  Tensor64 x = Tensor64::scalar(2.0, true);
  Tape tape;
  Tensor64 y = x * x + x;  // dy/dx = 2x + 1
  tape.backward(y);
  BOOST_TEST(x.grad()() == 5.0);
}

BOOST_AUTO_TEST_CASE(gradients_accumulate_across_backward_calls_until_zeroed) {
  Tensor64 x = Tensor64::scalar(2.0, true);
  for (int i = 0; i < 2; ++i) {
    Tape tape;
    tape.backward(x * 3.0);
  }
  BOOST_TEST(x.grad()() == 6.0);
  x.zero_grad();
  BOOST_TEST(!x.has_grad());
}

BOOST_AUTO_TEST_CASE(tape_records_ops_in_creation_order_only_when_an_input_requires_grad) {
  Tensor64 a = Tensor64::ones({2}, true), c = Tensor64::ones({2});
  Tape tape;
  Tensor64 constant = c * c;
  BOOST_TEST(tape.size() == 0u);
  BOOST_TEST(!constant.requires_grad());
  Tensor64 y = exp(a * c);
  BOOST_TEST(tape.size() == 2u);
  BOOST_TEST(std::string(y.op()) == "exp");
}

BOOST_AUTO_TEST_CASE(non_scalar_backward_takes_a_seed) {
  Tensor64 x(array<double>{1.0, 2.0, 3.0}, true);
  Tape tape;
  Tensor64 y = x * x;
  BOOST_CHECK_THROW(tape.backward(y), shape_error);
  tape.backward(y, array<double>{1.0, 0.5, 0.0}, {.keep_graph = true});
  BOOST_TEST(x.grad()(0) == 2.0);
  BOOST_TEST(x.grad()(1) == 2.0);
  BOOST_TEST(x.grad()(2) == 0.0);
  BOOST_CHECK_THROW(tape.backward(y, array<double>{1.0, 2.0}), shape_error);
}

BOOST_AUTO_TEST_CASE(broadcast_inputs_get_gradients_of_their_own_shape) {
  Tensor64 a = Tensor64::ones({2, 3}, true);
  Tensor64 b(array<double>{1.0, 2.0, 3.0}, true);
  Tape tape;
  tape.backward(sum(a * b));
  BOOST_TEST(b.grad().shape().size() == 1u);
  BOOST_TEST(b.grad()(0) == 2.0);  // summed over the broadcast rows
  BOOST_TEST(a.grad()(1, 2) == 3.0);
}

BOOST_AUTO_TEST_CASE(no_grad_scope_records_nothing) {
  Tensor64 x = Tensor64::scalar(1.0, true);
  Tape tape;
  {
    NoGrad no_grad;
    Tensor64 y = x * 2.0;
    BOOST_TEST(!y.requires_grad());
  }
  BOOST_TEST(tape.size() == 0u);
  BOOST_TEST(grad_enabled());
}

BOOST_AUTO_TEST_CASE(detach_cuts_the_graph) {
  Tensor64 x = Tensor64::scalar(2.0, true);
  Tape tape;
  Tensor64 d = (x * x).detach();
  BOOST_TEST(!d.requires_grad());
  BOOST_TEST(d.item() == 4.0);
  Tensor64 y = x * d;  // d is a constant now: dy/dx = d
  tape.backward(y);
  BOOST_TEST(x.grad()() == 4.0);
}

BOOST_AUTO_TEST_CASE(backward_on_a_tensor_not_on_the_tape_is_an_error) {
  Tensor64 x = Tensor64::scalar(2.0, true);
  Tape tape;
  try {
    tape.backward(x);
    BOOST_FAIL("expected graph_error");
  } catch (const graph_error& e) {
    BOOST_TEST(message_has(e, {"not on this tape"}));
  }
  Tensor64 y;
  {
    Tape other;
    y = x * 2.0;
  }
  BOOST_CHECK_THROW(tape.backward(y), graph_error);
}

BOOST_AUTO_TEST_CASE(backward_twice_through_a_freed_graph_is_an_error) {
  Tensor64 x = Tensor64::scalar(2.0, true);
  Tape tape;
  Tensor64 y = x * x;
  tape.backward(y);
  try {
    tape.backward(y);
    BOOST_FAIL("expected graph_error");
  } catch (const graph_error& e) {
    BOOST_TEST(message_has(e, {"freed", "keep_graph"}));
  }
}

BOOST_AUTO_TEST_CASE(keep_graph_allows_a_second_backward_with_the_same_gradient) {
  Tensor64 x = Tensor64::scalar(3.0, true);
  Tape tape;
  Tensor64 y = exp(x * x);
  tape.backward(y, {.keep_graph = true});  // braced, as docs/concepts.md writes it
  const double first = x.grad()();
  tape.backward(y);
  BOOST_TEST(x.grad()() == 2 * first, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(shape_mismatch_names_the_op_and_both_shapes) {
  Tensor64 a = Tensor64::ones({2, 3}), b = Tensor64::ones({4});
  try {
    (void)add(a, b);
    BOOST_FAIL("expected shape_error");
  } catch (const shape_error& e) {
    BOOST_TEST(message_has(e, {"add", "(2, 3)", "(4,)"}));
  }
  try {
    (void)matmul(a, Tensor64::ones({2, 3}));
    BOOST_FAIL("expected shape_error");
  } catch (const shape_error& e) {
    BOOST_TEST(message_has(e, {"matmul", "(2, 3)"}));
  }
}

BOOST_AUTO_TEST_CASE(axis_out_of_range_is_a_value_error) {
  Tensor64 a = Tensor64::ones({2, 3});
  try {
    (void)sum(a, {2});
    BOOST_FAIL("expected value_error");
  } catch (const value_error& e) {
    BOOST_TEST(message_has(e, {"sum", "axis 2", "rank 2"}));
  }
  BOOST_CHECK_THROW((void)max(a, -3), value_error);
  BOOST_CHECK_THROW((void)reshape(a, {4, -1}), shape_error);
}

BOOST_AUTO_TEST_CASE(a_cleared_tape_reuses_its_buffers_for_repeating_shapes) {
  Tensor w = Tensor::ones({64, 64}, true);
  Tape tape;
  std::vector<const float*> hidden_buffer;
  for (int step = 0; step < 3; ++step) {
    {
      Tensor h = relu(matmul(w, w));
      tape.backward(sum(h));
      hidden_buffer.push_back(h.value().data());
    }
    tape.clear();  // nothing holds this step's outputs now: their buffers go back to the tape
  }
  BOOST_TEST(tape.size() == 0u);
  BOOST_TEST((hidden_buffer[1] == hidden_buffer[2]));  // steady state: the same buffer each step
}

BOOST_AUTO_TEST_CASE(float32_is_the_default_and_float64_is_available) {
  Tensor f = Tensor::ones({2});
  Tensor64 d = Tensor64::ones({2});
  static_assert(std::is_same_v<decltype(f)::value_type, float>);
  static_assert(std::is_same_v<decltype(d)::value_type, double>);
  BOOST_TEST(sum(f).item() == 2.0f);
}

BOOST_AUTO_TEST_CASE(the_tape_names_the_first_op_that_produced_a_non_finite_value) {
  Tensor64 x(array<double>{1.0, -1.0}, true);
  Tape tape;
  Tensor64 ok = x * 2.0;
  BOOST_TEST(!tape.first_non_finite().has_value());
  Tensor64 bad = log(ok);  // log(-2) is NaN
  Tensor64 worse = bad * 3.0;
  auto record = tape.first_non_finite();
  BOOST_TEST_REQUIRE(record.has_value());
  BOOST_TEST(std::string(record->op) == "log");
  BOOST_TEST(record->index == 1u);
}

namespace {
struct AnomalyMode {
  AnomalyMode() { set_detect_anomaly(true); }
  ~AnomalyMode() { set_detect_anomaly(false); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_forward_op_the_step_and_the_input_ranges) {
  AnomalyMode on;
  Tensor64 x(array<double>{1.0, -2.0}, true);
  Tape tape;
  try {
    (void)log(x * 1.0);
    BOOST_FAIL("expected numeric_error");
  } catch (const numeric_error& e) {
    BOOST_TEST(message_has(e, {"'log'", "step 1", "input 0 ('affine') range [-2"}));
  }
}

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_backward_op_that_made_a_gradient_non_finite) {
  AnomalyMode on;
  Tensor64 x(array<double>{0.0, 4.0}, true);
  Tape tape;
  Tensor64 y = sum(sqrt(x));  // finite forward; d sqrt(x)/dx = 1 / (2 sqrt(x)) is Inf at 0
  try {
    tape.backward(y);
    BOOST_FAIL("expected numeric_error");
  } catch (const numeric_error& e) {
    BOOST_TEST(message_has(e, {"backward of op 'sqrt'", "input 0 ('leaf')"}));
  }
}

BOOST_AUTO_TEST_CASE(without_anomaly_mode_non_finite_values_pass_silently) {
  Tensor64 x(array<double>{0.0, -1.0}, true);
  Tape tape;
  Tensor64 y = sum(sqrt(x));
  BOOST_CHECK_NO_THROW(tape.backward(y));
  BOOST_TEST(std::isnan(y.item()));
}
