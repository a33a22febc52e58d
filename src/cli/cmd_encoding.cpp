#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "commands.h"
#include "output_options.h"
#include "pevis/encoding.h"
#include "pevis/error.h"
#include "pevis/memory.h"
#include "pevis/model.h"

namespace pevis::cli {
namespace {

struct EncodingOptions {
  std::string model;
  std::string tensor;
  bool list = false;
  std::optional<double> fail_tolerance;
  std::optional<std::int64_t> d_model;
  std::int64_t max_len = 5000;
  double base = 10000.0;
  std::vector<std::int64_t> dims;
  std::string positions;
  std::int64_t window = 256;
  std::string similarity = "dot";
  OutputOptions output;
};

// Parses "A:B" (either side may be empty) into a half-open range within [0, limit).
std::pair<std::int64_t, std::int64_t> parse_range(const std::string& text, std::int64_t limit) {
  const auto colon = text.find(':');
  const auto number = [&](const std::string& part, std::int64_t fallback) -> std::int64_t {
    if (part.empty()) return fallback;
    const auto value = whole_number(part);
    if (!value) {
      throw Error(ExitCode::kUsage, "--positions " + text, "expected START:END with whole numbers", "for example --positions 0:100");
    }
    return *value;
  };
  if (colon == std::string::npos) {
    throw Error(ExitCode::kUsage, "--positions " + text, "expected START:END", "for example --positions 0:100");
  }
  const std::int64_t start = number(text.substr(0, colon), 0), end = number(text.substr(colon + 1), limit);
  if (start < 0 || end > limit || start >= end) {
    throw bad_input("--positions " + text,
                    "the range must lie within 0:" + std::to_string(limit) + " and hold at least one position",
                    "positions count from 0 up to --max-len");
  }
  return {start, end};
}

plot::Figure heatmap_figure(LabeledMatrix matrix, std::string title, std::string x_title, std::string y_title,
                            double row_first, std::string value_title) {
  plot::Heatmap heat;
  heat.matrix = std::move(matrix);
  heat.row_first = row_first;
  heat.value_title = std::move(value_title);
  plot::Figure figure;
  figure.name = heat.matrix.name;
  figure.title = std::move(title);
  figure.panels.push_back({"", std::move(x_title), std::move(y_title), std::move(heat)});
  return figure;
}

void run_encoding(const EncodingOptions& options) {
  const Similarity similarity = options.similarity == "cosine" ? Similarity::kCosine : Similarity::kDot;
  if (options.window < 0) {
    throw bad_input("--window " + std::to_string(options.window), "must be 0 (the whole range) or a positive count");
  }
  if (options.model.empty() != options.d_model.has_value()) {
    throw Error(ExitCode::kUsage, "encoding", "give either --d-model D (a computed table) or a MODEL (the table it holds)",
                "for example: pevis encoding --d-model 512");
  }
  std::ostream& messages = human(options.output);
  const bool data = options.output.data != "none", figures = options.output.format != "none";  // copies to plan for
  nlohmann::json summary = {{"command", "encoding"}};
  at::Tensor full;            // [positions, dims]
  std::string about;          // what the table is, for titles
  bool sinusoid = true;       // computed here: values known to lie in [-1, 1]
  SinusoidalSpec spec{options.d_model.value_or(0), options.max_len, options.base};
  std::optional<SinusoidCheck> check;
  std::ostringstream base_text;
  base_text << options.base;

  if (!options.model.empty()) {
    const Model model = load_model(options.model);
    const auto candidates = find_positional_tables(model);
    if (options.list) {
      messages << (candidates.empty() ? "no tensor named like a positional table\n" : "");
      for (const auto& c : candidates) {
        std::string shape;
        for (std::size_t i = 0; i < c.shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(c.shape[i]);
        messages << c.name << "  " << shape << "  " << c.kind << "\n";
      }
      return;
    }
    std::string name = options.tensor;
    if (name.empty()) {
      if (candidates.empty()) {
        throw bad_input(options.model, "no tensor is named like a positional table (pe, pos_embedding, position_embeddings, ...)",
                        "name one with --tensor NAME; pevis bias -v lists a model's tensors");
      }
      name = candidates.front().name;
      if (candidates.size() > 1) messages << "using " << name << " (of " << candidates.size() << " candidates: see --list)\n";
    }
    full = positional_table(model, name, {options.window, data, figures});
    spec = {full.size(1), full.size(0), options.base};
    sinusoid = false;
    about = name + " of " + options.model + " (" + std::to_string(full.size(0)) + " positions x " +
            std::to_string(full.size(1)) + " dims)";
    check = compare_with_sinusoid(full, options.base);
    summary["model"] = options.model;
    summary["tensor"] = name;
    if (check->comparable) {
      char line[256];
      std::snprintf(line, sizeof line, "%s: largest deviation from the sinusoid of the same size (base %s): %.3g (mean %.3g)",
                    name.c_str(), base_text.str().c_str(), check->deviation, check->mean_deviation);
      messages << line;
      if (check->deviation <= 1e-6) messages << ": sinusoidal";
      // Another layout is worth naming only when the table is that sinusoid.
      if (check->closest != "interleaved" && check->closest_deviation <= 1e-3) {
        std::snprintf(line, sizeof line, "; it is the sinusoid in the %s layout (to %.3g)", check->closest.c_str(),
                      check->closest_deviation);
        messages << line;
      }
      messages << "\n";
      summary["sinusoid_deviation"] = check->deviation;
      summary["sinusoid_mean_deviation"] = check->mean_deviation;
      summary["closest_layout"] = check->closest;
    } else {
      messages << name << ": odd width " << full.size(1) << ", so no sinusoid to compare with\n";
    }
  } else {
    // Sizes are checked before anything large exists.
    check_sinusoidal_spec(spec, memory_budget());
    about = "Sinusoidal positional encoding (d_model " + std::to_string(spec.d_model) + ", base " + base_text.str() + ")";
  }
  const auto [first, end] = options.positions.empty() ? std::pair<std::int64_t, std::int64_t>{0, spec.max_len}
                                                      : parse_range(options.positions, spec.max_len);
  const std::int64_t window = options.window == 0 ? end - first : std::min(options.window, end - first);
  if (sinusoid) {
    check_sinusoidal_spec(spec, memory_budget(), encoding_copies_bytes(end - first, spec.d_model, window, data, figures));
    full = sinusoidal_table(spec);
  }
  std::vector<std::int64_t> dims = options.dims.empty() ? default_dims(spec.d_model) : options.dims;
  for (auto d : dims) {
    if (d < 0 || d >= spec.d_model) {
      throw bad_input("--dims " + std::to_string(d),
                      "a dimension must be from 0 to d_model-1 = " + std::to_string(spec.d_model - 1));
    }
  }

  const at::Tensor table = full.slice(/*dim=*/0, first, end);
  const auto positions = index_labels(static_cast<std::size_t>(end - first), first);
  const auto window_positions = index_labels(static_cast<std::size_t>(window), first);

  std::vector<Product> products;
  {
    LabeledMatrix m = to_matrix(table, "encoding", "position", positions, index_labels(spec.d_model));
    Product product{heatmap_figure(m, about, "dimension", "position",
                                   static_cast<double>(first), "value"),
                    {}, {}};
    if (sinusoid) {
      auto& heat = std::get<plot::Heatmap>(product.figure.panels[0].content);
      heat.z_min = -1;  // sin and cos: the full range, whatever part is shown
      heat.z_max = 1;
    }
    product.data.push_back(std::move(m));
    products.push_back(std::move(product));
  }
  {
    std::vector<std::string> dim_labels;
    plot::Figure figure;
    figure.name = "encoding-dims";
    figure.title = "Dimensions over position: " + about;
    figure.columns = dims.size() <= 3 ? 1 : dims.size() <= 8 ? 2 : static_cast<int>(std::ceil(std::sqrt(dims.size())));
    const at::Tensor rows = table.slice(/*dim=*/0, 0, window).contiguous();
    at::Tensor selected = at::empty({window, static_cast<std::int64_t>(dims.size())}, at::kFloat);
    for (std::size_t i = 0; i < dims.size(); ++i) {
      const std::int64_t d = dims[i];
      dim_labels.push_back(std::to_string(d));
      selected.select(/*dim=*/1, static_cast<std::int64_t>(i)).copy_(rows.select(/*dim=*/1, d));
      plot::Series series;
      const at::Tensor column = selected.select(/*dim=*/1, static_cast<std::int64_t>(i)).contiguous();
      const float* values = column.data_ptr<float>();
      for (std::int64_t p = 0; p < window; ++p) {
        series.x.push_back(static_cast<double>(first + p));
        series.y.push_back(values[p]);
      }
      plot::XYPlot line;
      line.series.push_back(std::move(series));
      // Dimension pair (2i, 2i+1) has wavelength 2*pi*base^(2i/D) positions.
      const double wavelength = 2 * M_PI * std::pow(spec.base, static_cast<double>(d - d % 2) / spec.d_model);
      std::ostringstream title;
      title.precision(wavelength < 100 ? 1 : 0);
      title << "dim " << d;
      if (sinusoid) title << (d % 2 == 0 ? ": sin" : ": cos") << ", wavelength " << std::fixed << wavelength << " positions";
      if (sinusoid) line.y_min = -1.1, line.y_max = 1.1;
      figure.panels.push_back({title.str(), "position", "value", std::move(line)});
    }
    products.push_back({std::move(figure), {to_matrix(selected, "encoding-dims", "position", window_positions, dim_labels)}, {}});
  }
  {
    const at::Tensor sim = position_similarity(table.slice(/*dim=*/0, 0, window), similarity);
    LabeledMatrix m = to_matrix(sim, "encoding-similarity", "position", window_positions, window_positions);
    const std::string kind = similarity == Similarity::kCosine ? "cosine similarity" : "dot product";
    plot::Figure figure = heatmap_figure(m, "Position similarity, " + kind + ": " + about,
                                         "position", "position", static_cast<double>(first), kind);
    auto& heat = std::get<plot::Heatmap>(figure.panels[0].content);
    heat.col_first = static_cast<double>(first);
    products.push_back({std::move(figure), {std::move(m)}, {}});
  }

  summary["d_model"] = spec.d_model;
  summary["max_len"] = spec.max_len;
  summary["base"] = spec.base;
  summary["positions"] = {first, end};
  summary["window"] = window;
  summary["dims"] = dims;
  summary["similarity"] = options.similarity;
  publish(std::move(products), options.output, std::move(summary));
  if (options.fail_tolerance && check) {
    if (!check->comparable || check->deviation > *options.fail_tolerance) {
      char why[160];
      std::snprintf(why, sizeof why, "the table deviates from the sinusoid by up to %.3g, more than %.3g", check->deviation,
                    *options.fail_tolerance);
      throw Error(ExitCode::kCheckFailed, "--fail-if-not-sinusoidal", check->comparable ? why : "an odd width has no sinusoid");
    }
  }
}

}  // namespace

void setup_encoding(CLI::App& app) {
  auto options = std::make_shared<EncodingOptions>();
  CLI::App* command = app.add_subcommand("encoding", "draw a sinusoidal positional-encoding table");
  command->add_option("MODEL", options->model, "a model whose positional table to draw instead (file or builtin:NAME)");
  command->add_option("--d-model", options->d_model, "embedding width (even) of a computed table");
  command->add_option("--tensor", options->tensor, "with MODEL: the tensor to draw (default: the first candidate)");
  command->add_flag("--list", options->list, "with MODEL: list the tensors that look like positional tables");
  command->add_option("--fail-if-not-sinusoidal", options->fail_tolerance,
                      "with MODEL: exit 5 when the table deviates from the sinusoid by more than TOL");
  command->add_option("--max-len", options->max_len, "number of positions in the table")->capture_default_str();
  command->add_option("--base", options->base, "wavelength base of the sinusoids")->capture_default_str();
  command->add_option("--dims", options->dims, "dimensions to draw as lines, e.g. 0,1,64,65 (default: fast to slow)")
      ->delimiter(',');
  command->add_option("--positions", options->positions, "range of positions START:END (end excluded; default all)");
  command->add_option("--window", options->window,
                      "the line and similarity figures show the first N positions of the range (0: all)")
      ->capture_default_str();
  command->add_option("--similarity", options->similarity, "how to compare positions: dot or cosine")
      ->check(CLI::IsMember({"dot", "cosine"}))
      ->capture_default_str();
  add_output_options(*command, options->output);
  command->footer(
      "Writes encoding.png (positions by dimensions), encoding-dims.png (selected dimensions over position) and\n"
      "encoding-similarity.png (similarity between positions), each with its data file (.csv or .json).\n"
      "With MODEL, draws the table the model holds and reports how far it is from the ideal sinusoid.\n\n"
      "Examples:\n"
      "  pevis encoding --d-model 512\n"
      "  pevis encoding --d-model 128 --max-len 1000 --dims 0,1,32,33 --positions 0:200\n"
      "  pevis encoding --d-model 64 --format txt --data none     # draw on the terminal\n"
      "  pevis encoding builtin:transformer-lm --positions 0:200    # the pe buffer a model holds\n"
      "  pevis encoding model.pt --list\n"
      "  pevis encoding model.pt --fail-if-not-sinusoidal 1e-6      # a CI check\n"
      "  pevis encoding --d-model 512 --json -o out/pe            # machine-readable summary");
  command->callback([options] { run_encoding(*options); });
}

}  // namespace pevis::cli
