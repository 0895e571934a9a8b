// The tape under misuse: tapes and no-grad scopes ended in any order or on another thread, deep
// graphs, backward through freed graphs, values changed in place before backward, and the hooks
// that fire when a leaf's gradient is final.
#define BOOST_TEST_MODULE tape
#include <boost/test/unit_test.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;

using testing::message_of;

BOOST_AUTO_TEST_CASE(tapes_destroyed_out_of_order_leave_the_newest_live_one_active) {
  auto outer = std::make_unique<Tape>();
  auto inner = std::make_unique<Tape>();
  outer.reset();  // out of order: the inner tape is still alive and stays active
  BOOST_TEST(Tape::active() == inner.get());
  Tensor64 x = Tensor64::scalar(2.0, true);
  Tensor64 y = x * x;
  inner->backward(y);
  BOOST_TEST(x.grad()() == 4.0);
  inner.reset();
  BOOST_TEST(Tape::active() == nullptr);
  Tensor64 z = x * x;  // no tape: a constant, and no use of a destroyed tape
  BOOST_TEST(std::string(z.op()) == "mul");
}

BOOST_AUTO_TEST_CASE(a_tape_destroyed_on_another_thread_is_no_longer_active_here) {
  auto tape = std::make_unique<Tape>();
  std::thread([&] { tape.reset(); }).join();
  BOOST_TEST(Tape::active() == nullptr);
  Tensor64 x = Tensor64::scalar(1.0, true);
  Tensor64 y = exp(x);  // records on nothing
  BOOST_TEST(y.value()() == std::exp(1.0));
}

BOOST_AUTO_TEST_CASE(tapes_are_per_thread) {
  Tape here;
  Tape* seen_there = &here;
  std::thread([&] { seen_there = Tape::active(); }).join();
  BOOST_TEST(seen_there == nullptr);
  BOOST_TEST(Tape::active() == &here);
}

BOOST_AUTO_TEST_CASE(no_grad_scopes_ended_out_of_order_turn_gradients_back_on) {
  auto a = std::make_unique<NoGrad>();
  auto b = std::make_unique<NoGrad>();
  a.reset();
  BOOST_TEST(!grad_enabled());
  b.reset();
  BOOST_TEST(grad_enabled());
}

BOOST_AUTO_TEST_CASE(a_deep_graph_dropped_without_backward_is_released_without_recursion) {
  // 300,000 chained ops: a recursive release of the closures overflowed the stack.
  Tensor x = Tensor::scalar(1.0f, true);
  {
    Tape tape;
    Tensor y = x;
    for (int i = 0; i < 300000; ++i) y = y * 1.0f;
  }  // y goes first, then the tape's records, the newest last: it holds the whole chain
  {
    Tensor y = x;
    Tape tape;
    for (int i = 0; i < 300000; ++i) y = y * 1.0f;
  }  // the tape dies first, then y and the whole chain with it
  BOOST_TEST(x.value()() == 1.0f);
}

BOOST_AUTO_TEST_CASE(backward_through_a_graph_freed_by_an_earlier_backward_is_a_graph_error) {
  Tensor64 x = Tensor64::scalar(1.0, true);
  Tape tape;
  Tensor64 y = x * 2.0;
  tape.backward(sum(y));
  const std::string message = message_of<graph_error>([&] { tape.backward(sum(y * 3.0)); });
  BOOST_TEST(message.find("freed by an earlier backward") != std::string::npos, message);
  BOOST_TEST(message.find("keep_graph") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keep_graph_allows_a_second_backward_through_the_same_subgraph) {
  Tensor64 x = Tensor64::scalar(1.0, true);
  Tape tape;
  Tensor64 y = x * 2.0;
  tape.backward(sum(y), {.keep_graph = true});
  tape.backward(sum(y * 3.0));
  BOOST_TEST(x.grad()() == 2.0 + 6.0);
}

BOOST_AUTO_TEST_CASE(backward_after_clear_says_the_tape_was_cleared) {
  Tensor64 x = Tensor64::scalar(1.0, true);
  Tape tape;
  Tensor64 y = exp(x);
  tape.clear();
  const std::string message = message_of<graph_error>([&] { tape.backward(y); });
  BOOST_TEST(message.find("tape.clear()") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(an_input_changed_in_place_before_backward_is_named) {
  Tensor64 x(array<double>{1.0, 2.0}, true);
  Tape tape;
  Tensor64 loss = sum(x * x);
  x.mutable_value()[0] = 10.0;
  const std::string message = message_of<graph_error>([&] { tape.backward(loss); });
  BOOST_TEST(message.find("op 'mul'") != std::string::npos, message);
  BOOST_TEST(message.find("modified in place") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(an_output_changed_in_place_before_backward_is_named) {
  Tensor64 x(array<double>{1.0, 2.0}, true);
  Tape tape;
  Tensor64 y = exp(x);  // exp's backward reads its output
  Tensor64 loss = sum(y);
  y.mutable_value()[1] = 0.0;
  const std::string message = message_of<graph_error>([&] { tape.backward(loss); });
  BOOST_TEST(message.find("op 'exp'") != std::string::npos, message);
  BOOST_TEST(message.find("its own output") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(an_optimizer_step_between_two_backwards_of_a_kept_graph_is_caught) {
  Tensor w(array<float>{1.0f, -1.0f}, true);
  optim::Optimizer opt({w}, optim::sgd(0.1));
  Tape tape;
  Tensor loss = sum(w * w);
  tape.backward(loss, {.keep_graph = true});
  opt.step();
  BOOST_CHECK_THROW(tape.backward(loss), graph_error);
}

BOOST_AUTO_TEST_CASE(ops_that_do_not_read_their_inputs_allow_in_place_changes) {
  // add's gradient does not depend on the values, so (as in PyTorch) changing one is harmless.
  Tensor64 x(array<double>{1.0, 2.0}, true);
  Tape tape;
  Tensor64 loss = sum(x + 1.0);
  x.mutable_value()[0] = 10.0;
  tape.backward(loss);
  BOOST_TEST(x.grad()[0] == 1.0);
}

BOOST_AUTO_TEST_CASE(a_grad_ready_hook_fires_once_the_last_contribution_is_in) {
  Tensor64 w = Tensor64::scalar(3.0, true);
  Tensor64 b = Tensor64::scalar(1.0, true);
  std::vector<std::pair<std::string, double>> seen;
  w.add_grad_ready_hook([&] { seen.emplace_back("w", w.grad()()); });
  b.add_grad_ready_hook([&] { seen.emplace_back("b", b.grad()()); });
  Tape tape;
  Tensor64 h = w * w;      // w's first use: its gradient is final only after this op's backward
  Tensor64 y = h * b + w;  // b's only use, and w's second
  tape.backward(y);
  // b's gradient is final first (its only op runs first in reverse), w's only after w * w ran.
  BOOST_TEST(seen.size() == 2u);
  BOOST_TEST(seen[0].first == "b");
  BOOST_TEST(seen[0].second == 9.0);
  BOOST_TEST(seen[1].first == "w");
  BOOST_TEST(seen[1].second == 2 * 3.0 * 1.0 + 1.0);
}

BOOST_AUTO_TEST_CASE(a_removed_hook_no_longer_fires_and_hooks_rearm_after_clear) {
  Tensor64 w = Tensor64::scalar(2.0, true);
  int calls = 0;
  const std::size_t id = w.add_grad_ready_hook([&] { ++calls; });
  Tape tape;
  for (int step = 0; step < 3; ++step) {
    tape.backward(w * w);
    tape.clear();
  }
  BOOST_TEST(calls == 3);
  w.remove_grad_ready_hook(id);
  tape.backward(w * w);
  BOOST_TEST(calls == 3);
}

namespace {
// What f() writes to std::cerr.
template <class F>
std::string captured_stderr(F f) {
  std::ostringstream captured;
  auto* old = std::cerr.rdbuf(captured.rdbuf());
  f();
  std::cerr.rdbuf(old);
  return captured.str();
}

// 40 steps of a tiny graph on one tape, cleared after each step or not.
std::string warnings_over_steps(bool clear) {
  return captured_stderr([clear] {
    Tensor x = Tensor::scalar(1.0f, true);
    Tape tape;
    for (int step = 0; step < 40; ++step) {
      tape.backward(x * 2.0f + 1.0f);
      x.zero_grad();
      if (clear) tape.clear();  // forgotten, every step's graph stays
    }
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_tape_that_keeps_growing_warns_once_with_the_fix) {
  const std::string text = warnings_over_steps(false);
  BOOST_TEST(text.find("tape.clear()") != std::string::npos, text);
  BOOST_TEST(text.find("warning") == text.rfind("warning"));  // once
}

BOOST_AUTO_TEST_CASE(a_cleared_tape_does_not_warn) {
  const std::string text = warnings_over_steps(true);
  BOOST_TEST(text.empty(), text);
}
