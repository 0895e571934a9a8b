#include "xgrad/tune/results.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "xgrad/errors.hpp"
#include "xgrad/io/files.hpp"
#include "xgrad/plot/gnuplot.hpp"

namespace xg::tune {

namespace {
// Written atomically, into a folder made if missing; failures are io_errors with the system's reason.
void write_result(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) io::create_folder(path.parent_path());
  io::write_file_atomically(path, text);
}

// A CSV field: quoted, with quotes doubled, when it holds a comma, quote or newline.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// A gnuplot column expression for the hyperparameter on its sampling scale, and the axis label.
std::pair<std::string, std::string> on_its_scale(const SearchSpace& space, const std::string& name) {
  const std::string column = "column('" + name + "')";
  switch (space[name].kind) {
    case Distribution::Kind::log_uniform: return {"log10(" + column + ")", "log10(" + name + ")"};
    case Distribution::Kind::one_minus_log_uniform: return {"log10(1 - " + column + ")", "log10(1 - " + name + ")"};
    default: return {column, name};
  }
}
}  // namespace

void write_trials_csv(const std::filesystem::path& path, const std::vector<Trial>& trials) {
  std::ostringstream out;
  out << std::setprecision(8);
  std::vector<std::string> names;
  if (!trials.empty())
    for (const auto& [name, value] : trials.front().config.values()) names.push_back(name);
  out << "id,round,seed";
  for (const auto& name : names) out << ',' << name;
  out << ",rung,budget,validation_accuracy,validation_loss,seconds,error\n";
  for (const Trial& t : trials) {
    out << t.id << ',' << t.round << ',' << t.seed;
    for (const auto& name : names) out << ',' << t.config[name];
    out << ',' << t.rung << ',' << t.budget << ',' << t.score.accuracy << ',' << t.score.loss << ',' << t.seconds
        << ',' << csv_field(t.error) << '\n';
  }
  write_result(path, out.str());
}

void save_trial_json(const std::filesystem::path& path, const Trial& trial) {
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [name, value] : trial.config.values()) config[name] = value;
  const nlohmann::json j = {{"id", trial.id},
                            {"seed", trial.seed},
                            {"round", trial.round},
                            {"budget", trial.budget},
                            {"validation_accuracy", trial.score.accuracy},
                            {"validation_loss", trial.score.loss},
                            {"config", config}};
  write_result(path, j.dump(2) + '\n');
}

Config load_config_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw io_error(path.string() + ": cannot read the configuration JSON");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    return Config(j.at("config").get<std::map<std::string, double>>());
  } catch (const nlohmann::json::exception& e) {
    throw data_error(path.string() + ": not a saved trial (" + e.what() + ")");
  }
}

bool plot_trials(const std::filesystem::path& csv, const std::filesystem::path& png, const SearchSpace& space,
                 const std::string& x_name, const std::string& y_name) {
  return plot::draw_with_gnuplot(csv, png, "trials", [&](std::ostream& gp) {
    gp << "set grid; set ylabel 'validation accuracy'; set cblabel 'budget'; set palette rgb 33,13,10\n";
    // Columns are found by name, so the plot follows whatever hyperparameters the CSV holds; trials
    // that failed before their first rung (rung -1) are left out.
    for (const std::string& name : {x_name, y_name}) {
      const auto [expression, label] = on_its_scale(space, name);
      gp << "set title 'accuracy against " << label << "'; set xlabel '" << label << "'\n"
            "plot '" << csv.string() << "' using (" << expression << "):(column('rung') >= 0 ? "
            "column('validation_accuracy') : NaN):'budget' with points pt 7 ps 1 palette notitle\n";
    }
  });
}

}  // namespace xg::tune
