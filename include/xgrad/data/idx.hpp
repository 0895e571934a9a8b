#pragma once
// The IDX format of the MNIST family: a 4-byte magic number (0x00 0x00 type ndim), ndim big-endian
// 32-bit dimensions, then the elements in row-major order.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace xg::data {

struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;  // row-major, dims' product elements
};

// Reads a gzip-compressed or plain IDX file of unsigned bytes (type 0x08). Throws xg::data_error,
// naming the file, when it is missing, has a bad magic number or another element type, or holds
// fewer or more bytes than its dimensions say, and when the gzip stream is corrupt.
IdxArray read_idx(const std::filesystem::path& path);

}  // namespace xg::data
