#pragma once
// What a capture keeps while the model runs, for both back-ends: the
// TorchScript back-end (script.cpp) inserts pevis:: recorder operators into a
// copy of the graph; the torch.export back-end (program.cpp) observes its
// interpreter. Either way the weights land in the `Records` of the run in
// progress, within a limit set before the run.

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "pevis/operators/attention_ops.h"

namespace pevis::recorders {

/// What a capture keeps: (site, weights) in the order they formed, within a
/// memory limit set before the run. Weights past the limit are not kept (the
/// model runs on, as it would without pevis) and are counted, so that the
/// capture can be refused with what it would have needed.
struct Records {
  std::vector<std::pair<std::int64_t, at::Tensor>> kept;
  std::uint64_t limit = 0, held = 0, dropped = 0;
  std::vector<char> unwanted;  ///< by site: its module path was not asked for
  std::size_t skipped = 0;

  /// Keeps the weights `make` returns, `bytes` large, when they are wanted and fit.
  template <typename Make>
  void keep(std::int64_t site, std::uint64_t bytes, Make&& make) {
    if (site >= 0 && static_cast<std::size_t>(site) < unwanted.size() && unwanted[static_cast<std::size_t>(site)]) {
      ++skipped;
      return;
    }
    if (dropped || held + bytes > limit) {
      dropped += bytes;
      return;
    }
    held += bytes;
    kept.emplace_back(site, make());
  }
};

/// Keeps the weights a formed attention operator (`op.formed`) makes of its
/// arguments (the recorder's, in its order), checking their size first.
void keep_formed(Records& records, const AttentionOp& op, const std::vector<c10::IValue>& args, std::int64_t site);

/// (site, sizes of each tensor) per execution, for summaries.
using ShapeRecords = std::vector<std::pair<std::int64_t, std::vector<std::vector<std::int64_t>>>>;

/// The recorders' slots: what the run in progress keeps; null outside a run.
/// They belong to the process, not to a thread: the interpreter may finish a
/// forward on another thread (after `wait` on a task started with
/// torch.jit.fork it resumes on LibTorch's inter-op pool), and what runs
/// there must be kept too. pevis runs one capture at a time; `recording`
/// orders the recorders of tasks that run at once.
extern std::mutex recording;
extern Records* active_records;
extern ShapeRecords* active_shapes;
extern std::map<std::int64_t, std::int64_t>* active_heads;  ///< site -> heads seen by the split recorders

/// Points a recorder slot at `records` for the life of the guard.
template <typename T>
class ActiveRecords {
 public:
  ActiveRecords(T*& slot, T* records) : slot_(slot) {
    const std::lock_guard<std::mutex> lock(recording);
    slot_ = records;
  }
  ~ActiveRecords() {
    const std::lock_guard<std::mutex> lock(recording);
    slot_ = nullptr;
  }
  ActiveRecords(const ActiveRecords&) = delete;
  ActiveRecords& operator=(const ActiveRecords&) = delete;

 private:
  T*& slot_;
};

/// The most a capture keeps: three quarters of the memory budget when it
/// starts, so that the model's own activations and the figures have room.
std::uint64_t capture_limit();

/// The refusal of a capture whose weights passed the limit (exit 3).
Error capture_too_large(const Model& model, const Records& records);

}  // namespace pevis::recorders
