#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cmath>
#include <memory>
#include <sstream>

#include "commands.h"
#include "output_options.h"
#include "pevis/encoding.h"
#include "pevis/error.h"

namespace pevis::cli {
namespace {

struct EncodingOptions {
  std::int64_t d_model = 0;
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
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size()) {
      throw Error(ExitCode::kUsage, "--positions " + text, "expected START:END with whole numbers", "for example --positions 0:100");
    }
    return value;
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
  SinusoidalSpec spec{options.d_model, options.max_len, options.base};
  const Similarity similarity = options.similarity == "cosine" ? Similarity::kCosine : Similarity::kDot;
  if (options.window < 0) {
    throw bad_input("--window " + std::to_string(options.window), "must be 0 (the whole range) or a positive count");
  }
  // Sizes are checked before anything large exists.
  check_sinusoidal_spec(spec, available_memory_bytes());
  const auto [first, end] = options.positions.empty() ? std::pair<std::int64_t, std::int64_t>{0, spec.max_len}
                                                      : parse_range(options.positions, spec.max_len);
  const std::int64_t window = options.window == 0 ? end - first : std::min(options.window, end - first);
  check_sinusoidal_spec(spec, available_memory_bytes(), 3ull * 4ull * static_cast<std::uint64_t>(window) * window);
  std::vector<std::int64_t> dims = options.dims.empty() ? default_dims(spec.d_model) : options.dims;
  for (auto d : dims) {
    if (d < 0 || d >= spec.d_model) {
      throw bad_input("--dims " + std::to_string(d),
                      "a dimension must be from 0 to d_model-1 = " + std::to_string(spec.d_model - 1));
    }
  }

  const at::Tensor table = sinusoidal_table(spec).slice(/*dim=*/0, first, end);
  const auto positions = index_labels(static_cast<std::size_t>(end - first), first);
  const auto window_positions = index_labels(static_cast<std::size_t>(window), first);
  std::ostringstream base_text;
  base_text << spec.base;
  const std::string about = "d_model " + std::to_string(spec.d_model) + ", base " + base_text.str();

  std::vector<Product> products;
  {
    LabeledMatrix m = to_matrix(table, "encoding", "position", positions, index_labels(spec.d_model));
    Product product{heatmap_figure(m, "Sinusoidal positional encoding (" + about + ")", "dimension", "position",
                                   static_cast<double>(first), "value"),
                    {}, {}};
    auto& heat = std::get<plot::Heatmap>(product.figure.panels[0].content);
    heat.z_min = -1;  // sin and cos: the full range, whatever part is shown
    heat.z_max = 1;
    product.data.push_back(std::move(m));
    products.push_back(std::move(product));
  }
  {
    std::vector<std::string> dim_labels;
    plot::Figure figure;
    figure.name = "encoding-dims";
    figure.title = "Dimensions over position (" + about + ")";
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
      line.y_min = -1.1;
      line.y_max = 1.1;
      // Dimension pair (2i, 2i+1) has wavelength 2*pi*base^(2i/D) positions.
      const double wavelength = 2 * M_PI * std::pow(spec.base, static_cast<double>(d - d % 2) / spec.d_model);
      std::ostringstream title;
      title.precision(wavelength < 100 ? 1 : 0);
      title << "dim " << d << (d % 2 == 0 ? ": sin" : ": cos") << ", wavelength " << std::fixed << wavelength
            << " positions";
      figure.panels.push_back({title.str(), "position", "value", std::move(line)});
    }
    products.push_back({std::move(figure), {to_matrix(selected, "encoding-dims", "position", window_positions, dim_labels)}, {}});
  }
  {
    const at::Tensor sim = position_similarity(table.slice(/*dim=*/0, 0, window), similarity);
    LabeledMatrix m = to_matrix(sim, "encoding-similarity", "position", window_positions, window_positions);
    const std::string kind = similarity == Similarity::kCosine ? "cosine similarity" : "dot product";
    plot::Figure figure = heatmap_figure(m, "Position similarity: " + kind + " of encodings (" + about + ")",
                                         "position", "position", static_cast<double>(first), kind);
    auto& heat = std::get<plot::Heatmap>(figure.panels[0].content);
    heat.col_first = static_cast<double>(first);
    products.push_back({std::move(figure), {std::move(m)}, {}});
  }

  nlohmann::json summary = {{"command", "encoding"},
                            {"d_model", spec.d_model},
                            {"max_len", spec.max_len},
                            {"base", spec.base},
                            {"positions", {first, end}},
                            {"window", window},
                            {"dims", dims},
                            {"similarity", options.similarity}};
  publish(std::move(products), options.output, std::move(summary));
}

}  // namespace

void setup_encoding(CLI::App& app) {
  auto options = std::make_shared<EncodingOptions>();
  CLI::App* command = app.add_subcommand("encoding", "draw a sinusoidal positional-encoding table");
  command->add_option("--d-model", options->d_model, "embedding width (even)")->required();
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
      "encoding-similarity.png (similarity between positions), each with its data file (.csv or .json).\n\n"
      "Examples:\n"
      "  pevis encoding --d-model 512\n"
      "  pevis encoding --d-model 128 --max-len 1000 --dims 0,1,32,33 --positions 0:200\n"
      "  pevis encoding --d-model 64 --format txt --data none     # draw on the terminal\n"
      "  pevis encoding --d-model 512 --json -o out/pe            # machine-readable summary");
  command->callback([options] { run_encoding(*options); });
}

}  // namespace pevis::cli
