#include "xgrad/train/checkpoint.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

#include "xgrad/io/safetensors.hpp"
#include "xgrad/random.hpp"

namespace xg::train {

namespace {
// Checkpoint metadata keys "generator.<module path>.<name>" hold the modules' random streams.
const std::string generator_prefix = "generator.";
const std::string epoch_key = "epoch", steps_key = "optimizer.steps", history_key = "metrics.csv";
// What makes a checkpoint usable without the C++ code (scripts/load_checkpoint.py reads them).
const std::string model_key = "model", input_mean_key = "input.mean", input_std_key = "input.std";
// Checkpoints written before the step count moved to the metadata keep it as this float tensor.
const std::string legacy_steps_tensor = "optimizer.step";

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw data_error(path.string() + ": " + what);
}

// A metadata entry holding a whole number in [0, max], written in decimal digits.
long long read_count(const std::filesystem::path& path, const io::Metadata& metadata, const std::string& key,
                     long long max) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) fail(path, "checkpoint metadata has no " + key);
  const std::string& text = it->second;
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > max)
    fail(path, "checkpoint metadata has " + key + " '" + excerpt(text) + "'; it must be a whole number in [0, " +
                   std::to_string(max) + "]");
  return value;
}

// Entries that are variances or second moments (batch norm's running variance, Adam's nu, RMSprop's
// mean square): a negative one would give NaN at its first use.
bool holds_a_variance(const std::string& name) {
  for (const char* part : {"running_var", ".nu.", ".mean_square."})
    if (name.find(part) != std::string::npos) return true;
  return false;
}

// The saved tensor `name`, checked: finite, and non-negative where it is a variance.
Tensor checked_tensor(const std::filesystem::path& path, const io::Safetensors& file, const std::string& name) {
  const Tensor saved = file.f32(name);
  const bool variance = holds_a_variance(name);
  for (std::size_t i = 0; i < saved.size(); ++i) {
    const float v = saved.value().data()[i];
    if (!std::isfinite(v) || (variance && v < 0))
      fail(path, "tensor '" + name + "' holds " + std::to_string(v) + " at element " + std::to_string(i) +
                     (variance ? "; a variance must be finite and >= 0" : "; it must be finite"));
  }
  return saved;
}

// The saved values for the tensors `into` (named prefix + their name), checked for shape and value.
std::vector<Tensor> read_tensors(const std::filesystem::path& path, const io::Safetensors& file,
                                 const std::string& prefix, const nn::NamedTensors& into) {
  std::vector<Tensor> values;
  for (const auto& [name, t] : into) {
    const Tensor saved = checked_tensor(path, file, prefix + name);
    if (saved.shape_vector() != t.shape_vector())
      fail(path, "tensor '" + prefix + name + "' has shape " + shape_string(saved.shape()) + " but the model's is " +
                     shape_string(t.shape()));
    values.push_back(saved);
  }
  return values;
}

// A float saved as its shortest exact decimal text.
std::string float_text(float value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

// The metadata entry `key` read back as a float: all of it a number, finite, and above 0 when positive.
float read_float(const std::filesystem::path& path, const io::Metadata& metadata, const std::string& key,
                 bool positive) {
  const std::string& text = metadata.at(key);
  float value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || (positive && !(value > 0)))
    fail(path, "checkpoint metadata has " + key + " '" + excerpt(text) + "'; it must be a finite number" +
                   (positive ? " > 0" : ""));
  return value;
}

// The input standardisation saved, the identity when there is none (a checkpoint from before it was).
data::Standardization read_standardization(const std::filesystem::path& path, const io::Metadata& metadata) {
  const bool has_mean = metadata.contains(input_mean_key), has_std = metadata.contains(input_std_key);
  if (has_mean != has_std)
    fail(path, "checkpoint metadata has " + (has_mean ? input_mean_key : input_std_key) + " but no " +
                   (has_mean ? input_std_key : input_mean_key));
  if (!has_mean) return {};
  return {read_float(path, metadata, input_mean_key, false), read_float(path, metadata, input_std_key, true)};
}

long read_steps(const std::filesystem::path& path, const io::Safetensors& file) {
  if (file.metadata.contains(steps_key))
    return long(read_count(path, file.metadata, steps_key, std::numeric_limits<long>::max()));
  const float legacy = checked_tensor(path, file, legacy_steps_tensor).item();
  if (legacy < 0 || legacy != std::floor(legacy))
    fail(path, "tensor '" + legacy_steps_tensor + "' holds " + std::to_string(legacy) + "; a step count must be a whole number >= 0");
  return long(legacy);
}
}  // namespace

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch, const std::vector<EpochRecord>& history, const data::Standardization& input) {
  if (epoch < 0) throw value_error("save_checkpoint: epoch " + std::to_string(epoch) + " is negative");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back("model." + name, t);
  for (auto& [name, t] : model.named_buffers()) tensors.emplace_back("buffer." + name, t);
  for (auto& [name, t] : optimizer.state()) tensors.emplace_back("optimizer." + name, t);
  io::Metadata metadata{{epoch_key, std::to_string(epoch)},
                        {steps_key, std::to_string(optimizer.steps())},
                        {"format", "xgrad-checkpoint-2"},
                        {history_key, format_metrics_csv(history)},
                        {model_key, model.describe()},
                        {input_mean_key, float_text(input.mean)},
                        {input_std_key, float_text(input.stddev)}};
  for (const auto& [name, gen] : model.named_generators()) {
    std::ostringstream state;  // the standard's exact text form of the engine's state
    state << *gen;
    metadata[generator_prefix + name] = state.str();
  }
  io::save_safetensors(path, tensors, metadata);
}

int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer,
                    std::vector<EpochRecord>* history, data::Standardization* input) {
  const io::Safetensors file = io::load_safetensors(path);
  // Everything is read and checked before anything is assigned: a checkpoint that fails on its last
  // entry leaves the model and the optimizer as they were.
  const int epoch = int(read_count(path, file.metadata, epoch_key, std::numeric_limits<int>::max() - 1));
  const data::Standardization standardization = read_standardization(path, file.metadata);
  nn::NamedTensors parameters = model.named_parameters(), buffers = model.named_buffers();
  const std::vector<Tensor> parameter_values = read_tensors(path, file, "model.", parameters);
  const std::vector<Tensor> buffer_values = read_tensors(path, file, "buffer.", buffers);
  const nn::NamedGenerators generators = model.named_generators();
  std::vector<Generator> generator_states;
  for (const auto& [name, gen] : generators) {
    const auto saved = file.metadata.find(generator_prefix + name);
    if (saved == file.metadata.end()) fail(path, "checkpoint has no state for the model's generator '" + name + "'");
    std::istringstream text(saved->second);
    Generator state;
    if (!(text >> state) || !(text >> std::ws).eof()) fail(path, "the state of generator '" + name + "' is malformed");
    generator_states.push_back(state);
  }
  // After the tensors and generators, whose errors name the entry (a tensor with both shapes): tensors that fit a model that
  // differs otherwise (a Dropout's p, an activation) are refused by its description.
  if (const auto saved = file.metadata.find(model_key); saved != file.metadata.end() && saved->second != model.describe())
    fail(path, "the checkpoint is of the model\n" + excerpt(saved->second, 2000) + "\nbut the model loading it is\n" +
                   model.describe());
  std::vector<EpochRecord> rows;
  if (const auto saved = file.metadata.find(history_key); history && saved != file.metadata.end()) {
    rows = parse_metrics_csv(saved->second, path.string() + " (its " + history_key + ")");
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i].epoch < 1 || rows[i].epoch > epoch || (i > 0 && rows[i].epoch <= rows[i - 1].epoch))
        fail(path, "the metrics saved with the checkpoint do not fit its epoch " + std::to_string(epoch) +
                       ": row " + std::to_string(i + 1) + " is epoch " + std::to_string(rows[i].epoch));
  }
  if (optimizer) {
    const long steps = read_steps(path, file);
    nn::NamedTensors state;
    const std::string prefix = "optimizer.";
    for (const auto& [name, t] : file.tensors)
      if (name.rfind(prefix, 0) == 0 && name != legacy_steps_tensor)
        state.emplace_back(name.substr(prefix.size()), checked_tensor(path, file, name));
    try {
      optimizer->load_state(state, steps);  // the last check, and all or nothing itself
    } catch (const value_error& e) {
      fail(path, std::string("the optimizer's state does not fit: ") + e.what());
    }
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].second.mutable_value() = parameter_values[i].value();
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].second.mutable_value() = buffer_values[i].value();
  for (std::size_t i = 0; i < generators.size(); ++i) *generators[i].second = generator_states[i];
  if (history) *history = std::move(rows);
  if (input) *input = standardization;
  return epoch;
}

}  // namespace xg::train
