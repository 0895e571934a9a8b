#pragma once
// Training checkpoints (safetensors): a model's parameters, buffers and random streams, the
// optimizer's state and step count, the epoch, and the metrics of the epochs so far.
#include <filesystem>
#include <vector>

#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/train/metrics.hpp"

namespace xg::train {

// history: the metrics rows of the epochs done, kept with the weights so that metrics.csv can always
// be rebuilt to match the checkpoint (fit's one record of "epochs done").
void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch, const std::vector<EpochRecord>& history = {});
// Loads into an existing model (and optimizer, when given) and returns the epoch saved; with
// history given, fills it with the rows saved. Everything is read and validated before anything is
// assigned, so on any xg::data_error the model and optimizer are as they were.
int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer = nullptr,
                    std::vector<EpochRecord>* history = nullptr);

}  // namespace xg::train
