#pragma once
// Drawing PNG plots from CSV files with gnuplot, when it is installed: the training curves and the
// tuner's trial scatter both go through draw_with_gnuplot.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace xg::plot {

// Writes png's gnuplot script (png with .gp: a 1x2 multiplot whose plots plot_commands writes) and
// runs it. Without gnuplot it says where the CSV with the `what` is and how to get the plot.
// Returns whether the PNG was drawn.
bool draw_with_gnuplot(const std::filesystem::path& csv, const std::filesystem::path& png, const std::string& what,
                       const std::function<void(std::ostream&)>& plot_commands);

}  // namespace xg::plot
