#include "xgrad/dist/data_parallel.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "xgrad/detail/op_support.hpp"
#include "xgrad/nn/layers.hpp"

namespace xg::dist {

namespace {
using clock_type = std::chrono::steady_clock;


// The layers and every parameter's and buffer's name and shape: what the ranks must agree on.
std::string model_signature(const nn::Module& model) {
  std::ostringstream s;
  s << model.describe();
  for (const auto& [name, t] : model.named_parameters()) s << '|' << name << shape_string(t.shape());
  for (const auto& [name, t] : model.named_buffers()) s << '|' << name << shape_string(t.shape());
  return s.str();
}
}  // namespace

template <class T>
GradientBuckets<T>::GradientBuckets(const Context& context, std::vector<TensorT<T>> parameters,
                                    std::size_t bucket_bytes, bool overlap)
    : context_(context), parameters_(std::move(parameters)), place_(parameters_.size()),
      ready_(parameters_.size(), false), overlap_(overlap) {
  // Reverse order: backward finishes the last layers' gradients first.
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    if (buckets_.empty() || buckets_.back().data.size() * sizeof(T) >= bucket_bytes) buckets_.emplace_back();
    Bucket& b = buckets_.back();
    place_[k] = {buckets_.size() - 1, b.members.size()};
    b.members.push_back(k);
    b.offsets.push_back(b.data.size());
    b.data.resize(b.data.size() + parameters_[k].size());
  }
  for (Bucket& b : buckets_) b.pending = b.members.size();
  if (overlap_)
    for (std::size_t i = 0; i < parameters_.size(); ++i)
      hooks_.push_back(parameters_[i].add_grad_ready_hook([this, i] { gradient_ready(i); }));
}

template <class T>
GradientBuckets<T>::~GradientBuckets() {
  for (std::size_t i = 0; i < hooks_.size(); ++i) parameters_[i].remove_grad_ready_hook(hooks_[i]);
  for (Bucket& b : buckets_)
    if (b.started) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
}

template <class T>
std::size_t GradientBuckets<T>::bytes() const {
  std::size_t n = 0;
  for (const Bucket& b : buckets_) n += b.data.size() * sizeof(T);
  return n;
}

template <class T>
void GradientBuckets<T>::gradient_ready(std::size_t i) {
  if (ready_[i]) return;
  ready_[i] = true;
  const auto [bucket_index, member] = place_[i];
  Bucket& b = buckets_[bucket_index];
  const TensorT<T>& p = parameters_[i];
  T* dst = b.data.data() + b.offsets[member];
  if (p.has_grad())
    std::copy(p.grad().begin(), p.grad().end(), dst);
  else
    std::fill(dst, dst + p.size(), T(0));
  if (--b.pending == 0 && overlap_) start(b);
  // Without a progress thread, OpenMPI moves a non-blocking collective on only inside MPI calls.
  for (Bucket& other : buckets_)
    if (other.started) {
      int done = 0;
      MPI_Test(&other.request, &done, MPI_STATUS_IGNORE);
    }
}

template <class T>
void GradientBuckets<T>::start(Bucket& b) {
  MPI_Iallreduce(MPI_IN_PLACE, b.data.data(), int(b.data.size()), detail::datatype_of(T()), MPI_SUM,
                 context_.communicator(), &b.request);
  b.started = true;
}

template <class T>
void GradientBuckets<T>::synchronize(T scale) {
  const auto t0 = clock_type::now();
  timing_.started_during_backward = std::size_t(std::count_if(buckets_.begin(), buckets_.end(), [](const Bucket& b) { return b.started; }));
  for (std::size_t i = 0; i < parameters_.size(); ++i) gradient_ready(i);
  for (Bucket& b : buckets_)
    if (!b.started) start(b);
  for (Bucket& b : buckets_) {
    MPI_Wait(&b.request, MPI_STATUS_IGNORE);
    b.started = false;
    for (std::size_t m = 0; m < b.members.size(); ++m) {
      TensorT<T>& p = parameters_[b.members[m]];
      const T* src = b.data.data() + b.offsets[m];
      Node<T>& node = *p.node();
      xg::detail::claim_grad(node);  // replaced, not added to; a parameter backward missed gets one
      std::transform(src, src + p.size(), node.grad.begin(), [scale](T v) { return v * scale; });
    }
    b.pending = b.members.size();
  }
  std::fill(ready_.begin(), ready_.end(), false);
  timing_.wait_seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <class T>
TensorT<T> rows_of(const TensorT<T>& x, std::size_t offset, std::size_t rows) {
  shape_type shape = x.shape_vector();
  const std::size_t row_size = shape[0] ? x.size() / shape[0] : 0;
  shape[0] = rows;
  array<T> out = array<T>::from_shape(shape);
  const T* src = x.value().data() + offset * row_size;
  std::copy(src, src + rows * row_size, out.data());
  return TensorT<T>(std::move(out));
}

DataParallel::DataParallel(nn::Module& model, const Context& context, DataParallelOptions options)
    : model_(model), context_(context), replica_sum_(std::make_shared<AllreduceSum>(context)) {
  context_.check_same("the model (a fingerprint of its layers and parameter shapes)",
                      fingerprint(model_signature(model)));
  for (auto& [name, t] : model.named_parameters()) context_.broadcast(std::span<float>(t.mutable_value().data(), t.size()));
  for (auto& [name, t] : model.named_buffers()) context_.broadcast(std::span<float>(t.mutable_value().data(), t.size()));
  for (const auto& [name, gen] : model.named_generators()) {
    std::ostringstream out;
    out << *gen;
    std::string state = out.str();
    context_.broadcast(state);
    std::istringstream in(state);
    in >> *gen;
  }
  if (options.sync_batch_norm)
    model.apply([&](nn::Module& m) {
      if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m)) bn->set_replica_sum(replica_sum_);
    });
  buckets_ = std::make_unique<GradientBuckets<float>>(context, model.parameters(), options.bucket_bytes, options.overlap);
}

DataParallel::~DataParallel() {
  model_.apply([&](nn::Module& m) {
    if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m)) bn->set_replica_sum(nullptr);
    if (auto* dropout = dynamic_cast<nn::Dropout*>(&m)) dropout->set_batch_shard({});
  });
}

data::Batch DataParallel::shard(const data::Batch& global) {
  const std::size_t n = global.y.size(), k = count(), r = std::size_t(context_.rank());
  if (n < k)
    throw value_error("DataParallel: a global batch of " + std::to_string(n) + " rows cannot be split over " +
                      std::to_string(k) + " ranks");
  const std::size_t rows = n / k + (r < n % k ? 1 : 0), offset = r * (n / k) + std::min(r, n % k);
  loss_scale_ = double(k) * double(rows) / double(n);
  model_.apply([&](nn::Module& m) {
    if (auto* dropout = dynamic_cast<nn::Dropout*>(&m)) dropout->set_batch_shard({offset, n});
  });
  data::Targets y = global.y.are_labels() ? data::Targets(global.y.labels().subspan(offset, rows))
                                           : data::Targets(rows_of(global.y.values(), offset, rows));
  return {rows_of(global.x, offset, rows), std::move(y)};
}

void DataParallel::synchronize_gradients() { buckets_->synchronize(1.0f / float(count())); }

template class GradientBuckets<float>;
template class GradientBuckets<double>;
template Tensor rows_of(const Tensor&, std::size_t, std::size_t);
template Tensor64 rows_of(const Tensor64&, std::size_t, std::size_t);

}  // namespace xg::dist
