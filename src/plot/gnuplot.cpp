#include "xgrad/plot/gnuplot.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "xgrad/errors.hpp"

namespace xg::plot {

bool draw_with_gnuplot(const std::filesystem::path& csv, const std::filesystem::path& png, const std::string& what,
                       const std::function<void(std::ostream&)>& plot_commands) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::printf("gnuplot not found: %s has the %s; apt-get install gnuplot-nox draws them to %s\n", csv.c_str(),
                what.c_str(), png.c_str());
    return false;
  }
  std::filesystem::path script = png;
  script.replace_extension(".gp");
  {
    std::ofstream gp(script);
    if (!gp) throw io_error(script.string() + ": cannot write the gnuplot script");
    gp << "set datafile separator ','\n"
          "set terminal pngcairo size 1200,480 font ',10'\n"
          "set output '" << png.string() << "'\n"
          "set multiplot layout 1,2\n";
    plot_commands(gp);
    gp << "unset multiplot\n";
  }
  const std::string command = "gnuplot '" + script.string() + "' 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::printf("gnuplot failed to draw %s (script %s)\n", png.c_str(), script.c_str());
    return false;
  }
  return true;
}

}  // namespace xg::plot
