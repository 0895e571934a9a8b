#include "xgrad/anomaly.hpp"

#include <algorithm>
#include <atomic>
#include <limits>

namespace xg {

namespace {
std::atomic<bool> anomaly_on{false};
}

void set_detect_anomaly(bool on) { anomaly_on.store(on, std::memory_order_relaxed); }
bool detect_anomaly() { return anomaly_on.load(std::memory_order_relaxed); }

namespace detail {

template <class T>
std::string range_string(const array<T>& a) {
  T lo = std::numeric_limits<T>::infinity(), hi = -lo;
  std::size_t nans = 0;
  for (T x : a) {
    if (std::isnan(x)) ++nans;
    else {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (a.size() == nans) return "[all NaN]";
  // Appended piece by piece: "[" + std::string trips GCC 12's -Wrestrict false positive.
  std::string s = "[";
  s.append(std::to_string(lo)).append(", ").append(std::to_string(hi)).append("]");
  if (nans) s.append(" with ").append(std::to_string(nans)).append(" NaN");
  return s;
}
template std::string range_string<float>(const array<float>&);
template std::string range_string<double>(const array<double>&);

void check_backward_anomaly(const NodeBase& node, std::size_t step) {
  for (std::size_t j = 0; j < node.inputs.size() && node.inputs[j]; ++j)
    if (!node.inputs[j]->grad_is_finite())
      throw numeric_error(std::string("anomaly: the backward of op '") + node.op + "' (record " +
                          std::to_string(node.tape_index) + ", step " + std::to_string(step) +
                          ") produced a non-finite gradient for its input " + std::to_string(j) + " ('" +
                          node.inputs[j]->op + "')");
}

}  // namespace detail
}  // namespace xg
