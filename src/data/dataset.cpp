#include "xgrad/data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "xgrad/errors.hpp"

namespace xg::data {
namespace {

// The values of one example of (N, ...) images: 784 for rows (N, 784) and images (N, 1, 28, 28).
std::size_t example_size(const Tensor& images) { return images.shape()[0] ? images.size() / images.shape()[0] : 0; }

// The shape of a batch of n examples of these images.
shape_type batch_shape(const Tensor& images, std::size_t n) {
  shape_type shape = images.shape_vector();
  shape[0] = n;
  return shape;
}

// Copies examples (rows) of (N, ...) images, in the given order, into a (rows.size(), ...) buffer.
void gather_rows(const Tensor& images, std::span<const std::size_t> rows, float* target) {
  const std::size_t features = example_size(images);
  const float* source = images.value().data();
  for (std::size_t r = 0; r < rows.size(); ++r)
    std::memcpy(target + r * features, source + rows[r] * features, features * sizeof(float));
}

// A split built by hand must hold one image row (and source index, if any) per label or row of
// values before rows are gathered from it.
void check_rows(const Split& split, const char* op) {
  if (split.values && !split.labels.empty())
    throw value_error(std::string(op) + ": the split holds both " + std::to_string(split.labels.size()) +
                      " labels and values of shape " + shape_string(split.values->shape()) +
                      "; a split predicts one or the other");
  const std::string targets = split.values ? "values of shape " + shape_string(split.values->shape())
                                           : std::to_string(split.labels.size()) + " labels";
  if (split.images.dim() < 2 || (split.values && split.values->dim() < 1) || split.images.shape()[0] != split.size() ||
      (!split.source_index.empty() && split.source_index.size() != split.size()))
    throw shape_error(std::string(op) + ": images of shape " + shape_string(split.images.shape()) + " and " +
                      std::to_string(split.source_index.size()) + " source indices do not match " + targets);
}

// The given rows of `source` into `batch`, reusing the previous batch's buffer when no one else
// holds it (the loop body's copy is gone by now unless the user kept it, e.g. on a tape that is
// still alive); only a last, smaller batch needs a new one.
void gather_batch(const Tensor& source, std::span<const std::size_t> rows, Tensor& batch) {
  const shape_type shape = batch_shape(source, rows.size());
  const bool reusable = batch.node().use_count() == 1 && batch.shape_vector() == shape;
  if (!reusable) batch = Tensor(array<float>::from_shape(shape));
  gather_rows(source, rows, batch.mutable_value().data());
}

}  // namespace

Targets::Targets(Tensor values) : values_(std::move(values)) {
  if (values_->dim() < 1)
    throw shape_error("Targets: values need a row per example, got shape " + shape_string(values_->shape()));
}

std::span<const int> Targets::labels() const {
  if (values_)
    throw value_error("Targets::labels: these targets are values of shape " + shape_string(values_->shape()) +
                      " (regression), not class labels: use values(), and a loss such as mse_loss");
  return labels_;
}

const Tensor& Targets::values() const {
  if (!values_)
    throw value_error("Targets::values: these targets are " + std::to_string(labels_.size()) +
                      " class labels, not values: use labels() (or pass them as they are, e.g. to cross_entropy)");
  return *values_;
}

namespace {

// torchvision's RandomErasing: up to 10 tries to draw a rectangle (area a fraction of the image
// drawn uniformly from [0.02, 0.33], aspect ratio log-uniformly from [0.3, 3.3]) that fits, then
// zeros it in every channel; an image where no try fits stays as it is.
void erase_rectangle(float* image, std::size_t channels, std::size_t h, std::size_t w, Generator& gen) {
  const double min_area = 0.02, max_area = 0.33, log_min_ratio = std::log(0.3), log_max_ratio = std::log(3.3);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = double(h * w) * (min_area + (max_area - min_area) * unit_uniform(gen));
    const double ratio = std::exp(log_min_ratio + (log_max_ratio - log_min_ratio) * unit_uniform(gen));
    const auto eh = std::size_t(std::lround(std::sqrt(area * ratio))), ew = std::size_t(std::lround(std::sqrt(area / ratio)));
    if (eh == 0 || ew == 0 || eh >= h || ew >= w) continue;
    const auto top = std::size_t(unit_uniform(gen) * double(h - eh + 1));
    const auto left = std::size_t(unit_uniform(gen) * double(w - ew + 1));
    for (std::size_t c = 0; c < channels; ++c)
      for (std::size_t y = top; y < top + eh; ++y) std::fill_n(image + (c * h + y) * w + left, ew, 0.0f);
    return;
  }
}

}  // namespace

void augment(Tensor& images, const Augmentation& a, float background, Generator& gen) {
  if (images.dim() != 4)
    throw shape_error("augment: expects images (N, C, H, W), got " + shape_string(images.shape()));
  if (!(a.erase_probability >= 0 && a.erase_probability <= 1))
    throw value_error("augment: erase_probability must be in [0, 1], got " + std::to_string(a.erase_probability));
  const std::size_t n = images.shape()[0], channels = images.shape()[1], h = images.shape()[2], w = images.shape()[3];
  const long max_shift = long(a.max_shift);
  thread_local std::vector<float> source;  // one image, kept across batches
  source.resize(channels * h * w);
  for (std::size_t i = 0; i < n; ++i) {
    float* image = images.mutable_value().data() + i * source.size();
    // Uniform draws from the raw stream, so that every platform gets the same changes.
    const long dy = max_shift ? long(gen() % std::uint64_t(2 * max_shift + 1)) - max_shift : 0;
    const long dx = max_shift ? long(gen() % std::uint64_t(2 * max_shift + 1)) - max_shift : 0;
    const bool flip = a.horizontal_flip && (gen() & 1);
    if (dy != 0 || dx != 0 || flip) {
      std::copy(image, image + source.size(), source.begin());
      for (std::size_t c = 0; c < channels; ++c)
        for (long y = 0; y < long(h); ++y)
          for (long x = 0; x < long(w); ++x) {
            const long sy = y - dy, sx0 = x - dx, sx = flip ? long(w) - 1 - sx0 : sx0;
            const bool inside = sy >= 0 && sy < long(h) && sx0 >= 0 && sx0 < long(w);
            image[(c * h + y) * w + x] = inside ? source[(c * h + sy) * w + sx] : background;
          }
    }
    if (a.erase_probability > 0 && unit_uniform(gen) < a.erase_probability) erase_rectangle(image, channels, h, w, gen);
  }
}

std::vector<std::size_t> permutation(std::size_t n, Generator& gen) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = n; i > 1; --i) {
    // A uniform j in [0, i) by rejection: drawing below the largest multiple of i avoids modulo bias.
    const std::uint64_t bound = i, limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t r;
    do r = gen();
    while (r >= limit);
    std::swap(order[i - 1], order[r % bound]);
  }
  return order;
}

BatchRange::BatchRange(Tensor images, std::vector<std::size_t> order, std::vector<int> labels_in_order,
                       std::optional<Tensor> values, std::size_t batch_size)
    : images_(std::move(images)),
      order_(std::move(order)),
      labels_in_order_(std::move(labels_in_order)),
      values_(std::move(values)),
      batch_size_(batch_size) {
  if (batch_size_ == 0) throw value_error("batches: the batch size must be at least 1");
}

std::size_t BatchRange::size() const { return (order_.size() + batch_size_ - 1) / batch_size_; }

BatchRange::iterator::iterator(const BatchRange* range, std::size_t start) : range_(range), start_(start) {
  gather();
}

BatchRange::iterator& BatchRange::iterator::operator++() {
  start_ += range_->batch_size_;
  gather();
  return *this;
}

bool BatchRange::iterator::operator==(std::default_sentinel_t) const {
  return !range_ || start_ >= range_->order_.size();
}

void BatchRange::iterator::gather() {
  const std::size_t n = range_->order_.size();
  if (start_ >= n) {
    batch_ = {};
    return;
  }
  const std::size_t rows = std::min(range_->batch_size_, n - start_);
  const auto batch_rows = std::span<const std::size_t>(range_->order_).subspan(start_, rows);
  gather_batch(range_->images_, batch_rows, batch_.x);
  if (range_->values_) {
    Tensor values = batch_.y.are_labels() ? Tensor() : batch_.y.values();
    batch_.y = {};  // so that the buffer's one other holder is gone before gather_batch looks
    gather_batch(*range_->values_, batch_rows, values);
    batch_.y = Targets(std::move(values));
  } else {
    batch_.y = std::span<const int>(range_->labels_in_order_).subspan(start_, rows);
  }
}

std::size_t Split::features() const { return images.dim() >= 2 ? example_size(images) : 0; }

BatchRange Split::batches(std::size_t batch_size, Shuffle shuffle) const {
  check_rows(*this, "Split::batches");
  Generator gen(shuffle.seed);
  std::vector<std::size_t> order = permutation(size(), gen);
  std::vector<int> labels_in_order(labels.empty() ? 0 : order.size());
  for (std::size_t i = 0; i < labels_in_order.size(); ++i) labels_in_order[i] = labels[order[i]];
  return BatchRange(images, std::move(order), std::move(labels_in_order), values, batch_size);
}

BatchRange Split::batches(std::size_t batch_size) const {
  check_rows(*this, "Split::batches");
  std::vector<std::size_t> order(size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  return BatchRange(images, std::move(order), labels, values, batch_size);
}

Split Split::head(std::size_t n) const {
  std::vector<std::size_t> rows(std::min(n, size()));
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  return select(rows);
}

Split Split::select(std::span<const std::size_t> rows) const {
  check_rows(*this, "Split::select");
  Split out;
  for (std::size_t row : rows) {
    if (row >= size())
      throw value_error("Split::select: row " + std::to_string(row) + " is out of range for a split of " +
                        std::to_string(size()) + " examples");
    if (!labels.empty()) out.labels.push_back(labels[row]);
    if (!source_index.empty()) out.source_index.push_back(source_index[row]);
  }
  gather_batch(images, rows, out.images);
  if (values) gather_batch(*values, rows, out.values.emplace());
  return out;
}

}  // namespace xg::data
