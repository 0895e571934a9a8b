#pragma once
// Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of clothes in 10 classes, 60,000 for training
// and 10,000 for testing, as Debian's dataset-fashion-mnist installs them (IDX files, gzip).
#include <cstdint>
#include <optional>
#include <string>

#include "xgrad/data/dataset.hpp"

namespace xg::data {

struct FashionMnistOptions {
  std::string dir = "/usr/share/datasets/fashion-mnist";
  std::size_t validation = 5000;      // examples carved from the training file, after a seeded shuffle
  std::uint64_t seed = 0;             // of that shuffle
  bool standardize = true;            // scale to [0, 1], then (x - mean) / std of the training split
  std::optional<std::size_t> limit{}; // use only the first `limit` examples of each file
  bool as_images = false;             // images (N, 1, 28, 28) for convolutional models, not rows (N, 784)
};

// Splits: train (60,000 - validation), validation (from the training file, never the test file) and
// test (10,000); images (N, 784), or (N, 1, 28, 28) with as_images, float32 in [0, 1], standardized if
// asked; labels 0..9. Throws
// xg::data_error naming the file when one is missing (and which package provides it) or malformed.
Dataset fashion_mnist(const FashionMnistOptions& options = {});

}  // namespace xg::data
