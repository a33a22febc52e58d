#include "pevis/capture/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include "pevis/base/memory.h"
#include "pevis/operators/torch_version.h"

#include <algorithm>
#include <atomic>
#include <malloc.h>

#include <cstdlib>
#include <vector>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pevis {
namespace {

constexpr std::size_t kAlignment = 64;            // as c10's alloc_cpu
constexpr std::size_t kCachedFrom = 1u << 20;     // smaller blocks: malloc's own bins serve them well
constexpr std::size_t kGranule = 64u << 10;       // large sizes rounded up to this, so that near sizes share blocks

void* aligned_block(std::size_t bytes) {
  void* p = nullptr;
  return ::posix_memalign(&p, kAlignment, bytes) == 0 ? p : nullptr;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(std::size_t cache_bytes) : limit_(cache_bytes) {}

#if PEVIS_TORCH_MUTABLE_ALLOCATOR
  c10::DataPtr allocate(std::size_t n) override { return allocate_block(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(std::size_t n) const override { return allocate_block(n); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void stop_keeping() {
    limit_ = 0;
    drop_cache(0);
  }

  CpuAllocatorCounts counts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return counts_;
  }

  static CachingCpuAllocator* self_;  // the one in use

 private:
  c10::DataPtr allocate_block(std::size_t n) const {
    auto* self = const_cast<CachingCpuAllocator*>(this);
    void* p = self->take(n == 0 ? 1 : n);
    return {p, p, n < kCachedFrom ? &release_small : &release, c10::Device(c10::DeviceType::CPU)};
  }

  void* take(std::size_t n) {
    if (n < kCachedFrom) return take_small(n);
    const std::size_t size = (n + kGranule - 1) / kGranule * kGranule;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_.find(size);
      if (found != free_.end() && !found->second.empty()) {
        void* p = found->second.back();
        found->second.pop_back();
        order_.remove(p);
        sizes_.erase(p);
        counts_.cached_bytes -= size;
        kept_ -= size;
        ++counts_.reused;
        in_use_[p] = size;
        live_ += size;
        return p;
      }
    }
    // A new block: kept blocks may fill the room below the highest that
    // large blocks in use have reached, and an eighth more (at least 64 MiB:
    // a layer's buffers come back a little smaller than they went), so that
    // keeping them raises the peak by that much at most; the oldest give way
    // first.
    std::size_t room = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      high_water_ = std::max(high_water_, live_ + size);
      room = high_water_ - live_ - size + std::max<std::size_t>(64u << 20, high_water_ / 8);
    }
    drop_cache(room);
    check_budget(n, size);
    void* p = aligned_block(size);
    if (!p) {
      drop_cache(0);  // memory kept for later may be what this one needs
      p = aligned_block(size);
    }
    TORCH_CHECK(p, "pevis CPU allocator: can't allocate memory: you tried to allocate ", n, " bytes");
    std::lock_guard<std::mutex> lock(mutex_);
    ++counts_.fresh;
    in_use_[p] = size;
    live_ += size;
    return p;
  }

  // A small block is malloc's, counted in aggregate (as malloc counts it:
  // its usable size) against the budget with the large ones: 24,000 tensors
  // of 1020 KiB take 24 GB as surely as 24 of 1 GB.
  void* take_small(std::size_t n) {
    void* p = aligned_block(n);
    TORCH_CHECK(p, "pevis CPU allocator: can't allocate memory: you tried to allocate ", n, " bytes");
    const std::size_t usable = ::malloc_usable_size(p);
    const std::size_t small = small_live_.fetch_add(usable) + usable;
    const std::size_t budget = budget_.load();
    if (budget == 0 || small + live_.load() + kept_.load() <= budget) return p;
    drop_cache(0);
    if (small + live_.load() <= budget) return p;
    small_live_ -= usable;
    std::free(p);
    refuse(n);
  }

  // Refuses a new block that would take the blocks in use and kept past the
  // job's budget: a failure the job can report, where the kernel would kill
  // the process without a word when a cgroup's limit is reached.
  void check_budget(std::size_t n, std::size_t size) {
    const std::size_t budget = budget_.load();
    if (budget == 0 || small_live_.load() + live_.load() + kept_.load() + size <= budget) return;
    drop_cache(0);
    if (small_live_.load() + live_.load() + size <= budget) return;
    refuse(n);
  }

  [[noreturn]] void refuse(std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    note_budget_refusal(n, budget_.load(), limited_by_);
    TORCH_CHECK(false, "pevis CPU allocator: can't allocate memory: a tensor of ", n, " bytes would take the job past its ",
                "memory budget of ", budget_.load(), " bytes (", limited_by_, "), with ", small_live_.load(),
                " bytes in tensors under 1 MiB and ", live_.load(), " in larger ones");
  }

  static void free_small(void* p) {
    self_->small_live_ -= ::malloc_usable_size(p);
    std::free(p);
  }

 public:
  void set_budget(std::size_t bytes, const std::string& limited_by) {
    std::lock_guard<std::mutex> lock(mutex_);
    budget_ = bytes;
    limited_by_ = limited_by;
  }

 private:
  static void release_small(void* p) { free_small(p); }

  static void release(void* p) {
    if (!p) return;
    CachingCpuAllocator* a = self_;
    std::unique_lock<std::mutex> lock(a->mutex_);
    const auto it = a->in_use_.find(p);
    if (it == a->in_use_.end()) {  // a small block
      lock.unlock();
      free_small(p);
      return;
    }
    const std::size_t size = it->second;
    a->in_use_.erase(it);
    a->live_ -= size;
    if (size > a->limit_) {
      lock.unlock();
      std::free(p);
      return;
    }
    a->free_[size].push_back(p);
    a->order_.push_back(p);
    a->sizes_[p] = size;
    a->counts_.cached_bytes += size;
    a->kept_ += size;
    lock.unlock();
    a->drop_cache(a->limit_);
  }

  // Frees the blocks kept longest until at most `keep` bytes are kept.
  void drop_cache(std::size_t keep) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (counts_.cached_bytes > keep && !order_.empty()) {
      void* p = order_.front();
      order_.pop_front();
      const std::size_t size = sizes_.at(p);
      sizes_.erase(p);
      auto& list = free_[size];
      list.erase(std::find(list.begin(), list.end(), p));
      counts_.cached_bytes -= size;
      kept_ -= size;
      std::free(p);
    }
  }

  std::atomic<std::size_t> limit_;
  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> in_use_;       // large blocks handed out
  std::map<std::size_t, std::vector<void*>> free_;      // kept, by size
  std::unordered_map<void*, std::size_t> sizes_;        // kept, their sizes
  std::list<void*> order_;                              // kept, oldest first
  std::atomic<std::size_t> live_{0};                    // bytes of large blocks handed out
  std::atomic<std::size_t> kept_{0};                    // bytes of large blocks kept (counts_.cached_bytes)
  std::atomic<std::size_t> small_live_{0};              // usable bytes of small blocks handed out
  std::size_t high_water_ = 0;                          // the most live_ has been
  std::atomic<std::size_t> budget_{0};                  // 0: none
  std::string limited_by_;
  CpuAllocatorCounts counts_;
};

CachingCpuAllocator* CachingCpuAllocator::self_ = nullptr;

}  // namespace

void use_caching_cpu_allocator(std::size_t cache_bytes) {
  static std::once_flag once;
  std::call_once(once, [cache_bytes] {
    // Never destroyed: tensors may be freed while the process ends.
    CachingCpuAllocator::self_ = new CachingCpuAllocator(cache_bytes);
    c10::SetCPUAllocator(CachingCpuAllocator::self_, /*priority=*/10);
  });
}

void limit_cpu_allocations(std::size_t bytes, const std::string& limited_by) {
  if (CachingCpuAllocator::self_) CachingCpuAllocator::self_->set_budget(bytes, limited_by);
}

void stop_keeping_cpu_blocks() {
  if (CachingCpuAllocator::self_) CachingCpuAllocator::self_->stop_keeping();
}

CpuAllocatorCounts cpu_allocator_counts() {
  return CachingCpuAllocator::self_ ? CachingCpuAllocator::self_->counts() : CpuAllocatorCounts{};
}

}  // namespace pevis
