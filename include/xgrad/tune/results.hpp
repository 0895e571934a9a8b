#pragma once
// A search's results: a CSV of every trial (best first), the best configuration as JSON, and the
// scatter plot of validation accuracy against log10(learning rate) and a second hyperparameter.
#include <filesystem>
#include <string>
#include <vector>

#include "xgrad/tune/search.hpp"

namespace xg::tune {

// Columns: id, round, seed, one per hyperparameter, rung, budget, validation_accuracy,
// validation_loss, seconds, error; rows in the order given (search returns them best first).
void write_trials_csv(const std::filesystem::path& path, const std::vector<Trial>& trials);

// {"id", "seed", "round", "budget", "validation_accuracy", "validation_loss", "config": {...}}
void save_trial_json(const std::filesystem::path& path, const Trial& trial);
Config load_config_json(const std::filesystem::path& path);  // the "config" object of such a file

// Two panels from the CSV: validation accuracy against x_name and against y_name, each on the scale
// the space samples it on (log10(lr), log10(1 - beta1), ...), each point a trial that completed a
// rung, coloured by the budget it reached: the course's coarse-to-fine picture. Without gnuplot the
// CSV is left and a message says how to draw it; returns whether it drew.
bool plot_trials(const std::filesystem::path& csv, const std::filesystem::path& png, const SearchSpace& space,
                 const std::string& x_name, const std::string& y_name);

}  // namespace xg::tune
