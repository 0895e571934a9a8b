#include "xgrad/train/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "xgrad/errors.hpp"
#include "xgrad/io/files.hpp"
#include "xgrad/plot/gnuplot.hpp"

namespace xg::train {

namespace {
const char* const csv_header =
    "epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,learning_rate,seconds,examples_per_second\n";

// The shortest text that reads back to the same double ("nan", "inf" and "-inf" included).
void append_number(std::string& out, double value) {
  char text[32];
  const auto [end, error] = std::to_chars(text, text + sizeof text, value);
  out.append(text, end);
}

template <class Number>
bool read_field(std::string_view& line, Number& value, bool last) {
  const std::size_t comma = line.find(',');
  if (last != (comma == std::string_view::npos)) return false;
  const std::string_view field = line.substr(0, comma);
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  line.remove_prefix(last ? line.size() : comma + 1);
  return error == std::errc() && end == field.data() + field.size();
}
}  // namespace

std::string format_metrics_csv(const std::vector<EpochRecord>& rows) {
  std::string out = csv_header;
  for (const EpochRecord& r : rows) {
    out += std::to_string(r.epoch);
    for (double v : {r.train_loss, r.train_accuracy, r.validation_loss, r.validation_accuracy, r.learning_rate,
                     r.seconds, r.examples_per_second}) {
      out += ',';
      append_number(out, v);
    }
    out += '\n';
  }
  return out;
}

std::vector<EpochRecord> parse_metrics_csv(std::string_view text, const std::string& source) {
  std::vector<EpochRecord> rows;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (++line_number == 1) {
      if (std::string(line) + '\n' != csv_header)
        throw data_error(source + ": line 1 is not the metrics CSV header '" + excerpt(line) + "'");
      continue;
    }
    if (line.empty()) continue;
    const std::string_view whole = line;
    EpochRecord r;
    if (!(read_field(line, r.epoch, false) && read_field(line, r.train_loss, false) &&
          read_field(line, r.train_accuracy, false) && read_field(line, r.validation_loss, false) &&
          read_field(line, r.validation_accuracy, false) && read_field(line, r.learning_rate, false) &&
          read_field(line, r.seconds, false) && read_field(line, r.examples_per_second, true)))
      throw data_error(source + ": line " + std::to_string(line_number) + " is not a row of 8 numbers: '" +
                       excerpt(whole) + "'");
    rows.push_back(r);
  }
  return rows;
}

void write_metrics_csv(const std::filesystem::path& path, const History& history) {
  io::write_file_atomically(path, format_metrics_csv(history.epochs));
}

std::vector<EpochRecord> read_metrics_csv(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error) && !error) return {};
  return parse_metrics_csv(io::read_file(path), path.string());
}

bool plot_curves(const std::filesystem::path& csv, const std::filesystem::path& png) {
  const std::vector<EpochRecord> rows = read_metrics_csv(csv);
  // A regression records no accuracy (NaN): its second panel is the loss on a log scale instead. A
  // run without a validation split records no validation figures (NaN): only the training curves.
  const bool has_accuracy =
      std::any_of(rows.begin(), rows.end(), [](const EpochRecord& r) { return !std::isnan(r.train_accuracy); });
  const bool has_validation =
      std::any_of(rows.begin(), rows.end(), [](const EpochRecord& r) { return !std::isnan(r.validation_loss); });
  return plot::draw_with_gnuplot(csv, png, "curves", [&](std::ostream& gp) {
    const std::string data = "'" + csv.string() + "'";
    // Columns: 1 epoch, 2 train loss, 3 train accuracy, 4 validation loss, 5 validation accuracy.
    const auto curves = [&](int train_column) {
      return "plot " + data + " using 1:" + std::to_string(train_column) + " with linespoints title 'train'" +
             (has_validation ? ", '' using 1:" + std::to_string(train_column + 2) + " with linespoints title 'validation'"
                             : std::string()) +
             "\n";
    };
    gp << "set key top right; set grid; set xlabel 'epoch'\n"
          "set title 'loss'\n"
       << curves(2);
    if (has_accuracy)
      gp << "set key bottom right; set title 'accuracy'\n" << curves(3);
    else
      gp << "set logscale y; set title 'loss (log scale)'\n" << curves(2);
  });
}

}  // namespace xg::train
