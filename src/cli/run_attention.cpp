#include <unistd.h>

#include <chrono>
#include <iostream>

#include "box.h"
#include "output_options.h"
#include "runners.h"
#include "pevis/attention/attention_job.h"
#include "pevis/base/text.h"
#include "pevis/base/utf8.h"

namespace pevis::cli {
namespace {

void print_timings(const nlohmann::json& seconds) {
  const auto text = [](double s) { return number_text("%.3f s", s); };
  const double plain = seconds["plain_forward"].get<double>(), captured = seconds["capture"].get<double>();
  const double warm = seconds["plain_forward_warm"].get<double>();
  std::cerr << "pevis: load " << text(seconds["load"].get<double>()) << ", plain forward " << text(plain)
            << " (warm: " << text(warm) << "), capturing forward " << text(captured) << " ("
            << (plain > 0 ? captured / plain : 0) << "x the first plain run, " << (warm > 0 ? captured / warm : 0)
            << "x a warm one), preparing figures " << text(seconds["prepare"].get<double>()) << ", writing and drawing "
            << text(seconds["write"].get<double>()) << std::endl;
}

}  // namespace

void run_attention(const AttentionOptions& options) {
  const AttentionRequest& request = options.request;
  enter_box({{request.model}, {request.input.input, request.input.vocab, request.input.tokenizer}, request.list ? nullptr : &options.output, ""},
            options.safety, options.safety.verbose);
  Progress progress;
  // Progress is for people watching a terminal, on stderr.
  if (::isatty(STDERR_FILENO)) progress.status = [](const std::string& step) { std::cerr << "pevis: " << step << "..." << std::endl; };
  // Its notes too: stdout is for the files written.
  progress.text = [](const std::string& text) { std::cerr << "pevis: " << visible_lines(text); };
  JobResult result = attention_job(request, progress);
  if (request.list) {
    human(options.output) << visible_lines(result.text);
    if (options.output.json) std::cout << result.summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  if (!request.timings) return publish(std::move(result), options.output);
  nlohmann::json seconds = result.summary["seconds"];
  const auto start = std::chrono::steady_clock::now();
  publish(std::move(result), options.output);
  seconds["write"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_timings(seconds);
}

}  // namespace pevis::cli
