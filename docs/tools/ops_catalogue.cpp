// Writes docs/ops.md, the catalogue of ops and layers, from what defines them: the op registry (every
// op the gradient check sweeps) and the layer classes in include/xgrad/nn/. Generated, so it cannot
// drift: the docs suite fails when the committed page differs from this program's output.
//   ops_catalogue NN_HEADER_DIR            prints the page
//   ops_catalogue NN_HEADER_DIR --check PAGE    exits 1 when PAGE differs
//   ops_catalogue NN_HEADER_DIR --write PAGE    rewrites PAGE
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <xgrad/registry.hpp>

namespace {

std::string domain_name(xg::Domain d) {
  switch (d) {
    case xg::Domain::real: return "real, [-2, 2]";
    case xg::Domain::positive: return "positive, [0.5, 2]";
    case xg::Domain::away_from_zero: return "away from zero, ±[0.2, 2]";
    case xg::Domain::ties: return "ties, integers -2..2";
  }
  return "?";
}

std::string shape_text(const xg::shape_type& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

void write_ops(std::ostream& out) {
  out << "## Ops\n\n"
         "Every row of `ops/registry.cpp`, the table the gradient check sweeps (`meson test --suite\n"
         "gradcheck`): the op, how many differentiable inputs it takes, the domain its sample inputs are\n"
         "drawn from and the input shapes of its sample cases. Rows marked *(composed)* check the\n"
         "composed form of a fused node; `optim.*` rows check the optimizer rules.\n\n"
         "| op | inputs | domain | sample cases |\n| --- | --- | --- | --- |\n";
  for (const xg::OpEntry& entry : xg::op_registry()) {
    std::string cases;
    for (const xg::OpCase& c : entry.cases) {
      std::string shapes;
      for (const auto& s : c.shapes) shapes += (shapes.empty() ? "" : " ") + shape_text(s);
      cases += (cases.empty() ? "" : "; ") + c.label + (c.label.find('(') == std::string::npos ? " " + shapes : "");
    }
    const std::size_t inputs = entry.cases.empty() ? 0 : entry.cases.front().shapes.size();
    out << "| `" << entry.name << "` | " << inputs << " | " << domain_name(entry.domain) << " | " << cases << " |\n";
  }
}

struct Layer {
  std::string name, base, header, comment;
  std::vector<std::string> constructors;  // as declared, e.g. "LeakyReLU(float slope = 0.01f)"
};

// Classes deriving (directly or through another layer) from nn::Module, with the comment above them.
std::vector<Layer> find_layers(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> headers;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".hpp") headers.push_back(e.path());
  std::sort(headers.begin(), headers.end());
  const std::regex declaration(R"(^class (\w+)(?: final)? : public (\w+) \{)");
  std::vector<Layer> found;
  for (const auto& header : headers) {
    std::ifstream in(header);
    std::string line, comment;
    bool in_class = false;
    while (std::getline(in, line)) {
      std::smatch m;
      if (std::regex_search(line, m, declaration)) {
        found.push_back({m[1], m[2], header.filename().string(), comment, {}});
        in_class = true;
      } else if (line == "};") {
        in_class = false;
      } else if (in_class) {
        const std::regex constructor(R"(^\s+(?:explicit )?()" + found.back().name + R"(\([^)]*\)))");
        if (std::regex_search(line, m, constructor)) found.back().constructors.push_back(m[1]);
      }
      if (line.rfind("// ", 0) == 0) comment += (comment.empty() ? "" : " ") + line.substr(3);
      else comment.clear();
    }
  }
  std::set<std::string> modules = {"Module"}, bases;
  for (bool grew = true; grew;) {  // a layer may derive from another layer
    grew = false;
    for (const Layer& l : found)
      if (modules.count(l.base) && modules.insert(l.name).second) grew = true;
  }
  for (const Layer& l : found) bases.insert(l.base);
  std::vector<Layer> layers;
  for (const Layer& l : found)
    if (modules.count(l.name) && !bases.count(l.name)) layers.push_back(l);  // a base is no layer
  return layers;
}

void write_layers(std::ostream& out, const std::filesystem::path& dir) {
  out << "\n## Layers\n\n"
         "Every class in `include/xgrad/nn/` that derives from `nn::Module` (base classes aside), its\n"
         "constructors and the comment its header gives it.\n\n"
         "| layer | constructors | what | header |\n| --- | --- | --- | --- |\n";
  for (const Layer& l : find_layers(dir)) {
    std::string constructors;
    for (const std::string& c : l.constructors) constructors += (constructors.empty() ? "`" : "<br>`") + c + "`";
    if (constructors.empty()) constructors = "`" + l.name + "()`";
    const std::string what = !l.comment.empty() ? l.comment : l.base == "Module" ? "" : "an `nn::" + l.base + "`";
    out << "| `nn::" << l.name << "` | " << constructors << " | " << what << " | `xgrad/nn/" << l.header << "` |\n";
  }
}

std::string page(const std::filesystem::path& nn_dir) {
  std::ostringstream out;
  out << "# Catalogue of ops and layers\n\n"
         "<!-- Generated by docs/tools/ops_catalogue.cpp: `meson compile -C build ops-catalogue`\n"
         "rewrites it, and the docs suite fails when it is out of date. Do not edit by hand. -->\n\n"
         "The ops are free functions in `xgrad/ops.hpp` (and `xgrad/optim/rules.hpp` for the optimizer\n"
         "rules); `docs/nodes.md` has the maths of the fused nodes and `docs/adding-an-op.md` how to add\n"
         "a row.\n\n";
  write_ops(out);
  write_layers(out, nn_dir);
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() != 1 && !(args.size() == 3 && (args[1] == "--check" || args[1] == "--write"))) {
    std::cerr << "usage: ops_catalogue NN_HEADER_DIR [--check|--write PAGE]\n";
    return 2;
  }
  const std::string generated = page(args[0]);
  if (args.size() == 1) {
    std::cout << generated;
    return 0;
  }
  if (args[1] == "--write") {
    std::ofstream(args[2]) << generated;
    return 0;
  }
  std::ifstream in(args[2]);
  std::stringstream committed;
  committed << in.rdbuf();
  if (committed.str() == generated) return 0;
  std::cerr << args[2] << " is out of date with ops/registry.cpp or include/xgrad/nn/: "
            << "`meson compile -C build ops-catalogue` rewrites it.\n";
  return 1;
}
