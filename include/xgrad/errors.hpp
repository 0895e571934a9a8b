#pragma once
// Exceptions users can catch. Every message names the op or file and the values involved.
#include <stdexcept>
#include <string>
#include <string_view>

namespace xg {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Shapes that do not fit the op (names the op and both shapes).
struct shape_error : error {
  using error::error;
};
// A value outside the op's domain: an axis out of range, a label >= the number of classes, ...
struct value_error : error {
  using error::error;
};
// Misuse of the tape: backward on a tensor not on it, backward through a freed graph, ...
struct graph_error : error {
  using error::error;
};
// A data file that is missing, truncated or corrupt (names the file and what is wrong).
struct data_error : error {
  using error::error;
};
// Reading or writing a file failed (names the file and the system's reason).
struct io_error : error {
  using error::error;
};
// NaN or Inf met where a finite number was required (names the op and the step).
struct numeric_error : error {
  using error::error;
};

// What a message quotes of an input (a name, a header value): at most `limit` characters, a longer
// text cut with its full length said, so that a hostile file cannot make a message of megabytes.
inline std::string excerpt(std::string_view text, std::size_t limit = 80) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace xg
