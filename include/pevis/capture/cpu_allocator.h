#pragma once

#include <cstddef>
#include <string>

namespace pevis {

/// Makes LibTorch's CPU tensors come from an allocator that keeps large
/// freed blocks (1 MiB and up, at most `cache_bytes` of them) and hands them
/// out again for tensors of the same rounded size. A forward pass allocates
/// the same large buffers layer after layer (scores, softmax, products): a
/// fresh block costs a page fault per 4 KiB touched, a kept one none. Kept
/// blocks only fill the room below the most that large blocks in use have
/// taken, plus an eighth (at least 64 MiB), which bounds what they add to the
/// peak. Values are not affected: every block is
/// 64-byte aligned, as LibTorch's own.
/// Safe to call more than once; the first call decides.
void use_caching_cpu_allocator(std::size_t cache_bytes);

/// Refuses a new block that would take the blocks in use and kept past
/// `bytes` (0: no limit), the small ones (under 1 MiB, malloc's) counted in
/// aggregate by their usable size: LibTorch then raises "can't allocate
/// memory ... memory budget" naming `limited_by`, which the job reports with
/// exit 3. Set once a job knows its budget, before the model is read, so that
/// a forward pass that outgrows a cgroup's limit fails in words instead of
/// being killed by the kernel. Has no effect when the caching allocator is
/// not in use (PEVIS_CPU_CACHE=0).
void limit_cpu_allocations(std::size_t bytes, const std::string& limited_by);

/// Frees the kept blocks and keeps no more: called once the forward passes
/// are done, so that blocks of a shape no later step asks for do not sit
/// beside the copies that figures and data files are made of.
void stop_keeping_cpu_blocks();

/// What the allocator did: blocks handed out again, and new large ones.
struct CpuAllocatorCounts {
  std::size_t reused = 0;
  std::size_t fresh = 0;
  std::size_t cached_bytes = 0;
};
CpuAllocatorCounts cpu_allocator_counts();

}  // namespace pevis
