#include "xgrad/train/checkpoint.hpp"

#include <charconv>
#include <sstream>

#include "xgrad/io/safetensors.hpp"

namespace xg::train {

namespace {
// Checkpoint metadata keys "generator.<module path>.<name>" hold the modules' random streams.
const std::string generator_prefix = "generator.";
}  // namespace

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back("model." + name, t);
  for (auto& [name, t] : model.named_buffers()) tensors.emplace_back("buffer." + name, t);
  for (auto& [name, t] : optimizer.state()) tensors.emplace_back("optimizer." + name, t);
  io::Metadata metadata{{"epoch", std::to_string(epoch)}, {"format", "xgrad-checkpoint-1"}};
  for (const auto& [name, gen] : model.named_generators()) {
    std::ostringstream state;  // the standard's exact text form of the engine's state
    state << *gen;
    metadata[generator_prefix + name] = state.str();
  }
  io::save_safetensors(path, tensors, metadata);
}

int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer) {
  const io::Safetensors file = io::load_safetensors(path);
  auto restore = [&](const std::string& prefix, const nn::NamedTensors& into) {
    for (auto [name, t] : into) {
      const Tensor saved = file.f32(prefix + name);
      if (saved.shape_vector() != t.shape_vector())
        throw data_error(path.string() + ": tensor '" + prefix + name + "' has shape " + shape_string(saved.shape()) +
                         " but the model's is " + shape_string(t.shape()));
      t.value() = saved.value();
    }
  };
  restore("model.", model.named_parameters());
  restore("buffer.", model.named_buffers());
  if (optimizer) {
    std::vector<std::pair<std::string, Tensor>> state;
    const std::string prefix = "optimizer.";
    for (const auto& [name, t] : file.tensors)
      if (name.rfind(prefix, 0) == 0) state.emplace_back(name.substr(prefix.size()), file.f32(name));
    optimizer->load_state(state);
  }
  for (const auto& [name, gen] : model.named_generators()) {
    const auto saved = file.metadata.find(generator_prefix + name);
    if (saved == file.metadata.end())
      throw data_error(path.string() + ": checkpoint has no state for the model's generator '" + name + "'");
    std::istringstream state(saved->second);
    if (!(state >> *gen))
      throw data_error(path.string() + ": the state of generator '" + name + "' is malformed");
  }
  const auto it = file.metadata.find("epoch");
  if (it == file.metadata.end()) throw data_error(path.string() + ": checkpoint metadata has no epoch");
  int epoch = 0;
  const std::string& text = it->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), epoch);
  if (error != std::errc() || end != text.data() + text.size() || epoch < 0)
    throw data_error(path.string() + ": checkpoint metadata has a malformed epoch '" + text + "'");
  return epoch;
}

}  // namespace xg::train
