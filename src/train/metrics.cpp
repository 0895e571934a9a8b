#include "xgrad/train/metrics.hpp"

#include <fstream>
#include <sstream>

#include "xgrad/errors.hpp"
#include "xgrad/plot/gnuplot.hpp"

namespace xg::train {

void write_metrics_csv(const std::filesystem::path& path, const History& history) {
  std::ofstream out(path);
  if (!out) throw io_error(path.string() + ": cannot write the metrics CSV");
  out << "epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,learning_rate,seconds,examples_per_second\n";
  for (const auto& r : history.epochs)
    out << r.epoch << ',' << r.train_loss << ',' << r.train_accuracy << ',' << r.validation_loss << ','
        << r.validation_accuracy << ',' << r.learning_rate << ',' << r.seconds << ',' << r.examples_per_second << '\n';
}

std::vector<EpochRecord> read_metrics_csv(const std::filesystem::path& path) {
  std::vector<EpochRecord> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    EpochRecord r;
    char comma;
    std::istringstream fields(line);
    if (fields >> r.epoch >> comma >> r.train_loss >> comma >> r.train_accuracy >> comma >> r.validation_loss >>
        comma >> r.validation_accuracy >> comma >> r.learning_rate >> comma >> r.seconds >> comma >>
        r.examples_per_second)
      rows.push_back(r);
  }
  return rows;
}

bool plot_curves(const std::filesystem::path& csv, const std::filesystem::path& png) {
  return plot::draw_with_gnuplot(csv, png, "curves", [&](std::ostream& gp) {
    gp << "set key top right; set grid; set xlabel 'epoch'\n"
          "set title 'loss'\n"
          "plot '" << csv.string() << "' using 1:2 with linespoints title 'train', '' using 1:4 with linespoints title 'validation'\n"
          "set key bottom right; set title 'accuracy'\n"
          "plot '" << csv.string() << "' using 1:3 with linespoints title 'train', '' using 1:5 with linespoints title 'validation'\n";
  });
}

}  // namespace xg::train
