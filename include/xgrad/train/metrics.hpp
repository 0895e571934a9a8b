#pragma once
// What training records per epoch: the rows of metrics.csv, and its curves as a PNG.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xg::train {

struct EpochRecord {
  int epoch = 0;  // from 1
  double train_loss = 0, train_accuracy = 0;  // accuracies are NaN for a regression
  double validation_loss = 0, validation_accuracy = 0;  // NaN when fit ran without a validation split
  double learning_rate = 0;
  double seconds = 0;
  double examples_per_second = 0;
};

struct History {
  std::vector<EpochRecord> epochs;
  int first_epoch = 1;  // > 1 after a resume
  double seconds = 0;   // training time of this run (evaluations excluded)
};

// metrics.csv: a header, then one row per epoch, each number in the shortest text that reads back
// exactly (nan and inf included). Written atomically (the old file or the new one, never a part);
// an xg::io_error names the file and the system's reason if it cannot be.
void write_metrics_csv(const std::filesystem::path& path, const History& history);
// Empty if there is no file; an xg::data_error names the file and line of a malformed row.
std::vector<EpochRecord> read_metrics_csv(const std::filesystem::path& path);
// The same text in memory (a checkpoint keeps it too); source names it in errors.
std::string format_metrics_csv(const std::vector<EpochRecord>& rows);
std::vector<EpochRecord> parse_metrics_csv(std::string_view text, const std::string& source);

// curves.png from metrics.csv: loss and accuracy, or for a regression (accuracy NaN) the loss on a
// linear and a log scale (gnuplot; without it the CSV is still there and a message says how to get
// the plot). Returns whether the PNG was drawn.
bool plot_curves(const std::filesystem::path& csv, const std::filesystem::path& png);

}  // namespace xg::train
