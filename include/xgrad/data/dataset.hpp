#pragma once
// Labelled examples in memory (Split), reproducibly shuffled mini-batches over them, and a Dataset of
// train / validation / test splits.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xgrad/random.hpp"
#include "xgrad/tensor.hpp"

namespace xg::data {

// The seed of one epoch's order: `data::Shuffle{epoch}`. Accepts any integer, so an `int` epoch
// counter needs no cast (brace-initialising a std::uint64_t from an int would be a narrowing error).
struct Shuffle {
  std::uint64_t seed;
  template <std::integral I>
  constexpr explicit Shuffle(I seed_value) : seed(static_cast<std::uint64_t>(seed_value)) {}
};

// What a batch is trained to predict, like PyTorch's y: class labels (classification) or values
// (regression: a tensor of b rows). Labels convert to std::span<const int> by themselves, so
// `cross_entropy(model(x), y)` reads as it always did; `mse_loss(model(x), y.values())` for values.
class Targets {
 public:
  Targets() = default;
  Targets(std::span<const int> labels) : labels_(labels) {}  // NOLINT: implicit on purpose
  Targets(const std::vector<int>& labels) : Targets(std::span<const int>(labels)) {}  // NOLINT: a view, as a span
  explicit Targets(Tensor values);

  std::size_t size() const { return values_ ? values_->shape()[0] : labels_.size(); }  // examples
  bool are_labels() const { return !values_; }
  // Each throws xg::value_error when the targets are of the other kind.
  std::span<const int> labels() const;
  const Tensor& values() const;
  operator std::span<const int>() const { return labels(); }  // NOLINT: see above
  int operator[](std::size_t i) const { return labels()[i]; }

 private:
  std::span<const int> labels_;
  std::optional<Tensor> values_;
};

struct Batch {
  Tensor x;   // (b, features), or (b, C, H, W) for images
  Targets y;  // b labels, valid while the batch range lives, or b rows of values
};

// One pass over a split in mini-batches; the last batch holds the remainder. Range-for over it:
//   for (auto [x, y] : split.batches(128, data::Shuffle{epoch})) ...
// The range shares the split's images (a Tensor handle), so it stays valid if the split goes away.
class BatchRange {
 public:
  class iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    const Batch& operator*() const { return batch_; }
    const Batch* operator->() const { return &batch_; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const;

   private:
    friend class BatchRange;
    iterator(const BatchRange* range, std::size_t start);
    void gather();

    const BatchRange* range_ = nullptr;
    std::size_t start_ = 0;  // position of the batch's first example in the epoch's order
    Batch batch_;
  };

  BatchRange(Tensor images, std::vector<std::size_t> order, std::vector<int> labels_in_order,
             std::optional<Tensor> values, std::size_t batch_size);
  iterator begin() const { return iterator(this, 0); }
  std::default_sentinel_t end() const { return {}; }
  std::size_t size() const;  // the number of batches

 private:
  Tensor images_;
  std::vector<std::size_t> order_;  // the epoch's example order
  std::vector<int> labels_in_order_;  // so that each batch's labels are one contiguous span
  std::optional<Tensor> values_;      // regression targets (N, ...), gathered in order_ per batch
  std::size_t batch_size_;
};

// Examples in memory: images (N, features) or (N, C, H, W) float32, and what to predict of each:
// its class label, or (for regression) a row of `values` (N, ...) float32 with no labels.
struct Split {
  Tensor images;
  std::vector<int> labels;
  std::vector<std::size_t> source_index;  // row i is example source_index[i] of its source file (empty if unknown)
  std::optional<Tensor> values{};         // regression targets instead of labels

  std::size_t size() const { return values ? (values->dim() ? values->shape()[0] : 0) : labels.size(); }
  std::size_t features() const;  // values per example

  // Mini-batches in an order drawn from the seed (the same seed, the same order, on every platform).
  BatchRange batches(std::size_t batch_size, Shuffle shuffle) const;
  // Mini-batches in the split's own order.
  BatchRange batches(std::size_t batch_size) const;

  // The first n examples (all of them if n >= size()), e.g. to check a model can overfit a few.
  Split head(std::size_t n) const;
  // The given rows, in the given order.
  Split select(std::span<const std::size_t> rows) const;
};

// x -> (x - mean) / stddev, the same for every split.
struct Standardization {
  float mean = 0.0f;
  float stddev = 1.0f;
};

struct Dataset {
  Split train{}, validation{}, test{};
  std::size_t classes = 0;  // 0 for regression
  std::vector<std::string> class_names{};
  Standardization standardization{};  // what was applied to the images (identity if none)
};

// Random changes to training images that keep their class: more distinct examples for free.
struct Augmentation {
  std::size_t max_shift = 0;     // move each image by up to this many pixels along each axis
  bool horizontal_flip = false;  // mirror each image with probability 1/2 (clothes are nearly symmetric)
  // Random erasing (Zhong et al. 2017, torchvision's RandomErasing with its defaults): with this
  // probability, a rectangle of 2-33% of the image, of aspect ratio 0.3-3.3, is set to 0, the mean
  // pixel after standardisation. The network must recognise an object with a part hidden.
  double erase_probability = 0.0;
  bool enabled() const { return max_shift > 0 || horizontal_flip || erase_probability > 0; }
};

// Applies a to every image of a batch (N, C, H, W) in place, drawing from gen (shift and flip first,
// then erasing); pixels moved in from outside take the value `background` (a blank pixel after
// standardisation). An erase_probability outside [0, 1] is a value_error.
void augment(Tensor& images, const Augmentation& a, float background, Generator& gen);

// 0, 1, ..., n-1 in an order drawn from gen by Fisher-Yates. Unlike std::shuffle and
// std::uniform_int_distribution, whose algorithms differ between standard libraries, this gives the
// same order for the same seed everywhere.
std::vector<std::size_t> permutation(std::size_t n, Generator& gen);

}  // namespace xg::data
