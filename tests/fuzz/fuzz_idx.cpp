// libFuzzer target: read_idx on arbitrary bytes (plain or gzip) either succeeds with data matching
// its dimensions or throws xg::data_error; anything else (a crash, a sanitizer report, another
// exception, a message over 4 KB) is a bug.
#include <cstdlib>
#include <cstring>

#include "fuzz_input.hpp"
#include "xgrad/data/idx.hpp"
#include "xgrad/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  xg::fuzz::MemoryFile file(data, size);
  try {
    const xg::data::IdxArray idx = xg::data::read_idx(file.path());
    std::size_t count = 1;
    for (std::size_t d : idx.dims) count *= d;
    if (count != idx.data.size()) std::abort();  // success must mean dimensions and data agree
  } catch (const xg::data_error& e) {
    if (std::strlen(e.what()) > xg::fuzz::max_message_bytes) std::abort();  // messages quote excerpts only
  }
  return 0;
}
