// Data loading: the IDX reader and its errors, Fashion-MNIST's splits and preprocessing, mini-batches.
#define BOOST_TEST_MODULE data
#include <zlib.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <xgrad/data/fashion_mnist.hpp>
#include <xgrad/data/idx.hpp>
#include <xgrad/xgrad.hpp>

#include "test_support.hpp"

using namespace xg;
namespace fs = std::filesystem;
using testing::message_has;
using testing::require_data_error;
using testing::TempDir;
using Bytes = std::vector<std::uint8_t>;

namespace {


Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
  Bytes out{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

fs::path write_gzip(const fs::path& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  BOOST_REQUIRE(f);
  BOOST_REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  BOOST_REQUIRE(gzclose(f) == Z_OK);
  return path;
}

fs::path write_plain(const fs::path& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

Bytes read_plain(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes iota_bytes(std::size_t n) {
  Bytes b(n);
  std::iota(b.begin(), b.end(), std::uint8_t{0});
  return b;
}


}  // namespace

// ---- IDX ----

BOOST_AUTO_TEST_CASE(read_idx_reads_dimensions_and_bytes_of_a_gzip_file) {
  TempDir dir;
  auto path = write_gzip(dir.path / "a.idx.gz", idx_bytes({2, 3}, iota_bytes(6)));
  data::IdxArray idx = data::read_idx(path);
  BOOST_TEST(idx.dims == (std::vector<std::size_t>{2, 3}), boost::test_tools::per_element());
  BOOST_TEST(idx.data == iota_bytes(6), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(read_idx_reads_an_uncompressed_file_too) {
  TempDir dir;
  auto path = write_plain(dir.path / "a.idx", idx_bytes({4}, iota_bytes(4)));
  BOOST_TEST(data::read_idx(path).data == iota_bytes(4), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(read_idx_rejects_a_payload_shorter_than_the_dimensions_say) {
  TempDir dir;
  auto path = write_gzip(dir.path / "short.gz", idx_bytes({4, 4}, iota_bytes(10)));
  require_data_error([&] { data::read_idx(path); },
                     {path.string(), "truncated: expected 16 bytes of data, found 10"});
}

BOOST_AUTO_TEST_CASE(read_idx_rejects_bytes_after_the_payload) {
  TempDir dir;
  auto path = write_gzip(dir.path / "long.gz", idx_bytes({2, 2}, iota_bytes(7)));
  require_data_error([&] { data::read_idx(path); }, {path.string(), "trailing garbage: 3 bytes"});
}

BOOST_AUTO_TEST_CASE(read_idx_rejects_a_bad_magic_number) {
  TempDir dir;
  Bytes bytes = idx_bytes({2}, iota_bytes(2));
  bytes[0] = 0x12;
  auto path = write_gzip(dir.path / "magic.gz", bytes);
  require_data_error([&] { data::read_idx(path); }, {path.string(), "bad magic number 0x12 0x00 0x08 0x01"});
}

BOOST_AUTO_TEST_CASE(read_idx_names_an_unsupported_element_type) {
  TempDir dir;
  auto path = write_gzip(dir.path / "float.gz", idx_bytes({1}, Bytes(4), 0x0D));
  require_data_error([&] { data::read_idx(path); }, {path.string(), "element type 0x0D (float32) is not supported"});
}

BOOST_AUTO_TEST_CASE(read_idx_rejects_a_corrupt_gzip_stream) {
  TempDir dir;
  auto path = write_gzip(dir.path / "corrupt.gz", idx_bytes({64}, iota_bytes(64)));
  Bytes bytes = read_plain(path);
  bytes[bytes.size() - 8] ^= 0xFF;  // the gzip trailer's CRC32 of the uncompressed data
  write_plain(path, bytes);
  require_data_error([&] { data::read_idx(path); }, {path.string(), "corrupt gzip data"});
}

BOOST_AUTO_TEST_CASE(read_idx_reports_a_cut_off_gzip_stream_as_truncated) {
  TempDir dir;
  Bytes payload(5000);
  std::mt19937 gen(1);
  for (auto& b : payload) b = static_cast<std::uint8_t>(gen());  // incompressible, so the cut loses data
  auto path = write_gzip(dir.path / "cut.gz", idx_bytes({5000}, payload));
  Bytes bytes = read_plain(path);
  bytes.resize(bytes.size() / 2);
  write_plain(path, bytes);
  require_data_error([&] { data::read_idx(path); }, {path.string(), "truncated: expected 5000 bytes of data"});
}

BOOST_AUTO_TEST_CASE(read_idx_names_a_missing_file) {
  TempDir dir;
  require_data_error([&] { data::read_idx(dir.path / "nothing.gz"); },
                     {(dir.path / "nothing.gz").string(), "does not exist"});
}

BOOST_AUTO_TEST_CASE(read_idx_of_a_folder_says_it_is_a_folder) {
  TempDir dir;
  require_data_error([&] { data::read_idx(dir.path); }, {dir.path.string(), "is a folder, not an IDX file"});
}

BOOST_AUTO_TEST_CASE(read_idx_through_a_symlink_loop_is_a_data_error_with_the_system_reason) {
  TempDir dir;
  fs::create_symlink(dir.path / "b", dir.path / "a");
  fs::create_symlink(dir.path / "a", dir.path / "b");
  require_data_error([&] { data::read_idx(dir.path / "a"); },
                     {(dir.path / "a").string(), "cannot open it", "symbolic links"});
}

// ---- Mini-batches ----

namespace {
// n examples of 3 features; example i is (i, i, i) with label i % 7.
data::Split counting_split(std::size_t n) {
  data::Split s;
  s.images = Tensor(array<float>::from_shape({n, 3}));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t f = 0; f < 3; ++f) s.images.mutable_value()(i, f) = static_cast<float>(i);
    s.labels.push_back(static_cast<int>(i % 7));
    s.source_index.push_back(i);
  }
  return s;
}

// The example ids of one epoch, batch by batch, checking each batch's labels belong to its rows.
std::vector<std::vector<int>> epoch_ids(const data::BatchRange& batches) {
  std::vector<std::vector<int>> ids;
  for (auto [x, y] : batches) {
    BOOST_REQUIRE(x.shape()[0] == y.size());
    std::vector<int> batch;
    for (std::size_t r = 0; r < y.size(); ++r) {
      int id = static_cast<int>(x.value()(r, 0));
      BOOST_TEST(y[r] == id % 7);
      batch.push_back(id);
    }
    ids.push_back(batch);
  }
  return ids;
}
}  // namespace

BOOST_AUTO_TEST_CASE(batches_cover_the_split_with_a_last_partial_batch) {
  data::Split s = counting_split(10);
  auto batches = s.batches(4);
  BOOST_TEST(batches.size() == 3u);
  auto ids = epoch_ids(batches);
  BOOST_TEST_REQUIRE(ids.size() == 3u);
  BOOST_TEST(ids[0] == (std::vector<int>{0, 1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(ids[1] == (std::vector<int>{4, 5, 6, 7}), boost::test_tools::per_element());
  BOOST_TEST(ids[2] == (std::vector<int>{8, 9}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_shuffled_epoch_sees_every_example_once) {
  data::Split s = counting_split(103);
  std::vector<int> seen;
  for (const auto& batch : epoch_ids(s.batches(16, data::Shuffle{3}))) seen.insert(seen.end(), batch.begin(), batch.end());
  std::vector<int> expected(103);
  std::iota(expected.begin(), expected.end(), 0);
  BOOST_TEST(seen != expected);  // shuffled
  std::sort(seen.begin(), seen.end());
  BOOST_TEST(seen == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_order_and_another_seed_another) {
  data::Split s = counting_split(50);
  int epoch = 1;  // an int counter must work without a cast
  BOOST_TEST(epoch_ids(s.batches(8, data::Shuffle{epoch})) == epoch_ids(s.batches(8, data::Shuffle{epoch})));
  BOOST_TEST(epoch_ids(s.batches(8, data::Shuffle{epoch})) != epoch_ids(s.batches(8, data::Shuffle{epoch + 1})));
}

BOOST_AUTO_TEST_CASE(a_batch_kept_by_the_user_is_not_overwritten_by_the_next) {
  data::Split s = counting_split(12);
  auto batches = s.batches(4, data::Shuffle{0});  // the labels' spans point into the range
  std::vector<data::Batch> kept;
  for (const data::Batch& batch : batches) kept.push_back(batch);
  std::set<int> ids;
  for (const auto& [x, y] : kept)
    for (std::size_t r = 0; r < y.size(); ++r) {
      BOOST_TEST(y[r] == static_cast<int>(x.value()(r, 0)) % 7);
      ids.insert(static_cast<int>(x.value()(r, 0)));
    }
  BOOST_TEST(ids.size() == 12u);
}

namespace {
// counting_split with values instead of labels: example i's target row is (i + 0.5, -i).
data::Split counting_regression_split(std::size_t n) {
  data::Split s = counting_split(n);
  s.labels.clear();
  s.values = Tensor(array<float>::from_shape({n, 2}));
  for (std::size_t i = 0; i < n; ++i) {
    s.values->mutable_value()(i, 0) = float(i) + 0.5f;
    s.values->mutable_value()(i, 1) = -float(i);
  }
  return s;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_shuffled_regression_batch_holds_each_examples_own_target_row) {
  const data::Split s = counting_regression_split(37);
  std::size_t seen = 0;
  std::vector<data::Batch> kept;
  for (const data::Batch& batch : s.batches(8, data::Shuffle{5})) kept.push_back(batch);
  for (auto [x, y] : kept) {
    BOOST_TEST_REQUIRE(!y.are_labels());
    BOOST_TEST_REQUIRE(y.values().shape_vector() == (shape_type{y.size(), 2}), boost::test_tools::per_element());
    for (std::size_t r = 0; r < y.size(); ++r) {
      const float id = x.value()(r, 0);
      BOOST_TEST(y.values().value()(r, 0) == id + 0.5f);
      BOOST_TEST(y.values().value()(r, 1) == -id);
    }
    seen += y.size();
  }
  BOOST_TEST(seen == 37u);
  BOOST_TEST(kept[0].y.values().value()(0, 0) != 0.5f);  // shuffled, and batches kept apart
}

BOOST_AUTO_TEST_CASE(select_and_head_keep_the_target_values_of_their_rows) {
  const data::Split s = counting_regression_split(10);
  const std::size_t rows[] = {7, 2};
  const data::Split picked = s.select(rows);
  BOOST_TEST(picked.size() == 2u);
  BOOST_TEST(picked.labels.empty());
  BOOST_TEST(picked.values->value()(0, 0) == 7.5f);
  BOOST_TEST(picked.values->value()(1, 1) == -2.0f);
  BOOST_TEST(s.head(3).values->shape_vector() == (shape_type{3, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(targets_of_one_kind_asked_for_as_the_other_are_a_value_error) {
  const data::Split regression = counting_regression_split(4), classification = counting_split(4);
  const data::Batch values = *regression.batches(4).begin();
  testing::require_error<value_error>([&] { (void)values.y.labels(); }, {"Targets::labels", "values of shape (4, 2)", "mse_loss"});
  testing::require_error<value_error>([&] { (void)cross_entropy(values.x, values.y); }, {"not class labels"});
  const auto batches = classification.batches(4);
  const data::Batch labels = *batches.begin();
  testing::require_error<value_error>([&] { (void)labels.y.values(); }, {"Targets::values", "4 class labels"});
}

BOOST_AUTO_TEST_CASE(a_split_with_both_labels_and_values_is_refused) {
  data::Split s = counting_regression_split(4);
  s.labels = {0, 1, 0, 1};
  testing::require_error<value_error>([&] { (void)s.batches(2); }, {"Split::batches", "both 4 labels and values"});
}

BOOST_AUTO_TEST_CASE(values_with_another_row_count_than_the_images_are_a_shape_error) {
  data::Split s = counting_regression_split(4);
  s.values = Tensor(array<float>::from_shape({3, 2}));
  testing::require_error<shape_error>([&] { (void)s.batches(2); }, {"images of shape (4, 3)", "values of shape (3, 2)"});
}

BOOST_AUTO_TEST_CASE(friedman1_is_reproducible_and_has_the_published_statistics) {
  const data::Dataset a = data::friedman1({.train = 20000, .validation = 10, .test = 10, .noise = 0.0, .seed = 4});
  const data::Dataset b = data::friedman1({.train = 20000, .validation = 10, .test = 10, .noise = 0.0, .seed = 4});
  BOOST_TEST((a.train.values->value() == b.train.values->value()));
  BOOST_TEST(a.train.images.shape_vector() == (shape_type{20000, 10}), boost::test_tools::per_element());
  BOOST_TEST(a.classes == 0u);
  // Without noise: mean 14.41 and variance 23.8 (the function's moments over the unit cube).
  const auto& y = a.train.values->value();
  BOOST_TEST(double(xt::mean(y)()) == 14.41, boost::test_tools::tolerance(0.01));
  BOOST_TEST(double(xt::variance(y)()) == 23.8, boost::test_tools::tolerance(0.03));
  // Each target is the formula of its own row.
  const auto& x = a.train.images.value();
  const double expected = 10 * std::sin(M_PI * x(5, 0) * x(5, 1)) + 20 * std::pow(x(5, 2) - 0.5, 2) + 10 * x(5, 3) + 5 * x(5, 4);
  BOOST_TEST(double(y(5, 0)) == expected, boost::test_tools::tolerance(1e-5));
  testing::require_error<value_error>([] { data::friedman1({.features = 4}); }, {"friedman1", "features is 4"});
  testing::require_error<value_error>([] { data::friedman1({.noise = -1}); }, {"friedman1", "noise"});
}

BOOST_AUTO_TEST_CASE(a_zero_batch_size_is_rejected) {
  BOOST_CHECK_THROW(counting_split(3).batches(0), value_error);
}

BOOST_AUTO_TEST_CASE(a_split_whose_images_and_labels_disagree_is_rejected) {
  data::Split s = counting_split(5);
  s.labels.push_back(0);
  BOOST_CHECK_EXCEPTION(s.batches(2), shape_error, [](const shape_error& e) {
    return message_has(e, {"Split::batches", "(5, 3)", "6 labels"});
  });
  BOOST_CHECK_THROW(s.head(2), shape_error);
}

BOOST_AUTO_TEST_CASE(head_takes_the_first_examples) {
  data::Split h = counting_split(10).head(4);
  BOOST_TEST(h.size() == 4u);
  BOOST_TEST(h.images.shape()[0] == 4u);
  BOOST_TEST(h.images.value()(3, 2) == 3.0f);
  BOOST_TEST(h.labels[3] == 3);
  BOOST_TEST(counting_split(3).head(10).size() == 3u);
}

BOOST_AUTO_TEST_CASE(the_batch_range_outlives_the_split_it_came_from) {
  auto batches = counting_split(10).head(5).batches(2);
  BOOST_TEST(epoch_ids(batches).size() == 3u);
}

// ---- Fashion-MNIST ----

namespace {
const data::Dataset& fashion() {
  static const data::Dataset d = data::fashion_mnist();
  return d;
}

std::pair<double, double> mean_and_std(const Tensor& t) {
  double sum = 0, squares = 0;
  for (float v : t.value()) sum += v, squares += double{v} * v;
  double mean = sum / t.size();
  return {mean, std::sqrt(squares / t.size() - mean * mean)};
}
}  // namespace

BOOST_AUTO_TEST_CASE(fashion_mnist_has_the_documented_split_sizes) {
  const auto& d = fashion();
  BOOST_TEST(d.train.size() == 55000u);
  BOOST_TEST(d.validation.size() == 5000u);
  BOOST_TEST(d.test.size() == 10000u);
  BOOST_TEST(d.train.images.shape_vector() == (shape_type{55000, 784}), boost::test_tools::per_element());
  BOOST_TEST(d.test.images.shape_vector() == (shape_type{10000, 784}), boost::test_tools::per_element());
  BOOST_TEST(d.classes == 10u);
  BOOST_TEST(d.class_names.size() == 10u);
  BOOST_TEST(d.class_names[9] == "Ankle boot");
}

BOOST_AUTO_TEST_CASE(fashion_mnist_is_standardized_with_training_statistics) {
  const auto& d = fashion();
  auto [mean, std] = mean_and_std(d.train.images);
  BOOST_TEST(std::abs(mean) < 1e-4);
  BOOST_TEST(std::abs(std - 1.0) < 1e-4);
  // The other splits get the training split's transform, so theirs are close but not exact.
  auto [test_mean, test_std] = mean_and_std(d.test.images);
  BOOST_TEST(std::abs(test_mean) < 0.05);
  BOOST_TEST(std::abs(test_std - 1.0) < 0.05);
  BOOST_TEST(d.standardization.mean > 0.2f);  // Fashion-MNIST's pixel mean is about 0.286
  BOOST_TEST(d.standardization.mean < 0.4f);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_labels_are_classes_and_all_occur) {
  for (const data::Split* s : {&fashion().train, &fashion().validation, &fashion().test}) {
    std::set<int> seen(s->labels.begin(), s->labels.end());
    BOOST_TEST(seen.size() == 10u);
    BOOST_TEST(*seen.begin() == 0);
    BOOST_TEST(*seen.rbegin() == 9);
  }
}

BOOST_AUTO_TEST_CASE(fashion_mnist_validation_is_disjoint_from_train_and_together_they_are_the_training_file) {
  const auto& d = fashion();
  std::set<std::size_t> train(d.train.source_index.begin(), d.train.source_index.end());
  std::set<std::size_t> validation(d.validation.source_index.begin(), d.validation.source_index.end());
  BOOST_TEST(train.size() == 55000u);
  BOOST_TEST(validation.size() == 5000u);
  std::set<std::size_t> both = train;
  both.insert(validation.begin(), validation.end());
  BOOST_TEST(both.size() == 60000u);
  BOOST_TEST(*both.rbegin() == 59999u);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_batches_iterate_with_range_for) {
  std::size_t examples = 0, batches = 0;
  for (int epoch = 0; epoch < 1; ++epoch)
    for (auto [x, y] : fashion().train.batches(128, data::Shuffle{epoch})) {
      BOOST_REQUIRE(x.shape()[1] == 784u);
      examples += y.size();
      ++batches;
    }
  BOOST_TEST(examples == 55000u);
  BOOST_TEST(batches == 430u);  // 429 full batches and one of 88
}

BOOST_AUTO_TEST_CASE(fashion_mnist_options_limit_and_seed_choose_the_examples) {
  data::FashionMnistOptions small{.validation = 100, .seed = 1, .standardize = false, .limit = 1000};
  data::Dataset a = data::fashion_mnist(small), b = data::fashion_mnist(small);
  BOOST_TEST(a.train.size() == 900u);
  BOOST_TEST(a.test.size() == 1000u);
  BOOST_TEST(a.validation.source_index == b.validation.source_index, boost::test_tools::per_element());
  small.seed = 2;
  BOOST_TEST(data::fashion_mnist(small).validation.source_index != a.validation.source_index);
  auto [lowest, highest] = std::minmax_element(a.train.images.value().begin(), a.train.images.value().end());
  BOOST_TEST(*lowest == 0.0f);
  BOOST_TEST(*highest == 1.0f);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_names_a_missing_file_and_the_package_that_provides_it) {
  TempDir dir;
  require_data_error([&] { data::fashion_mnist({.dir = dir.path.string()}); },
                     {(dir.path / "train-images-idx3-ubyte.gz").string(), "apt-get install dataset-fashion-mnist"});
}

BOOST_AUTO_TEST_CASE(fashion_mnist_from_a_symlink_loop_is_a_data_error_with_the_system_reason) {
  TempDir dir;
  fs::create_symlink(dir.path / "loop", dir.path / "loop");
  require_data_error([&] { data::fashion_mnist({.dir = (dir.path / "loop").string()}); },
                     {"cannot open it", "symbolic links"});
}

BOOST_AUTO_TEST_CASE(fashion_mnist_rejects_a_validation_split_that_leaves_no_training_data) {
  BOOST_CHECK_THROW(data::fashion_mnist({.validation = 1000, .limit = 1000}), value_error);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_as_images_gives_one_channel_28_by_28_batches_with_the_same_values) {
  const data::Dataset images = data::fashion_mnist({.validation = 500, .limit = 2000, .as_images = true});
  const data::Dataset rows = data::fashion_mnist({.validation = 500, .limit = 2000});
  BOOST_TEST(images.test.images.shape_vector() == (shape_type{2000, 1, 28, 28}), boost::test_tools::per_element());
  BOOST_TEST(images.train.features() == 784u);
  BOOST_TEST(images.standardization.mean == rows.standardization.mean);
  const auto batch = *images.train.batches(32, data::Shuffle{3}).begin();
  const auto row_batch = *rows.train.batches(32, data::Shuffle{3}).begin();
  BOOST_TEST(batch.x.shape_vector() == (shape_type{32, 1, 28, 28}), boost::test_tools::per_element());
  BOOST_TEST(std::equal(batch.x.value().begin(), batch.x.value().end(), row_batch.x.value().begin()));
}

BOOST_AUTO_TEST_CASE(augmentation_shifts_and_flips_images_filling_with_the_background) {
  // One 1x3x3 image 1..9; shifts of at most 1 pixel and flips: every result is the image moved by
  // (dy, dx) in [-1, 1]^2, mirrored or not, with 0 where nothing moved in.
  Generator gen(5);
  std::set<std::vector<float>> seen;
  for (int trial = 0; trial < 200; ++trial) {
    Tensor x(array<float>{{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}});
    data::augment(x, {.max_shift = 1, .horizontal_flip = true}, 0.0f, gen);
    seen.insert(std::vector<float>(x.value().begin(), x.value().end()));
  }
  BOOST_TEST(seen.size() == 18u, "9 shifts, each mirrored or not");
  BOOST_TEST(seen.count({0, 0, 0, 0, 1, 2, 0, 4, 5}) == 1u, "moved down and right by one");
  BOOST_TEST(seen.count({3, 2, 1, 6, 5, 4, 9, 8, 7}) == 1u, "mirrored in place");
  Tensor rows = Tensor::zeros({2, 784});
  BOOST_CHECK_THROW(data::augment(rows, {.max_shift = 1}, 0.0f, gen), shape_error);
}

BOOST_AUTO_TEST_CASE(random_erasing_zeros_one_rectangle_of_torchvisions_size) {
  // Images of ones, 20x30 in 2 channels: each erased image has one rectangle of zeros, the same in
  // both channels, of 2-33% of the area and aspect ratio 0.3-3.3; about half the images are erased.
  Generator gen(7);
  Tensor x(array<float>(std::vector<std::size_t>{400, 2, 20, 30}, 1.0f));
  data::augment(x, {.erase_probability = 0.5}, -1.0f, gen);
  std::size_t erased = 0;
  std::set<std::size_t> areas;
  for (std::size_t i = 0; i < 400; ++i) {
    std::size_t top = 20, bottom = 0, left = 30, right = 0, zeros = 0;
    for (std::size_t y = 0; y < 20; ++y)
      for (std::size_t xx = 0; xx < 30; ++xx) {
        const float v = x.value()(i, 0, y, xx);
        BOOST_REQUIRE(v == x.value()(i, 1, y, xx));
        BOOST_REQUIRE((v == 0.0f || v == 1.0f));
        if (v == 0.0f) {
          ++zeros;
          top = std::min(top, y), bottom = std::max(bottom, y + 1);
          left = std::min(left, xx), right = std::max(right, xx + 1);
        }
      }
    if (zeros == 0) continue;
    ++erased;
    const std::size_t h = bottom - top, w = right - left;
    BOOST_REQUIRE_EQUAL(zeros, h * w);  // one filled rectangle
    BOOST_TEST(zeros >= 0.02 * 600 - 6);  // the sides are rounded
    BOOST_TEST(zeros <= 0.33 * 600 + 30);
    BOOST_TEST(double(h) / double(w) >= 0.3 * 0.5);
    BOOST_TEST(double(h) / double(w) <= 3.3 * 2);
    areas.insert(zeros);
  }
  BOOST_TEST(erased >= 160u);
  BOOST_TEST(erased <= 240u);
  BOOST_TEST(areas.size() > 20u, "the rectangles' sizes vary");

  Tensor untouched(array<float>(std::vector<std::size_t>{4, 1, 5, 5}, 1.0f));
  data::augment(untouched, {.erase_probability = 0.0}, 0.0f, gen);
  BOOST_TEST(std::all_of(untouched.value().begin(), untouched.value().end(), [](float v) { return v == 1.0f; }));
  BOOST_CHECK_THROW(data::augment(untouched, {.erase_probability = 1.5}, 0.0f, gen), value_error);
  BOOST_CHECK_THROW(data::augment(untouched, {.erase_probability = std::nan("")}, 0.0f, gen), value_error);
}
