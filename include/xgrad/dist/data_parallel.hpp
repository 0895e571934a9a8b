#pragma once
// Data-parallel training over MPI, as PyTorch's DistributedDataParallel and Horovod do it: every
// rank holds a full replica (rank 0's parameters, buffers and random streams broadcast at the
// start), trains on its shard of each global batch, and averages the gradients in buckets whose
// allreduce starts during backward, as soon as a bucket's last gradient is final. Batch norm takes
// its statistics over the global batch (SyncBatchNorm). See docs/distributed.md.
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "xgrad/dist/context.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/ops.hpp"
#include "xgrad/train/train.hpp"

namespace xg::dist {

// batch norm's ReplicaSum: an MPI_Allreduce over the context's ranks.
class AllreduceSum final : public ReplicaSum {
 public:
  explicit AllreduceSum(const Context& context) : context_(context) {}
  void operator()(std::span<float> values) const override { context_.sum(values); }
  void operator()(std::span<double> values) const override { context_.sum(values); }

 private:
  const Context& context_;
};

// Where the time of the last synchronize() went, for measuring the overlap.
struct BucketTiming {
  std::size_t started_during_backward = 0;  // buckets whose allreduce began before synchronize()
  double wait_seconds = 0;                  // synchronize(): from its call until every bucket was done
};

// The gradients of `parameters` averaged over the ranks, in buckets of about bucket_bytes. A
// bucket holds parameters in reverse order (the order backward finishes them); its MPI_Iallreduce
// starts during backward as soon as its last gradient is final (each parameter's grad-ready hook,
// called by the tape walk) or, at the latest, in synchronize(). Every rank must run the same graph,
// so the buckets start in the same order. One backward per step (no gradient accumulation over
// several backward passes: the hook takes a gradient as final the first time).
template <class T>
class GradientBuckets {
 public:
  GradientBuckets(const Context& context, std::vector<TensorT<T>> parameters, std::size_t bucket_bytes,
                  bool overlap = true);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Parameter i's gradient is final for this step: copied into its bucket, whose allreduce starts
  // if it was the bucket's last.
  void gradient_ready(std::size_t i);
  // Starts the buckets not started yet (a parameter backward did not reach counts as zero), waits
  // for all, and leaves in each parameter's gradient the sum over the ranks times `scale`.
  void synchronize(T scale);

  std::size_t bucket_count() const { return buckets_.size(); }
  std::size_t bytes() const;  // what each rank contributes per step
  const BucketTiming& last_timing() const { return timing_; }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // parameter indices
    std::vector<std::size_t> offsets;  // of each member in data
    std::vector<T> data;
    std::size_t pending = 0;           // members whose gradient is not in data yet
    MPI_Request request = MPI_REQUEST_NULL;
    bool started = false;
  };
  void start(Bucket& bucket);

  const Context& context_;
  std::vector<TensorT<T>> parameters_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<std::size_t, std::size_t>> place_;  // parameter -> (bucket, member)
  std::vector<bool> ready_;
  std::vector<std::size_t> hooks_;  // each parameter's grad-ready hook
  bool overlap_;
  BucketTiming timing_;
};

struct DataParallelOptions {
  std::size_t bucket_bytes = 25u << 20;  // PyTorch DDP's default bucket_cap_mb
  bool overlap = true;          // false: every allreduce starts after backward (to measure the overlap)
  bool sync_batch_norm = true;  // batch norm's statistics over the global batch
};

class DataParallel final : public train::Replicas {
 public:
  // Collective: every rank constructs it with the same model. Checks the ranks built the same model
  // (xg::value_error otherwise), then gives every rank rank 0's parameters, buffers and random streams.
  DataParallel(nn::Module& model, const Context& context, DataParallelOptions options = {});
  ~DataParallel() override;

  std::size_t count() const override { return std::size_t(context_.size()); }
  bool is_main() const override { return context_.is_main(); }
  // Rows [offset, offset + n) of the global batch for this rank, the shards as even as can be, in
  // rank order; Dropout layers draw those rows of the global batch's masks.
  data::Batch shard(const data::Batch& global) override;
  double loss_scale() const override { return loss_scale_; }
  void synchronize_gradients() override;
  void sum(std::span<double> values) override { context_.sum(values); }
  void check_same(const std::string& what, std::uint64_t value) override { context_.check_same(what, value); }

  const GradientBuckets<float>& buckets() const { return *buckets_; }

 private:
  nn::Module& model_;
  const Context& context_;
  std::shared_ptr<AllreduceSum> replica_sum_;
  std::unique_ptr<GradientBuckets<float>> buckets_;
  double loss_scale_ = 1;
};

// Rows [offset, offset + rows) of x along its first axis, copied.
template <class T>
TensorT<T> rows_of(const TensorT<T>& x, std::size_t offset, std::size_t rows);

}  // namespace xg::dist
