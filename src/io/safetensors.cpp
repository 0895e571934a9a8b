#include "xgrad/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "xgrad/errors.hpp"

// The format stores little-endian data, which is then simply the tensors' memory; a big-endian host
// would need byte swapping on save and load.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace xg::io {
namespace {

using json = nlohmann::ordered_json;

template <class T>
constexpr const char* dtype_name = std::is_same_v<T, float> ? "F32" : "F64";

[[noreturn]] void fail_data(const std::filesystem::path& path, const std::string& what) {
  throw data_error("file " + path.string() + ": " + what);
}

// "file X: <what> [the temporary file T]: <the system's reason>". errno is read first, before
// building the message can disturb it.
[[noreturn]] void fail_io(const std::filesystem::path& path, const char* what,
                          const std::filesystem::path& temporary = {}) {
  const std::string reason = std::strerror(errno);
  std::string message = "file " + path.string() + ": " + what;
  if (!temporary.empty()) message += " the temporary file " + temporary.string();
  throw io_error(message + ": " + reason);
}

std::string crc_string(std::uint32_t crc) {
  char s[9];
  std::snprintf(s, sizeof s, "%08x", crc);
  return s;
}

std::uint32_t crc_of(const void* data, std::size_t size, std::uint32_t crc = 0) {
  return static_cast<std::uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

// A file written under a temporary name in the target's folder, then renamed over the target: the
// rename is atomic, so readers (and a crash) see either the old file or the complete new one.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
    folder_ = target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
    // The process id and a counter make the name unique among writers; O_EXCL makes sure of it.
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; fd_ < 0; ++attempt) {
      char suffix[48];
      std::snprintf(suffix, sizeof suffix, ".tmp.%ld.%u", static_cast<long>(::getpid()), counter++);
      std::string name(1, '.');  // hidden: a listing of the folder does not show it
      name += target_.filename().native();
      name += suffix;
      temp_ = folder_ / name;
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt == 100))
        fail_io(target_, "cannot create", temp_);
    }
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_io(target_, "writing failed to", temp_);
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  // Data on disk first, then the rename, then the folder entry on disk.
  void commit() {
    if (::fsync(fd_) != 0) fail_io(target_, "syncing failed for", temp_);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail_io(target_, "closing failed for", temp_);
    if (::rename(temp_.c_str(), target_.c_str()) != 0)
      fail_io(target_, "cannot replace it with", temp_);
    committed_ = true;
    int folder = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder < 0) fail_io(target_, "opening its folder to sync it failed");
    // Some file systems cannot sync a folder (EINVAL); the rename is then as durable as they allow.
    int synced = ::fsync(folder);
    int sync_errno = errno;
    ::close(folder);
    if (synced != 0 && sync_errno != EINVAL) {
      errno = sync_errno;
      fail_io(target_, "syncing its folder failed");
    }
  }

 private:
  std::filesystem::path target_, folder_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

template <class T>
void save(const std::filesystem::path& path, const std::vector<std::pair<std::string, TensorT<T>>>& tensors,
          const Metadata& metadata) {
  if (metadata.contains(crc32_metadata_key))
    throw value_error("save_safetensors: " + path.string() + ": the metadata key '" + crc32_metadata_key +
                      "' is reserved for the checksum xgrad adds");
  json header = json::object();
  json meta(metadata);
  header["__metadata__"] = nullptr;  // a placeholder that keeps the metadata first, where Hugging Face puts it
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  std::uint32_t crc = crc_of(nullptr, 0);
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__" || !names.insert(name).second)
      throw value_error("save_safetensors: " + path.string() + ": the tensor name '" + name +
                        "' is empty, reserved or repeated");
    const std::uint64_t bytes = tensor.size() * sizeof(T);
    header[name] = {{"dtype", dtype_name<T>}, {"shape", tensor.shape_vector()}, {"data_offsets", {offset, offset + bytes}}};
    crc = crc_of(tensor.value().data(), bytes, crc);
    offset += bytes;
  }
  meta[crc32_metadata_key] = crc_string(crc);
  header["__metadata__"] = std::move(meta);

  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // the data section starts 8-byte aligned
  const std::uint64_t header_length = text.size();

  AtomicFile file(path);
  file.write(&header_length, sizeof header_length);
  file.write(text.data(), text.size());
  for (const auto& [name, tensor] : tensors) file.write(tensor.value().data(), tensor.size() * sizeof(T));
  file.commit();
}

std::string read_whole_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_io(path, "cannot open it");
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int stat_errno = errno;
    ::close(fd);
    errno = stat_errno;
    fail_io(path, "cannot find its size");
  }
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int read_errno = errno;
      ::close(fd);
      errno = n == 0 ? EIO : read_errno;  // the file shrank while we read it
      fail_io(path, "reading it failed");
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return bytes;
}

struct Entry {
  std::string name;
  std::string dtype;
  shape_type shape;
  std::uint64_t begin = 0, end = 0;
};

std::uint64_t unsigned_field(const std::filesystem::path& path, const std::string& name, const json& value,
                             const char* what) {
  if (!value.is_number_unsigned())
    fail_data(path, "tensor '" + name + "': " + what + " must be a non-negative integer, found " + value.dump());
  return value.get<std::uint64_t>();
}

Entry parse_entry(const std::filesystem::path& path, const std::string& name, const json& value) {
  auto field = [&](const char* key) -> const json& {
    if (!value.is_object() || !value.contains(key))
      fail_data(path, "tensor '" + name + "': the header entry has no \"" + key + "\"");
    return value.at(key);
  };
  Entry e;
  e.name = name;
  const json& dtype = field("dtype");
  if (!dtype.is_string()) fail_data(path, "tensor '" + name + "': dtype must be a string, found " + dtype.dump());
  e.dtype = dtype.get<std::string>();
  if (e.dtype != "F32" && e.dtype != "F64")
    fail_data(path, "tensor '" + name + "': dtype '" + e.dtype + "' is not supported (xgrad reads F32 and F64)");
  const json& shape = field("shape");
  if (!shape.is_array()) fail_data(path, "tensor '" + name + "': shape must be an array, found " + shape.dump());
  for (const json& d : shape) e.shape.push_back(unsigned_field(path, name, d, "each dimension"));
  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    fail_data(path, "tensor '" + name + "': data_offsets must be [begin, end], found " + offsets.dump());
  e.begin = unsigned_field(path, name, offsets[0], "data_offsets");
  e.end = unsigned_field(path, name, offsets[1], "data_offsets");
  return e;
}

// Every tensor's byte range must lie in the data section, match its shape and dtype, and together
// the ranges must tile the section without gaps or overlaps (as Hugging Face's reader requires).
void check_layout(const std::filesystem::path& path, std::vector<Entry>& entries, std::uint64_t data_size) {
  for (const Entry& e : entries) {
    const std::string where = "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                              std::to_string(e.end) + "]";
    if (e.end < e.begin) fail_data(path, where + " end before they begin");
    if (e.end > data_size)
      fail_data(path, where + " lie outside the data section (" + std::to_string(data_size) +
                          " bytes): the file is truncated or its header is wrong");
    std::uint64_t bytes = e.dtype == "F32" ? 4 : 8;
    for (std::uint64_t d : e.shape)
      if (__builtin_mul_overflow(bytes, d, &bytes)) fail_data(path, where + ": the shape is implausibly large");
    if (bytes != e.end - e.begin)
      fail_data(path, where + " span " + std::to_string(e.end - e.begin) + " bytes, but shape " +
                          shape_string(e.shape) + " of " + e.dtype + " needs " + std::to_string(bytes));
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  std::uint64_t expected_begin = 0;
  for (const Entry& e : entries) {
    if (e.begin != expected_begin)
      fail_data(path, "tensor '" + e.name + "' starts at byte " + std::to_string(e.begin) +
                          " of the data section, but the previous tensor ends at byte " +
                          std::to_string(expected_begin) + " (tensors overlap or leave a gap)");
    expected_begin = e.end;
  }
  if (expected_begin != data_size)
    fail_data(path, std::to_string(data_size - expected_begin) + " bytes of data after the last tensor");
}

Metadata parse_metadata(const std::filesystem::path& path, const json& value) {
  if (!value.is_object()) fail_data(path, "__metadata__ must be an object, found " + value.dump());
  Metadata metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) fail_data(path, "__metadata__ entry '" + key + "' must be a string, found " + v.dump());
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

template <class T>
TensorT<T> tensor_from(const Entry& e, const char* data) {
  array<T> value = array<T>::from_shape(e.shape);
  if (e.end > e.begin) std::memcpy(value.data(), data + e.begin, e.end - e.begin);  // an empty tensor's data() may be null
  return TensorT<T>(std::move(value));
}

template <class T>
TensorT<T> find(const Safetensors& file, std::string_view name) {
  for (const auto& [n, tensor] : file.tensors)
    if (n == name) {
      if (const auto* t = std::get_if<TensorT<T>>(&tensor)) return *t;
      fail_data(file.path, std::string("tensor '") + n + "' is not " + dtype_name<T>);
    }
  fail_data(file.path, "no tensor named '" + std::string(name) + "'");
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const Metadata& metadata) {
  save(path, tensors, metadata);
}

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor64>>& tensors,
                      const Metadata& metadata) {
  save(path, tensors, metadata);
}

Safetensors load_safetensors(const std::filesystem::path& path) {
  const std::string bytes = read_whole_file(path);
  std::uint64_t header_length = 0;
  if (bytes.size() < sizeof header_length)
    fail_data(path, "truncated: " + std::to_string(bytes.size()) + " bytes, too few for the 8-byte header length");
  std::memcpy(&header_length, bytes.data(), sizeof header_length);
  const std::uint64_t rest = bytes.size() - sizeof header_length;
  if (header_length > rest)
    fail_data(path, "the header length " + std::to_string(header_length) + " is larger than the rest of the file (" +
                        std::to_string(rest) + " bytes): the file is truncated or not safetensors");

  const char* header_text = bytes.data() + sizeof header_length;
  json header;
  try {
    header = json::parse(header_text, header_text + header_length);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number too large
    fail_data(path, std::string("invalid JSON header: ") + e.what());
  }
  if (!header.is_object()) fail_data(path, "the header is not a JSON object");

  Safetensors file;
  file.path = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__")
      file.metadata = parse_metadata(path, value);
    else
      entries.push_back(parse_entry(path, key, value));
  }
  const char* data = header_text + header_length;
  const std::uint64_t data_size = rest - header_length;
  check_layout(path, entries, data_size);

  if (auto saved = file.metadata.find(crc32_metadata_key); saved != file.metadata.end()) {
    const std::string actual = crc_string(crc_of(data, data_size));
    if (saved->second != actual)
      fail_data(path, "checksum mismatch: the data's CRC32 is " + actual + " but the file recorded " + saved->second +
                          ": the data is corrupt");
    file.metadata.erase(saved);
  }

  for (const Entry& e : entries) {
    if (e.dtype == "F32")
      file.tensors.emplace_back(e.name, tensor_from<float>(e, data));
    else
      file.tensors.emplace_back(e.name, tensor_from<double>(e, data));
  }
  return file;
}

Tensor Safetensors::f32(std::string_view name) const { return find<float>(*this, name); }
Tensor64 Safetensors::f64(std::string_view name) const { return find<double>(*this, name); }

}  // namespace xg::io
