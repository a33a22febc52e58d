#include "pevis/base/matrix.h"

namespace pevis {

std::vector<std::string> index_labels(std::size_t count, long long first) {
  std::vector<std::string> labels;
  labels.reserve(count);
  for (std::size_t i = 0; i < count; ++i) labels.push_back(std::to_string(first + static_cast<long long>(i)));
  return labels;
}

}  // namespace pevis
