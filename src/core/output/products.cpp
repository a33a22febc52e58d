#include "pevis/output/products.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>
#include <type_traits>
#include <variant>

#include "pevis/base/error.h"
#include "pevis/output/data_files.h"
#include "pevis/base/memory.h"
#include "pevis/base/parallel.h"
#include "pevis/plot/gnuplot.h"

namespace pevis {
namespace fs = std::filesystem;
void make_folder(const std::string& path) {
  const fs::path folder(path);
  std::error_code error;
  fs::create_directories(folder, error);
  if (error || !fs::is_directory(folder)) {
    throw output_error(folder.string(), "cannot create the output folder" + (error ? ": " + error.message() : ""),
                       "choose another folder with -o");
  }
}

namespace {

// Makes `folder`, a folder inside the output folder `dir`, one part at a
// time, and follows no link on the way: a link inside the output folder was
// not made by pevis (someone planted it), and following it would write
// outside. The output folder itself may be a link; the user chose it.
void make_output_folder(const fs::path& dir, const fs::path& folder) {
  const fs::path relative = folder.lexically_relative(dir);
  if (relative.empty() || relative == ".") return;
  fs::path at = dir;
  for (const auto& part : relative) {
    at /= part;
    struct stat info {};
    if (::lstat(at.c_str(), &info) != 0) {
      if (::mkdir(at.c_str(), 0777) != 0 && errno != EEXIST) {
        throw output_error(at.string(), std::string("cannot create the folder: ") + std::strerror(errno),
                           "choose another folder with -o");
      }
      if (::lstat(at.c_str(), &info) != 0) {
        throw output_error(at.string(), "cannot create the folder", "choose another folder with -o");
      }
    }
    if (S_ISLNK(info.st_mode)) {
      throw output_error(at.string(), "a symbolic link inside the output folder, which pevis did not make and does not follow",
                         "remove it, or choose another folder with -o");
    }
    if (!S_ISDIR(info.st_mode)) throw output_error(at.string(), "not a folder", "remove it, or choose another folder with -o");
  }
}

// The size of a data file, from the lengths of a sample of its values (the
// same in CSV and JSON within a few per cent: a separator a value).
long double label_bytes(const LabeledMatrix& m) {
  long double label_chars = 0;
  for (const auto& l : m.row_labels) label_chars += l.size() + 4;
  for (const auto& l : m.col_labels) label_chars += l.size() + 4;
  return label_chars;
}

long double data_file_bytes(const LabeledMatrix& m) {
  const std::size_t n = m.values.size(), samples = std::min<std::size_t>(n, 4096);
  long double value_chars = 0;
  for (std::size_t i = 0; i < samples; ++i) value_chars += format_float(m.values[i * (n / samples)]).size() + 1;
  return (samples ? value_chars / samples * n : 0) + label_bytes(m) + 2.0L * m.rows;
}

long double data_file_bytes(const Table& table) {
  const std::size_t n = table.rows.size(), samples = std::min<std::size_t>(n, 256);
  long double chars = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    for (const auto& cell : table.rows[i * (n / samples)]) {
      chars += std::visit([](const auto& v) -> std::size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) return v.size() + 3;
        else return 12;
      }, cell);
    }
  }
  return samples ? chars / samples * n : 0;
}

// The figures a run draws: those with panels.
std::vector<const plot::Figure*> drawn_figures(const std::vector<Product>& products) {
  std::vector<const plot::Figure*> drawn;
  for (const auto& product : products) {
    if (!product.figure.panels.empty()) drawn.push_back(&product.figure);
  }
  return drawn;
}

// Writes every matrix and table of `products` as CSV or JSON, on as many
// threads as there are cores (formatting millions of numbers is the cost).
// `on_written` hears of the files written, in order, once all are done;
// then the first failure, if any, is thrown.
void write_data(const std::vector<Product>& products, const OutputSpec& spec,
                const std::function<void(const WrittenFile&)>& on_written) {
  const fs::path dir(spec.dir);
  const bool npy = spec.data == DataFormat::kNpy;
  const std::string text_ext = spec.data == DataFormat::kJson ? "json" : "csv";  // tables: CSV beside .npy
  enum class Writes { kTable, kMatrix, kNpy, kLabels };
  struct Job {
    fs::path path;
    std::string format;
    Writes writes;
    const Table* table = nullptr;
    const LabeledMatrix* matrix = nullptr;
  };
  std::vector<Job> jobs;
  for (const auto& product : products) {
    for (const auto& table : product.tables) {
      jobs.push_back({dir / (table.name + "." + text_ext), text_ext, Writes::kTable, &table, nullptr});
    }
    for (const auto& matrix : product.data) {
      if (npy) {
        jobs.push_back({dir / (matrix.name + ".npy"), "npy", Writes::kNpy, nullptr, &matrix});
        jobs.push_back({dir / (matrix.name + ".labels.json"), "json", Writes::kLabels, nullptr, &matrix});
      } else {
        jobs.push_back({dir / (matrix.name + "." + text_ext), text_ext, Writes::kMatrix, nullptr, &matrix});
      }
    }
  }
  for (const auto& job : jobs) {
    make_output_folder(dir, job.path.parent_path());
    if (job.writes == Writes::kLabels) continue;
    const long double bytes = job.writes == Writes::kNpy    ? static_cast<long double>(npy_bytes(*job.matrix))
                              : job.writes == Writes::kTable ? data_file_bytes(*job.table)
                                                             : data_file_bytes(*job.matrix);
    if (bytes >= spec.large_data_file && spec.on_notice) {
      spec.on_notice("writing " + job.path.string() + ", about " + human_bytes(bytes) +
                     " (--data none writes no data files; --positions or --layer make them smaller)");
    } else if (spec.on_progress && bytes >= 50e6) {
      spec.on_progress("writing " + job.path.string() + " (about " + human_bytes(bytes) + ")");
    }
  }
  // Every data file is written under a temporary name first and renamed only
  // once all are complete: a failed run leaves none (never an X.labels.json
  // without its X.npy).
  std::vector<std::string> staged(jobs.size());
  const auto failures = for_each_index(jobs.size(), [&](std::size_t i) {
    const Job& job = jobs[i];
    staged[i] = write_staged(job.path.string(), [&](std::ostream& out) {
      switch (job.writes) {
        case Writes::kTable: return text_ext == "csv" ? write_csv(out, *job.table) : write_json(out, *job.table);
        case Writes::kMatrix: return text_ext == "csv" ? write_csv(out, *job.matrix) : write_json(out, *job.matrix);
        case Writes::kNpy: return write_npy(out, *job.matrix);
        case Writes::kLabels: return write_npy_labels(out, *job.matrix);
      }
    });
  });
  const auto discard = [&staged] {
    for (auto& name : staged) {
      if (!name.empty()) std::remove(name.c_str());
      name.clear();
    }
  };
  if (std::any_of(failures.begin(), failures.end(), [](const std::exception_ptr& f) { return f != nullptr; })) {
    discard();
    rethrow_first(failures);
  }
  // What would stop a rename is looked for before any is made.
  for (const auto& job : jobs) {
    struct stat info {};
    if (::lstat(job.path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      discard();
      throw output_error(job.path.string(), "a folder is where the file goes", "remove it, or choose another folder with -o");
    }
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    try {
      commit_staged(staged[i], jobs[i].path.string());
      staged[i].clear();
    } catch (...) {
      staged[i].clear();
      discard();
      throw;
    }
    on_written({jobs[i].path.string(), "data", jobs[i].format});
  }
}

// Refuses a run over the spec's bounds before it writes anything, and
// announces a large one.
void check_plan(const OutputPlan& plan, const OutputSpec& spec) {
  const std::string totals = std::to_string(plan.files) + " files, about " + human_bytes(plan.bytes);
  const std::string todo = "draw fewer sites with --layer or --head, fewer positions, --data npy or none, or raise ";
  if (plan.files > spec.max_files) {
    throw bad_input(spec.dir, "the run would write " + totals + ", more than --max-files " + std::to_string(spec.max_files),
                    todo + "--max-files");
  }
  if (plan.bytes > static_cast<long double>(spec.max_bytes)) {
    throw bad_input(spec.dir, "the run would write " + totals + ", more than --max-bytes " + human_bytes(spec.max_bytes),
                    todo + "--max-bytes");
  }
  if (plan.bytes >= spec.large_total && spec.on_notice) spec.on_notice("this run writes " + totals + " into " + spec.dir);
}

}  // namespace

OutputPlan plan_output(const std::vector<Product>& products, const OutputSpec& spec) {
  OutputPlan plan;
  const auto add = [&plan](long double bytes) {
    ++plan.files;
    plan.bytes += bytes;
  };
  for (const auto& product : products) {
    for (const auto& document : product.documents) add(static_cast<long double>(document.content.size()));
    if (spec.data == DataFormat::kNone) continue;
    for (const auto& table : product.tables) add(data_file_bytes(table));
    for (const auto& matrix : product.data) {
      if (spec.data != DataFormat::kNpy) {
        add(data_file_bytes(matrix));
        continue;
      }
      add(static_cast<long double>(npy_bytes(matrix)));
      add(label_bytes(matrix));
    }
  }
  for (const plot::Figure* figure : drawn_figures(products)) {
    const plot::Size size = spec.size.value_or(figure->size);
    if (spec.scripts) add(4096);
    if (spec.figures && *spec.figures != plot::Format::kText) add(static_cast<long double>(size.width) * size.height / 8);
  }
  return plan;
}

void write_products(std::vector<Product> products, const OutputSpec& spec,
                    const std::function<void(const WrittenFile&)>& on_written) {
  const fs::path dir(spec.dir);
  bool documents = false;
  for (const auto& product : products) documents = documents || !product.documents.empty();
  // Nothing asked for (--format none --data none): no folder either.
  if (!spec.figures && spec.data == DataFormat::kNone && !spec.scripts && !documents) return;
  check_plan(plan_output(products, spec), spec);
  make_folder(dir);
  for (auto& product : products) {
    for (auto& document : product.documents) {
      const fs::path path = dir / (document.name + "." + document.format);
      make_output_folder(dir, path.parent_path());
      if (spec.on_progress) spec.on_progress("writing " + path.string());
      write_file_atomic(path.string(), [&](std::ostream& out) { out << document.content; });
      on_written({path.string(), "page", document.format});
      document.content = std::string();  // written: its memory is free for the figures
    }
  }
  for (auto& product : products) {
    if (spec.size) product.figure.size = *spec.size;
    if (spec.palette) product.figure.palette = *spec.palette;
  }
  const bool with_data = spec.data != DataFormat::kNone;
  const std::vector<const plot::Figure*> drawn = drawn_figures(products);
  const plot::Format format = spec.figures.value_or(plot::Format::kPng);
  const bool to_files = format != plot::Format::kText;
  const std::string ext = plot::extension(format);

  if (spec.scripts) {
    for (const plot::Figure* figure : drawn) {
      const std::string name = figure->name;
      const fs::path path = dir / (name + ".gp");
      make_output_folder(dir, path.parent_path());
      // The script draws next to itself: its output name has no folder.
      const std::string figure_file = fs::path(name + "." + ext).filename().string();
      const std::string script = plot::render_script(*figure, {format, to_files ? figure_file : "", "", with_data});
      write_file_atomic(path.string(), [&](std::ostream& out) { out << script; });
      on_written({path.string(), "script", "gp"});
    }
  }
  if (!spec.figures || drawn.empty()) {
    if (with_data) write_data(products, spec, on_written);
    return;
  }

  // gnuplot draws every figure to a temporary name; each is renamed once
  // gnuplot has finished without error. The numbers go to temporary files
  // that the script loads (gnuplot reads its standard input a byte at a time,
  // and files in blocks); heatmaps' numbers as binary float32.
  const std::string suffix = ".part-" + std::to_string(::getpid());
  // Text figures go to standard output, as do the messages of files written:
  // their data is written first, not while gnuplot draws.
  if (!to_files && with_data) write_data(products, spec, on_written);
  // Figures to files are shared between two gnuplot processes, one per core;
  // text figures keep their order in one.
  const std::size_t lanes = to_files && drawn.size() > 1 ? 2 : 1;
  std::vector<std::string> scripts(lanes);
  std::vector<double> lane_cost(lanes, 0.0);
  std::vector<fs::path> data_files;
  struct Cleanup {
    const std::vector<fs::path>& files;
    ~Cleanup() {
      for (const auto& f : files) std::remove(f.c_str());
    }
  } cleanup{data_files};
  for (std::size_t i = 0; i < drawn.size(); ++i) {
    const std::string name = drawn[i]->name;
    if (to_files) make_output_folder(dir, (dir / name).parent_path());
    const std::string stem = ".pevis-data-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    const plot::Script parts = plot::render(*drawn[i], {format, to_files ? name + "." + ext + suffix : "", stem, with_data});
    data_files.push_back(dir / (stem + ".gp"));
    write_file_atomic(data_files.back().string(), [&](std::ostream& out) { out << parts.data; });
    std::size_t values = 0;  // heatmap values gnuplot reads
    for (const auto& file : parts.files) {
      data_files.push_back(dir / file.name);
      write_file_atomic(data_files.back().string(), [&](std::ostream& out) { out << file.bytes; });
      values += file.bytes.size() / sizeof(float);
    }
    // Each figure goes to the lane with the least work so far, the work of a
    // figure guessed as its pixels (PNG encoding) plus the values it reads.
    const std::size_t lane =
        static_cast<std::size_t>(std::min_element(lane_cost.begin(), lane_cost.end()) - lane_cost.begin());
    lane_cost[lane] += static_cast<double>(drawn[i]->size.width) * drawn[i]->size.height + static_cast<double>(values);
    scripts[lane] += parts.preamble + "load " + plot::quote(stem + ".gp") + "\n" + parts.body;
  }
  const auto remove_parts = [&] {
    for (const plot::Figure* figure : drawn) std::remove((dir / (figure->name + "." + ext + suffix)).c_str());
  };
  // gnuplot opens each figure's temporary name as it is: pevis makes them
  // first, as new regular files, so that nothing planted under those names
  // (a link to a file elsewhere) is written through.
  if (to_files) {
    for (const plot::Figure* figure : drawn) {
      const fs::path part = dir / (figure->name + "." + ext + suffix);
      ::unlink(part.c_str());  // a stale or planted entry: removed, never followed
      const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd < 0) {
        const int error = errno;
        remove_parts();
        throw output_error(part.string(), std::string("cannot create the figure: ") + std::strerror(error),
                           "check that the output folder is writable");
      }
      ::close(fd);
    }
  }
  if (spec.on_progress && drawn.size() > 1) {
    spec.on_progress("drawing " + std::to_string(drawn.size()) + " figures with gnuplot");
  }
  std::vector<std::exception_ptr> failures(lanes + 1);
  {
    const plot::IgnoreSigpipe quiet;  // once for all drawing threads
    std::vector<std::thread> threads;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
      threads.emplace_back([&, lane] {
        try {
          plot::run_gnuplot(scripts[lane], dir.string(), spec.text_fd);
        } catch (...) {
          failures[lane] = std::current_exception();
        }
      });
    }
    // The data files are written while gnuplot draws.
    try {
      if (to_files && with_data) write_data(products, spec, on_written);
    } catch (...) {
      failures[lanes] = std::current_exception();
    }
    for (auto& thread : threads) thread.join();
  }
  for (const auto& failure : failures) {
    if (failure) {
      if (to_files) remove_parts();
      std::rethrow_exception(failure);
    }
  }
  if (!to_files) return;
  for (const plot::Figure* figure : drawn) {
    const fs::path final_path = dir / (figure->name + "." + ext);
    const fs::path part = dir / (figure->name + "." + ext + suffix);
    std::error_code error;
    if (fs::file_size(part, error) == 0 || error) {
      remove_parts();
      throw output_error(final_path.string(), "gnuplot wrote no figure", "keep the script with --script to see why");
    }
    fs::rename(part, final_path, error);
    if (error) {
      remove_parts();
      throw output_error(final_path.string(), "cannot replace the figure: " + error.message(),
                         "check that the output folder is writable");
    }
    on_written({final_path.string(), "figure", ext});
  }
}

}  // namespace pevis
