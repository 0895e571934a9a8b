#pragma once
// Helpers the test files share: checking an error and its message, float64 tensors from literals,
// and a temporary folder.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>
#include <xgrad/errors.hpp>
#include <xgrad/tensor.hpp>

namespace xg::testing {

// Whether the exception's message contains every part (logging the first one missing).
inline bool message_has(const std::exception& e, std::initializer_list<std::string> parts) {
  const std::string what = e.what();
  for (const auto& p : parts)
    if (what.find(p) == std::string::npos) {
      BOOST_TEST_MESSAGE("message '" << what << "' lacks '" << p << "'");
      return false;
    }
  return true;
}

// The message of the Error that f() throws, or "no error" (another exception type escapes).
template <class Error, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Checks that f() throws Error (or a type derived from it) whose message contains every part.
template <class Error, class F>
void require_error(F&& f, std::initializer_list<std::string> parts) {
  BOOST_CHECK_EXCEPTION(f(), Error, [&](const Error& e) { return message_has(e, parts); });
}

template <class F>
void require_data_error(F&& f, std::initializer_list<std::string> parts) {
  require_error<data_error>(std::forward<F>(f), parts);
}

// A float64 tensor from a literal, for hand-worked values: t({{1, 2}, {3, 4}}, true).
inline Tensor64 t(array<double> v, bool grad = false) { return Tensor64(std::move(v), grad); }

// A fresh folder under the system's temporary folder, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device entropy;
    path = std::filesystem::temp_directory_path() / ("xgrad-test-" + std::to_string(entropy()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The names of the files in it, sorted.
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

}  // namespace xg::testing
