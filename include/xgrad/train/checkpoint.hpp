#pragma once
// Training checkpoints (safetensors): a model's parameters, buffers and random streams, the
// optimizer's state and step count, the epoch, the metrics of the epochs so far, and what makes the
// file usable without the C++ code: the model's describe() and the input standardisation
// (scripts/load_checkpoint.py loads one into PyTorch).
#include <filesystem>
#include <vector>

#include "xgrad/data/dataset.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/train/metrics.hpp"

namespace xg::train {

// history: the metrics rows of the epochs done, kept with the weights so that metrics.csv can always
// be rebuilt to match the checkpoint (fit's one record of "epochs done"). input: the standardisation
// the model's inputs had in training (metadata "input.mean", "input.std"; the model's describe() is
// saved as "model").
void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch, const std::vector<EpochRecord>& history = {},
                     const data::Standardization& input = {});
// Loads into an existing model (and optimizer, when given) and returns the epoch saved; with
// history given, fills it with the rows saved, with input given, with the standardisation saved
// (the identity for a checkpoint from before it was saved). Everything is read and validated before
// anything is assigned, so on any xg::data_error the model and optimizer are as they were; a saved
// description other than the model's describe() is one (the checkpoint is of another model).
int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer = nullptr,
                    std::vector<EpochRecord>* history = nullptr, data::Standardization* input = nullptr);

}  // namespace xg::train
