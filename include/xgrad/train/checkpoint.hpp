#pragma once
// Training checkpoints (safetensors): a model's parameters, buffers and random streams, the
// optimizer's state, and the epoch.
#include <filesystem>

#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optim.hpp"

namespace xg::train {

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch);
// Loads into an existing model (and optimizer, when given); returns the epoch saved.
int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer = nullptr);

}  // namespace xg::train
