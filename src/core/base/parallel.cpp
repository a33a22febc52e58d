#include "pevis/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace pevis {

std::vector<std::exception_ptr> for_each_index(std::size_t n, const std::function<void(std::size_t)>& fn) {
  std::vector<std::exception_ptr> failures(n);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  };
  const std::size_t threads = std::min<std::size_t>(n, std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
  return failures;
}

void rethrow_first(const std::vector<std::exception_ptr>& failures) {
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

}  // namespace pevis
