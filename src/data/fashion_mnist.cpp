#include "xgrad/data/fashion_mnist.hpp"

#include <cmath>
#include <filesystem>
#include <numeric>

#include "xgrad/data/idx.hpp"
#include "xgrad/errors.hpp"

namespace xg::data {
namespace {

constexpr std::size_t image_side = 28;
constexpr std::size_t classes = 10;

struct LabelledImages {
  IdxArray images, labels;
  std::size_t count = 0;  // after the limit
};

LabelledImages read_pair(const std::filesystem::path& dir, const char* images_file, const char* labels_file,
                         std::optional<std::size_t> limit) {
  const std::filesystem::path image_path = dir / images_file, label_path = dir / labels_file;
  for (const auto& path : {image_path, label_path})
    // With an error (a symlink loop, no permission) read_idx below gives the system's reason.
    if (std::error_code error; !std::filesystem::exists(path, error) && !error)
      throw data_error("file " + path.string() +
                       ": does not exist; `apt-get install dataset-fashion-mnist` provides it "
                       "(or point FashionMnistOptions::dir at a copy)");

  LabelledImages pair{read_idx(image_path), read_idx(label_path)};
  const auto& dims = pair.images.dims;
  if (dims.size() != 3 || dims[1] != image_side || dims[2] != image_side)
    throw data_error("file " + image_path.string() + ": expected images of shape (N, 28, 28), found " +
                     shape_string(dims));
  if (pair.labels.dims.size() != 1 || pair.labels.dims[0] != dims[0])
    throw data_error("file " + label_path.string() + ": expected " + std::to_string(dims[0]) +
                     " labels, one per image in " + image_path.string() + ", found shape " +
                     shape_string(pair.labels.dims));
  for (std::size_t i = 0; i < pair.labels.data.size(); ++i)
    if (pair.labels.data[i] >= classes)
      throw data_error("file " + label_path.string() + ": label " + std::to_string(pair.labels.data[i]) +
                       " of example " + std::to_string(i) + " is not a class (0 to 9)");
  pair.count = std::min(dims[0], limit.value_or(dims[0]));
  return pair;
}

// The given examples, pixels scaled to [0, 1], as rows or as one-channel images.
Split make_split(const LabelledImages& source, std::span<const std::size_t> rows, bool as_images) {
  constexpr std::size_t pixels = image_side * image_side;
  Split split;
  split.images = Tensor(array<float>::from_shape(as_images ? shape_type{rows.size(), 1, image_side, image_side}
                                                           : shape_type{rows.size(), pixels}));
  float* out = split.images.mutable_value().data();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::uint8_t* image = source.images.data.data() + rows[r] * pixels;
    for (std::size_t p = 0; p < pixels; ++p) out[r * pixels + p] = image[p] * (1.0f / 255.0f);
    split.labels.push_back(source.labels.data[rows[r]]);
    split.source_index.push_back(rows[r]);
  }
  return split;
}

// One mean and one standard deviation over all pixels of the training split. Per-pixel statistics
// would divide the border pixels, which are almost always 0, by a near-zero deviation and blow the
// rare non-zero value there up into a huge input; a single pair keeps the pixels' relative scale.
Standardization training_statistics(const Split& train) {
  const array<float>& v = train.images.value();
  double sum = 0.0, sum_squares = 0.0;
  for (float x : v) {
    sum += x;
    sum_squares += double{x} * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = n > 0 ? sum / n : 0.0;
  const double variance = n > 0 ? std::max(sum_squares / n - mean * mean, 0.0) : 0.0;
  // A (near-)constant training split, e.g. a tiny limit of blank images: centre it, do not divide.
  const double stddev = std::sqrt(variance) > 1e-6 ? std::sqrt(variance) : 1.0;
  return {static_cast<float>(mean), static_cast<float>(stddev)};
}

void apply(const Standardization& s, Split& split) {
  const float scale = 1.0f / s.stddev;
  for (float& x : split.images.mutable_value()) x = (x - s.mean) * scale;
}

}  // namespace

Dataset fashion_mnist(const FashionMnistOptions& options) {
  const LabelledImages train_file =
      read_pair(options.dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", options.limit);
  const LabelledImages test_file =
      read_pair(options.dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", options.limit);
  if (options.validation >= train_file.count)
    throw value_error("fashion_mnist: a validation split of " + std::to_string(options.validation) +
                      " examples leaves none of the " + std::to_string(train_file.count) + " for training");

  // Validation comes from a seeded shuffle of the training file, so it is a fair sample of its
  // classes; the test file is never touched until the final evaluation.
  Generator gen(options.seed);
  const std::vector<std::size_t> order = permutation(train_file.count, gen);
  const std::span<const std::size_t> all(order);
  std::vector<std::size_t> test_rows(test_file.count);
  std::iota(test_rows.begin(), test_rows.end(), std::size_t{0});

  Dataset data;
  data.validation = make_split(train_file, all.first(options.validation), options.as_images);
  data.train = make_split(train_file, all.subspan(options.validation), options.as_images);
  data.test = make_split(test_file, test_rows, options.as_images);
  data.classes = classes;
  data.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (options.standardize) {
    // Statistics from the training split only: using validation or test data would leak information
    // about them into training, and the model would meet new data with those same statistics.
    data.standardization = training_statistics(data.train);
    for (Split* split : {&data.train, &data.validation, &data.test}) apply(data.standardization, *split);
  }
  return data;
}

}  // namespace xg::data
