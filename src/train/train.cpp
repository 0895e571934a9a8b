#include "xgrad/train/train.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "xgrad/io/safetensors.hpp"
#include "xgrad/ops.hpp"

namespace xg::train {

namespace {
// Checkpoint metadata keys "generator.<module path>.<name>" hold the modules' random streams.
const std::string generator_prefix = "generator.";

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// "epoch 3/15 [########------------] 210/430  loss 0.3412  41,200 ex/s  ETA 4s", redrawn in place.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && isatty(STDOUT_FILENO)) {}
  bool live() const { return enabled_; }

  void update(int epoch, int epochs, std::size_t step, std::size_t steps, double loss, double examples_per_s) {
    if (!enabled_ || (step != steps && seconds_since(last_) < 0.1)) return;
    last_ = clock_type::now();
    const int width = 24, filled = int(width * step / std::max<std::size_t>(steps, 1));
    const double eta = examples_per_s > 0 ? double(steps - step) * batch_examples_ / examples_per_s : 0;
    std::printf("\repoch %d/%d [%s%s] %zu/%zu  loss %.4f  %.0f ex/s  ETA %.0fs ", epoch, epochs,
                std::string(filled, '#').c_str(), std::string(width - filled, '-').c_str(), step, steps, loss,
                examples_per_s, eta);
    std::fflush(stdout);
  }
  void set_batch_examples(double n) { batch_examples_ = n; }
  void finish_line() {
    if (enabled_) std::printf("\r\033[K");
  }

 private:
  bool enabled_;
  double batch_examples_ = 1;
  clock_type::time_point last_ = clock_type::now();
};

void print_epoch(const EpochRecord& r, int epochs) {
  std::printf("epoch %2d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%%  lr %.2g  %.1fs  %.0f ex/s\n",
              r.epoch, epochs, r.train_loss, 100 * r.train_accuracy, r.validation_loss, 100 * r.validation_accuracy,
              r.learning_rate, r.seconds, r.examples_per_second);
  std::fflush(stdout);
}

void warn_if_initial_loss_is_off(double loss, std::size_t classes) {
  const double expected = std::log(double(classes));
  if (std::abs(loss - expected) > 0.5 * expected)
    std::cerr << "warning: the first loss is " << loss << ", but a freshly initialised model over " << classes
              << " classes should give about log(" << classes << ") = " << expected
              << ": the initial weights may be too large (or the loss or the labels wrong)\n";
}

void report_gap(const EpochRecord& last) {
  const double gap = 100 * (last.train_accuracy - last.validation_accuracy);
  std::printf("train/validation gap: %.2f points (train %.2f%%, validation %.2f%%)%s\n", gap,
              100 * last.train_accuracy, 100 * last.validation_accuracy,
              gap > 5 ? ": high variance; regularisation (weight decay, dropout) or more data may help" : "");
}
}  // namespace

StepResult train_step(nn::Module& model, optim::Optimizer& optimizer, Tape& tape, const Tensor& x,
                      std::span<const int> y, std::size_t step) {
  StepResult result;
  {
    Tensor logits = model(x);
    Tensor loss = cross_entropy(logits, y);
    result.loss = loss.item();
    if (!std::isfinite(result.loss)) {
      const auto where = tape.first_non_finite();
      std::ostringstream msg;
      msg << "step " << step << ": the loss is " << result.loss;
      if (where) msg << "; the first non-finite value came from op '" << where->op << "' (record " << where->index << ")";
      msg << ". A NaN or Inf loss usually means the learning rate is too high (it is " << optimizer.learning_rate()
          << "): try a smaller one";
      tape.clear();
      throw numeric_error(msg.str());
    }
    result.correct = std::size_t(std::lround(accuracy(logits, y) * double(y.size())));
    tape.backward(loss);
  }
  optimizer.step();
  optimizer.zero_grad();
  tape.clear();
  return result;
}

Evaluation evaluate(nn::Module& model, const data::Split& split, std::size_t batch_size) {
  const bool was_training = model.training();
  model.eval();
  NoGrad no_grad;
  double loss_sum = 0;
  std::size_t correct = 0;
  for (auto [x, y] : split.batches(batch_size)) {
    Tensor logits = model(x);
    loss_sum += cross_entropy(logits, y).item() * double(y.size());
    correct += std::size_t(accuracy(logits, y) * double(y.size()) + 0.5);
  }
  model.train(was_training);
  const double n = double(std::max<std::size_t>(split.size(), 1));
  return {loss_sum / n, double(correct) / n};
}

History fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& data, const FitOptions& options) {
  if (options.batch_size == 0) throw value_error("fit: batch_size is 0; it must be at least 1");
  if (data.train.size() == 0) throw value_error("fit: the training split is empty (0 examples)");
  std::filesystem::create_directories(options.out_dir);
  const auto checkpoint = options.out_dir / "checkpoint.safetensors";
  const auto csv = options.out_dir / "metrics.csv";
  History history;
  History logged;  // what metrics.csv holds: after a resume, the earlier run's rows too
  if (options.resume && std::filesystem::exists(checkpoint)) {
    history.first_epoch = load_checkpoint(checkpoint, model, &optimizer) + 1;
    for (const EpochRecord& r : read_metrics_csv(csv))
      if (r.epoch < history.first_epoch) logged.epochs.push_back(r);
    if (!options.quiet) std::printf("resumed from %s after epoch %d\n", checkpoint.c_str(), history.first_epoch - 1);
  }
  write_metrics_csv(csv, logged);
  ProgressBar bar(!options.quiet);
  bar.set_batch_examples(double(options.batch_size));
  Tape tape;
  const std::size_t steps_per_epoch = (data.train.size() + options.batch_size - 1) / options.batch_size;
  std::size_t step = std::size_t(history.first_epoch - 1) * steps_per_epoch;
  for (int epoch = history.first_epoch; epoch <= options.epochs; ++epoch) {
    model.train();
    optimizer.set_epoch(epoch - 1);
    const auto t0 = clock_type::now();
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0, batch_index = 0;
    // A stream per epoch, so that a resumed run draws what the uninterrupted one would have.
    Generator augmentation_gen(options.seed * 1000003 + std::uint64_t(epoch) + 0x5eed);
    const float background = -data.standardization.mean / data.standardization.stddev;
    for (auto [x, y] : data.train.batches(options.batch_size, data::Shuffle{options.seed * 1000003 + std::uint64_t(epoch)})) {
      if (options.augmentation.enabled()) data::augment(x, options.augmentation, background, augmentation_gen);
      const StepResult r = train_step(model, optimizer, tape, x, y, ++step);
      if (options.check_initial_loss && step == 1) warn_if_initial_loss_is_off(r.loss, data.classes);
      loss_sum += r.loss * double(y.size());
      correct += r.correct;
      seen += y.size();
      bar.update(epoch, options.epochs, ++batch_index, steps_per_epoch, loss_sum / double(seen),
                 double(seen) / seconds_since(t0));
    }
    EpochRecord record;
    record.epoch = epoch;
    record.seconds = seconds_since(t0);
    record.examples_per_second = double(seen) / record.seconds;
    record.train_loss = loss_sum / double(seen);
    record.train_accuracy = double(correct) / double(seen);
    record.learning_rate = optimizer.learning_rate();
    const Evaluation validation = evaluate(model, data.validation);
    record.validation_loss = validation.loss;
    record.validation_accuracy = validation.accuracy;
    history.seconds += record.seconds;
    history.epochs.push_back(record);
    logged.epochs.push_back(record);
    bar.finish_line();
    if (!options.quiet) print_epoch(record, options.epochs);
    if (options.checkpoints) save_checkpoint(checkpoint, model, optimizer, epoch);
    write_metrics_csv(csv, logged);
    if (options.on_epoch_end) options.on_epoch_end(record);
  }
  if (!options.quiet && !history.epochs.empty()) report_gap(history.epochs.back());
  return history;
}

int overfit_small(nn::Module& model, optim::Optimizer& optimizer, const data::Split& split, std::size_t n,
                  int max_epochs) {
  const data::Split small = split.head(n);
  Tape tape;
  std::size_t step = 0;
  for (int epoch = 1; epoch <= max_epochs; ++epoch) {
    model.train();
    for (auto [x, y] : small.batches(n)) train_step(model, optimizer, tape, x, y, ++step);
    if (evaluate(model, small).accuracy == 1.0) return epoch;
  }
  throw value_error("overfit_small: " + std::to_string(n) + " examples not all classified right after " +
                    std::to_string(max_epochs) +
                    " epochs; a model that cannot overfit a tiny set usually has a bug (or a learning rate far off)");
}

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     int epoch) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back("model." + name, t);
  for (auto& [name, t] : model.named_buffers()) tensors.emplace_back("buffer." + name, t);
  for (auto& [name, t] : optimizer.state()) tensors.emplace_back("optimizer." + name, t);
  io::Metadata metadata{{"epoch", std::to_string(epoch)}, {"format", "xgrad-checkpoint-1"}};
  for (const auto& [name, gen] : model.named_generators()) {
    std::ostringstream state;  // the standard's exact text form of the engine's state
    state << *gen;
    metadata[generator_prefix + name] = state.str();
  }
  io::save_safetensors(path, tensors, metadata);
}

int load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer* optimizer) {
  const io::Safetensors file = io::load_safetensors(path);
  auto restore = [&](const std::string& prefix, const nn::NamedTensors& into) {
    for (auto [name, t] : into) {
      const Tensor saved = file.f32(prefix + name);
      if (saved.shape_vector() != t.shape_vector())
        throw data_error(path.string() + ": tensor '" + prefix + name + "' has shape " + shape_string(saved.shape()) +
                         " but the model's is " + shape_string(t.shape()));
      t.value() = saved.value();
    }
  };
  restore("model.", model.named_parameters());
  restore("buffer.", model.named_buffers());
  if (optimizer) {
    std::vector<std::pair<std::string, Tensor>> state;
    const std::string prefix = "optimizer.";
    for (const auto& [name, t] : file.tensors)
      if (name.rfind(prefix, 0) == 0) state.emplace_back(name.substr(prefix.size()), file.f32(name));
    optimizer->load_state(state);
  }
  for (const auto& [name, gen] : model.named_generators()) {
    const auto saved = file.metadata.find(generator_prefix + name);
    if (saved == file.metadata.end())
      throw data_error(path.string() + ": checkpoint has no state for the model's generator '" + name + "'");
    std::istringstream state(saved->second);
    if (!(state >> *gen))
      throw data_error(path.string() + ": the state of generator '" + name + "' is malformed");
  }
  const auto it = file.metadata.find("epoch");
  if (it == file.metadata.end()) throw data_error(path.string() + ": checkpoint metadata has no epoch");
  int epoch = 0;
  const std::string& text = it->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), epoch);
  if (error != std::errc() || end != text.data() + text.size() || epoch < 0)
    throw data_error(path.string() + ": checkpoint metadata has a malformed epoch '" + text + "'");
  return epoch;
}

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

bool plot_curves(const std::filesystem::path& csv, const std::filesystem::path& png) {
  return draw_with_gnuplot(csv, png, "curves", [&](std::ostream& gp) {
    gp << "set key top right; set grid; set xlabel 'epoch'\n"
          "set title 'loss'\n"
          "plot '" << csv.string() << "' using 1:2 with linespoints title 'train', '' using 1:4 with linespoints title 'validation'\n"
          "set key bottom right; set title 'accuracy'\n"
          "plot '" << csv.string() << "' using 1:3 with linespoints title 'train', '' using 1:5 with linespoints title 'validation'\n";
  });
}

}  // namespace xg::train
