#pragma once
// The hand-written Eigen 3.4 baseline xgrad is measured against (issue 6): MLPs with a hand-derived
// backward and Adam, written the way a careful engineer would write them in plain Eigen.
//
// Layout: Eigen's default column-major, features down the rows and one sample per column. These are
// exactly the bytes of xgrad's row-major [batch x features] activations, and a weight stored
// [out x in] column-major is xgrad's row-major [in x out] weight of `x @ W`; so buffers copy across
// unchanged. Column-major with samples as columns also makes every per-sample operation (softmax)
// and every per-feature accumulation (batch norm) a walk over contiguous columns that vectorises.
//
// Speed: every buffer is allocated when the model is built, products go through `noalias()`, and
// batch norm + ReLU, softmax + cross-entropy and Adam are single fused loops, not chains of Eigen
// expressions that would each make a pass over memory. With n threads, Eigen's GEMM and the Adam
// update use n OpenMP threads (Eigen::setNbThreads).
#include <span>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

namespace xg::bench {

template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
// Kernel arguments that bind, without a copy, to a vector or to a Param's `.col(0)`. (type_identity:
// Scalar is deduced from the other arguments.)
template <class Scalar>
using VectorIn = std::type_identity_t<Eigen::Ref<const Vector<Scalar>>>;
template <class Scalar>
using VectorOut = std::type_identity_t<Eigen::Ref<Vector<Scalar>>>;

// A learned tensor with its gradient and Adam's two moment estimates.
template <class Scalar>
struct Param {
  Matrix<Scalar> value, grad, first_moment, second_moment;

  void resize(Eigen::Index rows, Eigen::Index cols);
  // Element order is the storage order (see the layout note above).
  void load(std::span<const Scalar> values);
};

struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

// Adam with bias correction: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
// p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1-b1^t), v_hat = v / (1-b2^t).
template <class Scalar>
class Adam {
 public:
  explicit Adam(AdamConfig config = {}) : config_(config) {}
  void step(std::span<Param<Scalar>* const> params);
  long steps_taken() const { return t_; }

 private:
  AdamConfig config_;
  long t_ = 0;
};

// ---- Fused kernels (the models use these; bench_kernels times them) ----

// h = max(z, 0).
template <class Scalar>
void relu_forward(const Matrix<Scalar>& z, Matrix<Scalar>& h);
// In place: d becomes d * (h > 0), turning d(loss)/d(h) into d(loss)/d(z).
template <class Scalar>
void relu_backward(const Matrix<Scalar>& h, Matrix<Scalar>& d);

// Mean cross-entropy of softmax(logits) over the columns; writes d(loss)/d(logits) = (p - y) / m.
template <class Scalar>
Scalar softmax_cross_entropy(const Matrix<Scalar>& logits, std::span<const int> labels,
                             Matrix<Scalar>& dlogits);

// Batch norm (train mode: batch mean, biased variance) followed by ReLU, per feature (row).
struct BatchNormConfig {
  double eps = 1e-5, momentum = 0.1;  // running = (1 - momentum) running + momentum batch
};
template <class Scalar>
struct BatchNormState {
  Vector<Scalar> mean, inv_std;                // of the last forward batch, for backward
  Vector<Scalar> running_mean, running_var;    // for eval mode (running_var uses 1/(m-1))
  void resize(Eigen::Index features);
};
// In place: z becomes z_hat = (z - mean) / sqrt(var + eps), which backward needs; h = max(gamma z_hat + beta, 0).
template <class Scalar>
void batch_norm_relu_forward(Matrix<Scalar>& z, VectorIn<Scalar> gamma, VectorIn<Scalar> beta,
                             BatchNormState<Scalar>& state, Matrix<Scalar>& h, BatchNormConfig config = {});
// In place: d becomes d(loss)/d(z) from d(loss)/d(h), in the compact form
// dz = gamma / (m sigma) * (m dy - sum(dy) - z_hat * sum(dy z_hat)), dy = d * (h > 0).
template <class Scalar>
void batch_norm_relu_backward(const Matrix<Scalar>& z_hat, const Matrix<Scalar>& h, VectorIn<Scalar> gamma,
                              const BatchNormState<Scalar>& state, Matrix<Scalar>& d, VectorOut<Scalar> dgamma,
                              VectorOut<Scalar> dbeta);

// ---- The models ----

// widths = {inputs, hidden..., classes}. Every hidden layer is Linear -> [BatchNorm] -> ReLU; with
// batch norm its Linear has no bias (the mean subtraction removes it). The last layer is Linear with
// bias, followed by softmax cross-entropy (mean over the batch).
struct MlpConfig {
  Eigen::Index batch = 0;
  std::vector<Eigen::Index> widths;
  bool batch_norm = false;
  AdamConfig adam{};
};
// The models of issue 6.
MlpConfig mlp_bn_config();     // x[256x784] -> 1024 -> BN -> ReLU -> 1024 -> BN -> ReLU -> 10
MlpConfig mlp_small_config();  // x[32x784] -> 128 -> ReLU -> 10

template <class Scalar>
class Mlp {
 public:
  // Weights He-uniform from `seed`, gamma 1, beta 0, biases 0.
  explicit Mlp(MlpConfig config, unsigned seed = 42);
  Mlp(const Mlp&) = delete;  // parameters() points into the layers
  Mlp& operator=(const Mlp&) = delete;

  // x is [inputs x batch] (one sample per column); returns the mean loss and keeps what backward needs.
  Scalar forward(const Matrix<Scalar>& x, std::span<const int> labels);
  // Fills every parameter's grad (overwriting, not accumulating).
  void backward(const Matrix<Scalar>& x);
  void adam_step();
  // One training step: forward, backward, Adam. Returns the loss before the update.
  Scalar step(const Matrix<Scalar>& x, std::span<const int> labels);

  // In order: per hidden layer weight, then gamma and beta (batch norm) or bias; then the output
  // weight and bias. Weights are [out x in], vectors [n x 1].
  std::span<Param<Scalar>* const> parameters() { return params_; }
  const MlpConfig& config() const { return config_; }

 private:
  struct Linear {
    Param<Scalar> weight;
    Param<Scalar> bias;  // empty when the layer has none
    bool has_bias = false;
    void forward(const Matrix<Scalar>& x, Matrix<Scalar>& z) const;
    // dx may be null (the input needs no gradient).
    void backward(const Matrix<Scalar>& x, const Matrix<Scalar>& dz, Matrix<Scalar>* dx);
  };
  struct Hidden {
    Linear linear;
    Param<Scalar> gamma, beta;  // batch norm only
    BatchNormState<Scalar> bn;
    Matrix<Scalar> z;      // pre-activation; z_hat after a batch-norm forward
    Matrix<Scalar> h;      // output after ReLU
    Matrix<Scalar> delta;  // d(loss)/d(h), turned into d(loss)/d(z) in place
  };

  MlpConfig config_;
  std::vector<Hidden> hidden_;
  Linear output_;
  Matrix<Scalar> logits_, dlogits_;
  std::vector<Param<Scalar>*> params_;
  Adam<Scalar> adam_;
};

}  // namespace xg::bench
