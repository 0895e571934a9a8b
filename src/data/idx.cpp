#include "xgrad/data/idx.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "xgrad/errors.hpp"

namespace xg::data {
namespace {

constexpr std::uint8_t idx_unsigned_byte = 0x08;

const char* idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return nullptr;
  }
}

std::string hex_byte(std::uint8_t b) {
  char s[5];
  std::snprintf(s, sizeof s, "0x%02X", b);
  return s;
}

// A gzip stream (zlib also reads plain files through it, unchanged).
class GzipReader {
 public:
  explicit GzipReader(const std::filesystem::path& path) : path_(path.string()) {
    // Non-blocking, so that a FIFO is refused at once below rather than waited on.
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(errno == ENOENT ? std::string("does not exist") : std::string("cannot open it: ") + std::strerror(errno));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      fail(S_ISDIR(info.st_mode) ? "is a folder, not an IDX file" : "is not a regular file");
    }
    file_ = gzdopen(fd, "rb");
    if (!file_) {
      ::close(fd);
      fail("cannot open it");
    }
    gzbuffer(file_, 1 << 20);  // fewer, larger reads: the training images are 26 MB compressed
  }
  ~GzipReader() { gzclose(file_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Reads up to n bytes; returns how many there were. Throws if the stream is corrupt, but not if it
  // merely ends early: callers report that as truncation, with the byte counts.
  std::size_t read(std::uint8_t* out, std::size_t n) {
    std::size_t total = 0;
    while (total < n) {
      unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - total, INT_MAX));
      int got = gzread(file_, out + total, chunk);
      if (got < 0) fail_with_zlib_error();
      if (got == 0) {
        int code = Z_OK;
        gzerror(file_, &code);
        // Z_BUF_ERROR: the compressed stream itself was cut short, i.e. the file is truncated.
        if (code != Z_OK && code != Z_BUF_ERROR) fail_with_zlib_error();
        break;
      }
      total += static_cast<std::size_t>(got);
    }
    return total;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw data_error("file " + path_ + ": " + what);
  }

 private:
  [[noreturn]] void fail_with_zlib_error() {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    fail(std::string("corrupt gzip data: ") + message);
  }

  std::string path_;
  gzFile file_ = nullptr;
};

void read_exactly(GzipReader& in, std::uint8_t* out, std::size_t n, const char* part) {
  std::size_t got = in.read(out, n);
  if (got != n)
    in.fail(std::string("truncated: expected ") + std::to_string(n) + " bytes of " + part + ", found " +
            std::to_string(got));
}

// The buffer grows as the data arrives instead of being sized from the header up front: a corrupt
// 30-byte file whose dimensions claim a terabyte fails as truncated, not with bad_alloc.
void read_payload(GzipReader& in, std::vector<std::uint8_t>& data, std::size_t count) {
  constexpr std::size_t chunk = std::size_t{1} << 24;
  std::size_t got = 0;
  while (got < count) {
    const std::size_t want = std::min(count - got, chunk);
    data.resize(got + want);
    const std::size_t n = in.read(data.data() + got, want);
    got += n;
    if (n < want) break;
  }
  if (got != count)
    in.fail("truncated: expected " + std::to_string(count) + " bytes of data, found " + std::to_string(got));
}

}  // namespace

IdxArray read_idx(const std::filesystem::path& path) {
  GzipReader in(path);

  std::array<std::uint8_t, 4> magic{};
  read_exactly(in, magic.data(), magic.size(), "magic number");
  if (magic[0] != 0 || magic[1] != 0)
    in.fail("bad magic number " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) + " " + hex_byte(magic[2]) +
            " " + hex_byte(magic[3]) + ": an IDX file starts with two zero bytes");
  const std::uint8_t type = magic[2], ndim = magic[3];
  if (type != idx_unsigned_byte) {
    const char* name = idx_type_name(type);
    in.fail("element type " + hex_byte(type) + (name ? std::string(" (") + name + ")" : " (unknown)") +
            " is not supported; only unsigned byte (0x08) is");
  }
  if (ndim == 0) in.fail("the magic number says 0 dimensions");

  IdxArray idx;
  std::vector<std::uint8_t> dim_bytes(4 * std::size_t{ndim});
  read_exactly(in, dim_bytes.data(), dim_bytes.size(), "dimensions");
  std::size_t count = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    const std::uint8_t* b = &dim_bytes[4 * d];
    std::size_t dim = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) | (std::size_t{b[2]} << 8) | b[3];
    // Sizes past 2^40 bytes mean corrupt dimensions; refusing them also keeps the product from overflowing.
    if (dim != 0 && count > (std::size_t{1} << 40) / dim)
      in.fail("dimensions " + std::to_string(count) + " x " + std::to_string(dim) + "... are implausibly large");
    count *= dim;
    idx.dims.push_back(dim);
  }

  read_payload(in, idx.data, count);
  std::uint8_t extra[4096];
  if (std::size_t trailing = in.read(extra, sizeof extra); trailing > 0)
    in.fail("trailing garbage: " + (trailing == sizeof extra ? "at least " + std::to_string(trailing)
                                                               : std::to_string(trailing)) +
            " bytes after the " + std::to_string(count) + " bytes of data the dimensions call for");
  return idx;
}

}  // namespace xg::data
