// libFuzzer target: load_safetensors on arbitrary bytes either succeeds with tensors that fit its
// data section or throws xg::data_error; anything else (a crash, a sanitizer report, another
// exception, a message over 4 KB) is a bug.
#include <cstdlib>
#include <cstring>

#include "fuzz_input.hpp"
#include "xgrad/errors.hpp"
#include "xgrad/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  xg::fuzz::MemoryFile file(data, size);
  try {
    const xg::io::Safetensors loaded = xg::io::load_safetensors(file.path());
    std::size_t bytes = 0;
    for (const auto& [name, tensor] : loaded.tensors)
      bytes += std::visit([](const auto& t) { return t.size() * sizeof(typename std::decay_t<decltype(t)>::value_type); }, tensor);
    if (bytes > size) std::abort();  // tensors cannot hold more data than the file
  } catch (const xg::data_error& e) {
    if (std::strlen(e.what()) > xg::fuzz::max_message_bytes) std::abort();  // messages quote excerpts only
  }
  return 0;
}
