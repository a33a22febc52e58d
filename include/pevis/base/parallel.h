#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <vector>

namespace pevis {

/// Calls fn(0) ... fn(n - 1), spread over the cores (at most four threads),
/// and returns what each call threw: a null pointer where it returned.
std::vector<std::exception_ptr> for_each_index(std::size_t n, const std::function<void(std::size_t)>& fn);

/// Rethrows the first exception of `failures`, if any.
void rethrow_first(const std::vector<std::exception_ptr>& failures);

}  // namespace pevis
