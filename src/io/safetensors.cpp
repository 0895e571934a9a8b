#include "xgrad/io/safetensors.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "xgrad/errors.hpp"
#include "xgrad/io/files.hpp"

// The format stores little-endian data, which is then simply the tensors' memory; a big-endian host
// would need byte swapping on save and load.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace xg::io {
namespace {

using json = nlohmann::ordered_json;

template <class T>
constexpr const char* dtype_name = std::is_same_v<T, float> ? "F32" : "F64";

// Hugging Face's reader refuses larger headers too. Tensor entries nest 3 deep (header, entry,
// shape); the bound stops a header of 100k '[' before anything recurses over it.
constexpr std::uint64_t max_header_bytes = 100'000'000;
constexpr int max_header_depth = 8;

// "tensor 'name'", the name cut if it is long.
std::string tensor_label(std::string_view name) { return "tensor '" + excerpt(name) + "'"; }

// A JSON value as an error message quotes it: its text, cut if it is long.
std::string quoted(const json& value) { return excerpt(value.dump()); }

[[noreturn]] void fail_data(const std::filesystem::path& path, const std::string& what) {
  throw data_error("file " + path.string() + ": " + what);
}

std::string crc_string(std::uint32_t crc) {
  char s[9];
  std::snprintf(s, sizeof s, "%08x", crc);
  return s;
}

std::uint32_t crc_of(const void* data, std::size_t size, std::uint32_t crc = 0) {
  return static_cast<std::uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

// Where the value of the checksum entry (as save writes it: compact JSON) starts in a header's text;
// npos if it is not there. Inside a JSON string the quotes would be escaped, so the match is the entry.
std::size_t checksum_position(std::string_view header, std::string_view value) {
  const std::string entry = std::string("\"") + crc32_metadata_key + "\":\"";
  const std::size_t at = header.find(entry + std::string(value) + "\"");
  return at == std::string_view::npos ? at : at + entry.size();
}

template <class T>
void save(const std::filesystem::path& path, const std::vector<std::pair<std::string, TensorT<T>>>& tensors,
          const Metadata& metadata) {
  for (const char* reserved : {crc32_metadata_key, data_crc32_metadata_key})
    if (metadata.contains(reserved))
      throw value_error("save_safetensors: " + path.string() + ": the metadata key '" + reserved +
                        "' is reserved for the checksum xgrad adds");
  json header = json::object();
  json meta(metadata);
  header["__metadata__"] = nullptr;  // a placeholder that keeps the metadata first, where Hugging Face puts it
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__" || !names.insert(name).second)
      throw value_error("save_safetensors: " + path.string() + ": the tensor name '" + excerpt(name) +
                        "' is empty, reserved or repeated");
    const std::uint64_t bytes = tensor.size() * sizeof(T);
    header[name] = {{"dtype", dtype_name<T>}, {"shape", tensor.shape_vector()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  meta[crc32_metadata_key] = crc_string(0);  // a placeholder until the checksum is known
  header["__metadata__"] = std::move(meta);

  std::string text;
  try {
    text = header.dump();
  } catch (const json::type_error& e) {  // a name or metadata string that is not UTF-8
    throw value_error("save_safetensors: " + path.string() + ": a tensor name or metadata entry is not valid UTF-8 (" +
                      e.what() + ")");
  }
  text.resize((text.size() + 7) / 8 * 8, ' ');  // the data section starts 8-byte aligned
  const std::uint64_t header_length = text.size();
  std::uint32_t crc = crc_of(&header_length, sizeof header_length);
  crc = crc_of(text.data(), text.size(), crc);
  for (const auto& [name, tensor] : tensors) crc = crc_of(tensor.value().data(), tensor.size() * sizeof(T), crc);
  text.replace(checksum_position(text, crc_string(0)), 8, crc_string(crc));

  AtomicFile file(path);
  file.write(&header_length, sizeof header_length);
  file.write(text.data(), text.size());
  for (const auto& [name, tensor] : tensors) file.write(tensor.value().data(), tensor.size() * sizeof(T));
  file.commit();
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
    fail_data(path, tensor_label(name) + ": " + what + " must be a non-negative integer, found " + quoted(value));
  return value.get<std::uint64_t>();
}

Entry parse_entry(const std::filesystem::path& path, const std::string& name, const json& value) {
  auto field = [&](const char* key) -> const json& {
    if (!value.is_object() || !value.contains(key))
      fail_data(path, tensor_label(name) + ": the header entry has no \"" + key + "\"");
    return value.at(key);
  };
  Entry e;
  e.name = name;
  const json& dtype = field("dtype");
  if (!dtype.is_string()) fail_data(path, tensor_label(name) + ": dtype must be a string, found " + quoted(dtype));
  e.dtype = dtype.get<std::string>();
  if (e.dtype != "F32" && e.dtype != "F64")
    fail_data(path, tensor_label(name) + ": dtype '" + excerpt(e.dtype) + "' is not supported (xgrad reads F32 and F64)");
  const json& shape = field("shape");
  if (!shape.is_array()) fail_data(path, tensor_label(name) + ": shape must be an array, found " + quoted(shape));
  for (const json& d : shape) e.shape.push_back(unsigned_field(path, name, d, "each dimension"));
  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    fail_data(path, tensor_label(name) + ": data_offsets must be [begin, end], found " + quoted(offsets));
  e.begin = unsigned_field(path, name, offsets[0], "data_offsets");
  e.end = unsigned_field(path, name, offsets[1], "data_offsets");
  return e;
}

// Every tensor's byte range must lie in the data section, match its shape and dtype, and together
// the ranges must tile the section without gaps or overlaps (as Hugging Face's reader requires).
void check_layout(const std::filesystem::path& path, std::vector<Entry>& entries, std::uint64_t data_size) {
  for (const Entry& e : entries) {
    const std::string where = tensor_label(e.name) + ": data_offsets [" + std::to_string(e.begin) + ", " +
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
      fail_data(path, tensor_label(e.name) + " starts at byte " + std::to_string(e.begin) +
                          " of the data section, but the previous tensor ends at byte " +
                          std::to_string(expected_begin) + " (tensors overlap or leave a gap)");
    expected_begin = e.end;
  }
  if (expected_begin != data_size)
    fail_data(path, std::to_string(data_size - expected_begin) + " bytes of data after the last tensor");
}

Metadata parse_metadata(const std::filesystem::path& path, const json& value) {
  if (!value.is_object()) fail_data(path, "__metadata__ must be an object, found " + quoted(value));
  Metadata metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      fail_data(path, "__metadata__ entry '" + excerpt(key) + "' must be a string, found " + quoted(v));
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

// The header's JSON, refused when nested deeper than max_header_depth (nlohmann's parser itself does
// not recurse; dumping a value for an error message would).
json parse_header(const std::filesystem::path& path, std::string_view text) {
  const auto bounded = [&](int depth, json::parse_event_t, json&) {
    if (depth > max_header_depth)
      fail_data(path, "the JSON header nests deeper than " + std::to_string(max_header_depth) +
                          " levels; a safetensors header needs 3");
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), bounded);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number too large
    fail_data(path, "invalid JSON header: " + excerpt(e.what(), 200));
  }
}

void check_crc(const std::filesystem::path& path, const std::string& saved, std::uint32_t actual, const char* what) {
  if (saved != crc_string(actual))
    fail_data(path, std::string("checksum mismatch: the ") + what + " CRC32 is " + crc_string(actual) +
                        " but the file recorded " + excerpt(saved) + ": the file is corrupt");
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
      fail_data(file.path, tensor_label(n) + " is not " + dtype_name<T>);
    }
  fail_data(file.path, "no tensor named '" + excerpt(name) + "'");
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
  const std::string bytes = read_file(path);
  std::uint64_t header_length = 0;
  if (bytes.size() < sizeof header_length)
    fail_data(path, "truncated: " + std::to_string(bytes.size()) + " bytes, too few for the 8-byte header length");
  std::memcpy(&header_length, bytes.data(), sizeof header_length);
  const std::uint64_t rest = bytes.size() - sizeof header_length;
  if (header_length > rest)
    fail_data(path, "the header length " + std::to_string(header_length) + " is larger than the rest of the file (" +
                        std::to_string(rest) + " bytes): the file is truncated or not safetensors");

  if (header_length > max_header_bytes)
    fail_data(path, "the header length " + std::to_string(header_length) + " is over the " +
                        std::to_string(max_header_bytes) + " bytes a safetensors header may have");

  const char* header_text = bytes.data() + sizeof header_length;
  const std::string_view header_view(header_text, header_length);
  const char* data = header_text + header_length;
  const std::uint64_t data_size = rest - header_length;
  const json header = parse_header(path, header_view);
  if (!header.is_object()) fail_data(path, "the header is not a JSON object");

  Safetensors file;
  file.path = path;
  if (header.contains("__metadata__")) file.metadata = parse_metadata(path, header.at("__metadata__"));
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items())
    if (key != "__metadata__") entries.push_back(parse_entry(path, key, value));
  check_layout(path, entries, data_size);  // before the checksum: it says "truncated" when that is what happened
  if (auto saved = file.metadata.find(crc32_metadata_key); saved != file.metadata.end()) {
    std::string covered(header_view);
    const std::size_t at = checksum_position(covered, saved->second);
    if (at == std::string::npos)
      fail_data(path, "the checksum entry is not laid out as xgrad writes it: the header was edited");
    covered.replace(at, saved->second.size(), saved->second.size(), '0');
    std::uint32_t crc = crc_of(&header_length, sizeof header_length);
    crc = crc_of(covered.data(), covered.size(), crc);
    check_crc(path, saved->second, crc_of(data, data_size, crc), "file");
    file.metadata.erase(saved);
  } else if (auto data_only = file.metadata.find(data_crc32_metadata_key); data_only != file.metadata.end()) {
    check_crc(path, data_only->second, crc_of(data, data_size), "data's");
    file.metadata.erase(data_only);
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
