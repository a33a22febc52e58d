// libFuzzer target: the torch.export reader's graph: the program's JSON is
// checked for depth, parsed and built into a graph (operators looked up and
// checked against the allow-list, values defined before use, arguments
// converted to their schema's kinds).
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/operators/allowed_ops.h"
#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const pevis::ExportedGraph graph =
        pevis::read_exported_graph(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& node : graph.nodes) (void)pevis::operator_allowed(node.op);
  } catch (const pevis::Error&) {
  }
  return 0;
}
