// Runs a fuzz target's LLVMFuzzerTestOneInput over every file in the folders given as arguments:
// the committed seed corpus and every crash the fuzzer ever found are regression tests in the
// ordinary (GCC, and sanitizer) builds, with the same checks as the fuzz run.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i)
    for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
      std::printf("%s\n", entry.path().c_str());
      std::fflush(stdout);  // so that a crash names its input
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++replayed;
    }
  std::printf("%zu inputs replayed\n", replayed);
  return replayed > 0 ? 0 : 1;  // an empty corpus means a wrong path, not a pass
}
