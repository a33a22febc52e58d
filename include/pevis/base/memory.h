#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "pevis/base/error.h"

namespace pevis {

/// What the system says about memory, each when it can be read.
struct MemoryFacts {
  std::optional<std::uint64_t> mem_available;  ///< /proc/meminfo MemAvailable
  std::optional<std::uint64_t> cgroup_limit;   ///< memory.max (v2) or memory.limit_in_bytes (v1)
  std::optional<std::uint64_t> cgroup_usage;   ///< memory.current (v2) or memory.usage_in_bytes (v1)
  std::optional<std::uint64_t> address_limit;  ///< RLIMIT_AS (`ulimit -v`)
  std::optional<std::uint64_t> address_used;   ///< this process's virtual size
};

/// What this process may still allocate, and which limit says so.
struct MemoryBudget {
  std::uint64_t bytes = 0;
  std::string limited_by;  ///< e.g. "the address-space limit (ulimit -v)"
};

/// Reads the facts of this process now: /proc/meminfo, its cgroup's files
/// (v2, else v1), getrlimit and /proc/self/statm.
MemoryFacts read_memory_facts();

/// The least of: available memory, the cgroup's limit less its usage, and
/// the address-space limit less the address space in use. Facts that are
/// missing do not limit; with none, 4 GB is assumed.
MemoryBudget memory_budget(const MemoryFacts& facts);

/// The budget of this process now.
MemoryBudget memory_budget();

/// "1.5 GB": bytes in decimal units, three significant digits.
std::string human_bytes(long double bytes);

/// Refuses, before anything is allocated, a job that needs `need` bytes more
/// than the budget: throws `pevis::Error` (exit 3) naming `what` (the
/// option or file), how much it needs and how much there is, which limit
/// that is, and `todo` (the options that make the job smaller).
void check_memory(long double need, const std::string& what, const std::string& job, const std::string& todo);

/// True for LibTorch's and the C++ library's failures to allocate.
bool is_out_of_memory(const std::exception& error);

/// The one-line error (exit 3) for an allocation that failed although the
/// estimate fitted; `during` says what was being done. When the refusal was
/// the job's budget's (`note_budget_refusal`), it says so, with the sizes.
Error out_of_memory(const std::string& during);

/// Kept for `out_of_memory`: an allocation of `bytes` was refused because it
/// would take the job past its budget of `budget` bytes, set by `limited_by`.
void note_budget_refusal(std::uint64_t bytes, std::uint64_t budget, const std::string& limited_by);

}  // namespace pevis
