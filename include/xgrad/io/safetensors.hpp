#pragma once
// Checkpoints in the safetensors format (Hugging Face, tinygrad): an 8-byte little-endian header
// length N, N bytes of JSON naming each tensor's dtype, shape and byte range, then the raw
// little-endian data. See docs/data.md for the guarantees.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "xgrad/tensor.hpp"

namespace xg::io {

using Metadata = std::map<std::string, std::string>;

// Writes the tensors (in this order, as "F32" or "F64") atomically: a crash mid-write leaves the
// previous file intact, and SIGINT, SIGTERM or SIGHUP arriving mid-write (with their default action)
// end the process only once the file is complete or its temporary removed. The file's CRC32 goes
// into the metadata and is checked on load. Throws xg::io_error naming the file and the system's
// reason if writing fails, xg::value_error for an empty, repeated or non-UTF-8 name or a metadata key
// xgrad reserves.
void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const Metadata& metadata = {});
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, Tensor64>>& tensors, const Metadata& metadata = {});

using AnyTensor = std::variant<Tensor, Tensor64>;

struct Safetensors {
  std::filesystem::path path;
  std::vector<std::pair<std::string, AnyTensor>> tensors;  // in the order of their data in the file
  Metadata metadata;                                       // without the checksum xgrad adds

  // The tensor called name; xg::data_error naming the file if there is none or it has another dtype.
  Tensor f32(std::string_view name) const;
  Tensor64 f64(std::string_view name) const;
};

// Reads a safetensors file of F32 and F64 tensors. Throws xg::io_error naming the file if it cannot
// be read or is not a regular file (a folder, a FIFO), and xg::data_error naming it and what is wrong
// if it is truncated or malformed (a header over 100 MB or nested deeper than 8 levels included) or
// it does not match the checksum saved with it.
Safetensors load_safetensors(const std::filesystem::path& path);

// The metadata key under which save_safetensors records the file's CRC32 (8 hex digits): over the
// header length, the header (these 8 digits read as zeros) and the data, so a flipped byte anywhere
// is caught.
inline constexpr const char* crc32_metadata_key = "xgrad.file_crc32";
// Files written before the header was covered carry their data section's CRC32 under this key; it
// is still checked.
inline constexpr const char* data_crc32_metadata_key = "xgrad.crc32";

}  // namespace xg::io
