#include "pevis/base/memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>

namespace pevis {
namespace {

constexpr std::uint64_t kNoLimit = 1ull << 60;  // cgroups write 2^63 rounded down to a page for "none"

std::optional<std::uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    const std::uint64_t value = std::stoull(text);
    if (value >= kNoLimit) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The value of `key` in a file of "key value" lines (memory.stat, meminfo).
std::optional<std::uint64_t> read_key(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string name;
  std::uint64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
    in.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

// The cgroup files of this process's memory controller: v2's unified
// hierarchy, else v1's memory hierarchy. Paths inside a container are tried
// below the mount point, then at its root.
void read_cgroup(MemoryFacts& facts) {
  std::ifstream in("/proc/self/cgroup");
  std::string line, v2, v1;
  while (std::getline(in, line)) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) v2 = path;
    std::stringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c == "memory") v1 = path;
    }
  }
  const auto try_dir = [&](const std::string& dir, const char* limit, const char* usage, const char* inactive) {
    const auto l = read_number(dir + limit);
    if (!l) return false;
    facts.cgroup_limit = l;
    facts.cgroup_usage = read_number(dir + usage);
    // Inactive file pages are page cache the kernel gives back before it fails an allocation.
    if (facts.cgroup_usage) {
      const auto cache = read_key(dir + "memory.stat", inactive).value_or(0);
      facts.cgroup_usage = *facts.cgroup_usage - std::min(*facts.cgroup_usage, cache);
    }
    return true;
  };
  for (const std::string& dir : {"/sys/fs/cgroup" + v2 + "/", std::string("/sys/fs/cgroup/")}) {
    if (try_dir(dir, "memory.max", "memory.current", "inactive_file")) return;
  }
  for (const std::string& dir : {"/sys/fs/cgroup/memory" + v1 + "/", std::string("/sys/fs/cgroup/memory/")}) {
    if (try_dir(dir, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")) return;
  }
}

}  // namespace

MemoryFacts read_memory_facts() {
  MemoryFacts facts;
  if (const auto kib = read_key("/proc/meminfo", "MemAvailable:")) facts.mem_available = *kib * 1024;
  read_cgroup(facts);
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    facts.address_limit = static_cast<std::uint64_t>(limit.rlim_cur);
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0;
    if (statm >> pages) facts.address_used = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  }
  return facts;
}

MemoryBudget memory_budget(const MemoryFacts& facts) {
  MemoryBudget budget{4'000'000'000ull, "an assumed 4 GB (the system tells nothing)"};
  bool known = false;
  const auto consider = [&](std::uint64_t bytes, const std::string& by) {
    if (!known || bytes < budget.bytes) budget = {bytes, by};
    known = true;
  };
  if (facts.mem_available) consider(*facts.mem_available, "the memory available (MemAvailable)");
  if (facts.cgroup_limit) {
    const std::uint64_t used = facts.cgroup_usage.value_or(0);
    consider(*facts.cgroup_limit - std::min(*facts.cgroup_limit, used), "the cgroup's memory limit");
  }
  if (facts.address_limit) {
    const std::uint64_t used = facts.address_used.value_or(0);
    consider(*facts.address_limit - std::min(*facts.address_limit, used), "the address-space limit (ulimit -v)");
  }
  return budget;
}

MemoryBudget memory_budget() { return memory_budget(read_memory_facts()); }

std::string human_bytes(long double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 6) bytes /= 1000, ++unit;
  std::ostringstream text;
  text.precision(bytes < 10 ? 2 : 3);
  text << bytes << ' ' << units[unit];
  return text.str();
}

void check_memory(long double need, const std::string& what, const std::string& job, const std::string& todo) {
  const MemoryBudget budget = memory_budget();
  if (need <= static_cast<long double>(budget.bytes)) return;
  throw bad_input(what, job + " would need about " + human_bytes(need) + " of memory, and " + human_bytes(budget.bytes) +
                            " is left under " + budget.limited_by,
                  todo);
}

bool is_out_of_memory(const std::exception& error) {
  if (dynamic_cast<const std::bad_alloc*>(&error)) return true;
  const std::string text = error.what();
  return text.find("can't allocate memory") != std::string::npos || text.find("not enough memory") != std::string::npos ||
         text.find("std::bad_alloc") != std::string::npos;
}

namespace {

struct BudgetRefusal {
  std::mutex mutex;
  std::string text;
};

BudgetRefusal& budget_refusal() {
  static BudgetRefusal refusal;
  return refusal;
}

}  // namespace

void note_budget_refusal(std::uint64_t bytes, std::uint64_t budget, const std::string& limited_by) {
  BudgetRefusal& refusal = budget_refusal();
  const std::lock_guard<std::mutex> lock(refusal.mutex);
  refusal.text = "a tensor of " + human_bytes(static_cast<long double>(bytes)) + " would take it past the job's budget of " +
                 human_bytes(static_cast<long double>(budget)) + ", set by " + limited_by;
}

Error out_of_memory(const std::string& during) {
  {
    BudgetRefusal& refusal = budget_refusal();
    const std::lock_guard<std::mutex> lock(refusal.mutex);
    if (!refusal.text.empty()) {
      return bad_input("memory", "an allocation was refused while " + during + ": " + refusal.text,
                       "make the job smaller (fewer positions or tokens, --layer, --data none), or raise the limit");
    }
  }
  const MemoryBudget budget = memory_budget();
  return bad_input("memory", "an allocation failed while " + during + " (" + human_bytes(budget.bytes) + " is left under " +
                                 budget.limited_by + ")",
                   "make the job smaller (fewer positions or tokens, --layer, --data none), or raise the limit");
}

}  // namespace pevis
