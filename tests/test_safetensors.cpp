// safetensors checkpoints: bit-identical round trips, the on-disk layout other readers expect,
// rejection of each kind of corruption, and atomic replacement.
#define BOOST_TEST_MODULE safetensors
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <xgrad/io/safetensors.hpp>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;
namespace fs = std::filesystem;
using testing::message_has;
using testing::TempDir;

namespace {


std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file as any writer would lay it out: header length, JSON header, data.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), sizeof n);
  return bytes + header + data;
}

template <class T>
bool same_bits(const TensorT<T>& a, const TensorT<T>& b) {
  return a.shape_vector() == b.shape_vector() && std::memcmp(a.value().data(), b.value().data(), a.size() * sizeof(T)) == 0;
}

std::vector<std::pair<std::string, Tensor>> some_parameters() {
  Generator gen(7);
  Tensor weight = normal<float>({3, 4}, 0.0f, 1.0f, gen);
  weight.mutable_value()(0, 0) = std::numeric_limits<float>::quiet_NaN();
  weight.mutable_value()(0, 1) = -0.0f;
  weight.mutable_value()(0, 2) = std::numeric_limits<float>::denorm_min();
  return {{"fc1.weight", weight}, {"fc1.bias", normal<float>({4}, 0.0f, 1.0f, gen)}, {"scale", Tensor::scalar(2.5f)}};
}

template <class F>
void require_data_error(F&& f, std::initializer_list<std::string> parts) {
  BOOST_CHECK_EXCEPTION(f(), data_error, [&](const data_error& e) { return message_has(e, parts); });
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_float32_round_trip_is_bit_identical) {
  TempDir dir;
  const auto path = dir.path / "model.safetensors";
  const auto saved = some_parameters();
  const io::Metadata metadata{{"epoch", "3"}, {"model", "mlp 784-512-10"}};
  io::save_safetensors(path, saved, metadata);

  io::Safetensors loaded = io::load_safetensors(path);
  BOOST_TEST(loaded.metadata == metadata);
  BOOST_TEST_REQUIRE(loaded.tensors.size() == saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    BOOST_TEST(loaded.tensors[i].first == saved[i].first);
    BOOST_TEST(same_bits(std::get<Tensor>(loaded.tensors[i].second), saved[i].second));
  }
  BOOST_TEST(same_bits(loaded.f32("fc1.bias"), saved[1].second));
}

BOOST_AUTO_TEST_CASE(a_float64_round_trip_is_bit_identical) {
  TempDir dir;
  Generator gen(1);
  Tensor64 w = normal<double>({2, 5}, 0.0, 1.0, gen);
  io::save_safetensors(dir.path / "w.safetensors", {{"w", w}});
  io::Safetensors loaded = io::load_safetensors(dir.path / "w.safetensors");
  BOOST_TEST(same_bits(loaded.f64("w"), w));
  BOOST_TEST(loaded.metadata.empty());
}

BOOST_AUTO_TEST_CASE(the_file_has_the_layout_hugging_face_and_tinygrad_read) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  io::save_safetensors(path, {{"a", Tensor::ones({2, 3})}, {"b", Tensor::zeros({4})}});
  const std::string bytes = read_bytes(path);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  BOOST_TEST(n % 8 == 0u);
  BOOST_TEST(bytes.size() == 8 + n + (6 + 4) * 4);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  BOOST_TEST(header["a"]["dtype"] == "F32");
  BOOST_TEST(header["a"]["shape"] == nlohmann::json({2, 3}));
  BOOST_TEST(header["a"]["data_offsets"] == nlohmann::json({0, 24}));
  BOOST_TEST(header["b"]["data_offsets"] == nlohmann::json({24, 40}));
  BOOST_TEST(header["__metadata__"].contains(io::crc32_metadata_key));
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  BOOST_TEST(first == 1.0f);
}

BOOST_AUTO_TEST_CASE(a_file_from_another_writer_without_a_checksum_loads) {
  TempDir dir;
  double values[2] = {1.5, -2.0};
  write_bytes(dir.path / "hf.safetensors",
              safetensors_bytes(R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}})",
                                std::string(reinterpret_cast<const char*>(values), sizeof values)));
  io::Safetensors loaded = io::load_safetensors(dir.path / "hf.safetensors");
  BOOST_TEST(loaded.f64("x").value()(1) == -2.0);
  BOOST_TEST(loaded.metadata.at("format") == "pt");
}

BOOST_AUTO_TEST_CASE(tensors_load_in_the_order_of_their_data) {
  TempDir dir;
  std::string data(8, '\0');
  write_bytes(dir.path / "o.safetensors",
              safetensors_bytes(R"({"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                                R"("first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                data));
  io::Safetensors loaded = io::load_safetensors(dir.path / "o.safetensors");
  BOOST_TEST(loaded.tensors[0].first == "first");
  BOOST_TEST(loaded.tensors[1].first == "second");
}

BOOST_AUTO_TEST_CASE(a_flipped_data_byte_fails_the_checksum) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  io::save_safetensors(path, some_parameters());
  std::string bytes = read_bytes(path);
  bytes[bytes.size() - 3] ^= 0x10;
  write_bytes(path, bytes);
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "checksum mismatch", "corrupt"});
}

BOOST_AUTO_TEST_CASE(a_truncated_file_is_rejected) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  io::save_safetensors(path, some_parameters());
  std::string bytes = read_bytes(path);
  write_bytes(path, bytes.substr(0, bytes.size() - 4));
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "outside the data section", "truncated"});
  write_bytes(path, bytes.substr(0, 5));
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "truncated: 5 bytes"});
}

BOOST_AUTO_TEST_CASE(a_header_length_beyond_the_file_is_rejected) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  io::save_safetensors(path, some_parameters());
  std::string bytes = read_bytes(path);
  const std::uint64_t huge = 1ull << 40;
  std::memcpy(bytes.data(), &huge, 8);
  write_bytes(path, bytes);
  require_data_error([&] { io::load_safetensors(path); },
                     {path.string(), "header length 1099511627776 is larger than the rest of the file"});
}

BOOST_AUTO_TEST_CASE(offsets_outside_the_data_section_are_rejected) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  write_bytes(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}})", std::string(8, '\0')));
  require_data_error([&] { io::load_safetensors(path); },
                     {path.string(), "tensor 'w': data_offsets [0, 1000] lie outside the data section (8 bytes)"});
}

BOOST_AUTO_TEST_CASE(overlapping_offsets_are_rejected) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                      std::string(12, '\0')));
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "tensor 'b' starts at byte 4", "overlap"});
}

BOOST_AUTO_TEST_CASE(a_shape_that_does_not_match_the_offsets_is_rejected) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "tensor 'a'", "span 8 bytes, but shape (3,) of F32 needs 12"});
}

BOOST_AUTO_TEST_CASE(an_unsupported_dtype_is_named) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')));
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "dtype 'I64' is not supported"});
}

BOOST_AUTO_TEST_CASE(an_invalid_json_header_is_rejected) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  write_bytes(path, safetensors_bytes(R"({"a":{"dtype":)", ""));
  require_data_error([&] { io::load_safetensors(path); }, {path.string(), "invalid JSON header"});
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_io_error_naming_it) {
  TempDir dir;
  const auto path = dir.path / "absent.safetensors";
  BOOST_CHECK_EXCEPTION(io::load_safetensors(path), io_error,
                        [&](const io_error& e) { return message_has(e, {path.string(), "No such file"}); });
}

BOOST_AUTO_TEST_CASE(asking_for_a_tensor_the_file_lacks_or_of_another_dtype_is_an_error) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  io::save_safetensors(path, some_parameters());
  io::Safetensors loaded = io::load_safetensors(path);
  require_data_error([&] { loaded.f32("fc2.weight"); }, {path.string(), "no tensor named 'fc2.weight'"});
  require_data_error([&] { loaded.f64("fc1.weight"); }, {path.string(), "'fc1.weight' is not F64"});
}

BOOST_AUTO_TEST_CASE(saving_over_a_file_replaces_it_and_leaves_no_temporary_files) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  io::save_safetensors(path, some_parameters(), {{"epoch", "1"}});
  io::save_safetensors(path, {{"only", Tensor::full({2}, 3.0f)}}, {{"epoch", "2"}});
  io::Safetensors loaded = io::load_safetensors(path);
  BOOST_TEST(loaded.tensors.size() == 1u);
  BOOST_TEST(loaded.f32("only").value()(1) == 3.0f);
  BOOST_TEST(loaded.metadata.at("epoch") == "2");
  BOOST_TEST(dir.files() == std::vector<std::string>{"m.safetensors"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_save_reports_the_file_and_removes_its_temporary_file) {
  TempDir dir;
  const auto target = dir.path / "occupied";
  fs::create_directories(target / "inside");  // rename cannot replace a non-empty folder
  BOOST_CHECK_EXCEPTION(io::save_safetensors(target, some_parameters()), io_error,
                        [&](const io_error& e) { return message_has(e, {target.string(), "cannot replace it with the temporary file"}); });
  BOOST_TEST(dir.files() == std::vector<std::string>{"occupied"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(names_that_cannot_be_stored_are_rejected_before_writing) {
  TempDir dir;
  const auto path = dir.path / "m.safetensors";
  BOOST_CHECK_THROW(io::save_safetensors(path, {{"w", Tensor::ones({1})}, {"w", Tensor::ones({1})}}), value_error);
  BOOST_CHECK_THROW(io::save_safetensors(path, {{"w", Tensor::ones({1})}}, {{io::crc32_metadata_key, "0"}}), value_error);
  BOOST_TEST(dir.files().empty());
}
