#include "pevis/io/model.h"

#include <torch/script.h>

#include <cstring>
#include <algorithm>
#include <sys/stat.h>

#include "pevis/operators/allowed_ops.h"
#include "pevis/base/archive.h"
#include "pevis/io/builtins.h"
#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"
#include "pevis/base/memory.h"
#include "pevis/operators/added_ops.h"
#include "pevis/io/pickle.h"

namespace pevis {
namespace {

// A TorchScript load error, said in one line with what to do.
Error load_error(const std::string& path, const std::string& text) {
  const std::string line = first_line(text);
  const std::string newer = "the file was made by a newer PyTorch than LibTorch " + libtorch_version() +
                            ", which pevis runs on";
  const std::string todo =
      "pevis adds the PyTorch 2.x operators its README lists; for others, save the weights with "
      "torch.save(model.state_dict(), path) to see them, or build pevis on a newer LibTorch";
  const std::string unknown = "Unknown builtin op: ";
  if (const auto at = line.find(unknown); at != std::string::npos) {
    std::string op = line.substr(at + unknown.size());
    while (!op.empty() && (op.back() == '.' || op.back() == ' ')) op.pop_back();
    return bad_input(path, "the model calls the operator " + op + ", which LibTorch " + libtorch_version() +
                               " (the version pevis runs on) lacks: the file was made by a newer PyTorch",
                     todo);
  }
  if (line.find("Arguments for call are not valid") != std::string::npos ||
      line.find("Unknown type name") != std::string::npos || line.find("version") != std::string::npos) {
    return bad_input(path, "the TorchScript code cannot be loaded (" + line + "): " + newer + ", or it is damaged",
                     todo);
  }
  return bad_input(path, "the TorchScript archive cannot be loaded (" + line + ")",
                   "the file may be damaged, or made by a newer PyTorch than " + libtorch_version());
}

Model read_torchscript(const std::string& path, std::uint64_t file_size) {
  Model model;
  model.path = path;
  model.format = "TorchScript";
  model.files.push_back(path);
  // LibTorch reads every tensor of the archive: about the file's size.
  check_memory(static_cast<long double>(file_size) * 1.1L, path, "loading this TorchScript model",
               "TorchScript files are read whole; save the weights as safetensors to read only what is shown");
  try {
    auto module = std::make_shared<torch::jit::Module>(torch::jit::load(path, at::kCPU));
    for (const auto& p : module->named_parameters(/*recurse=*/true)) model.tensors.push_back({p.name, p.value, "parameter"});
    for (const auto& b : module->named_buffers(/*recurse=*/true)) model.tensors.push_back({b.name, b.value, "buffer"});
    model.module = std::move(module);
  } catch (const c10::Error& e) {
    if (is_out_of_memory(e)) throw out_of_memory("loading the TorchScript model");
    throw load_error(path, e.what_without_backtrace());
  } catch (const std::exception& e) {
    if (is_out_of_memory(e)) throw out_of_memory("loading the TorchScript model");
    throw load_error(path, e.what());
  }
  return model;
}

}  // namespace

at::Tensor as_float(const at::Tensor& tensor) { return tensor.to(at::kFloat); }

namespace {

// The file's model, read by the reader its content calls for; its code, if
// any, not yet checked.
Model read_model(const std::string& path) {
  if (path.rfind(kBuiltinPrefix, 0) == 0) return load_builtin(path.substr(std::strlen(kBuiltinPrefix)));
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) return read_folder(path);
  // One open of the file: its first bytes tell the format, and the readers
  // below read from the same source.
  const auto file = open_file(path);
  const std::uint64_t size = file->size();
  const std::string head = file->read_string(0, std::min<std::uint64_t>(size, 16));
  if (is_index_head(head, size)) return read_folder(path);
  if (size == 0) throw bad_input(path, "the file is empty", "give a model file");
  if (head.rfind("PK\x03\x04", 0) == 0) {
    auto zip = open_pytorch_archive(file);
    if (is_exported_program(*zip)) return read_exported(*zip, path);
    if (zip->find_suffix("constants.pkl") || zip->find_suffix("code/")) {
      check_torchscript_sources(*zip, path);
      return read_torchscript(path, size);
    }
    if (zip->find_suffix("data.pkl")) return read_checkpoint_archive(std::move(zip), path);
    throw bad_input(path, "a zip archive, but not one PyTorch writes (it has no data.pkl)",
                    "give a file written by torch.save or torch.jit.save");
  }
  // Python's pickle protocol 2 header followed by torch's magic number: the
  // format torch.save wrote before PyTorch 1.6.
  if (head.rfind("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 0) == 0) {
    throw bad_input(path, "a checkpoint in the legacy format of PyTorch before 1.6, which pevis does not read",
                    "load it in Python and save it again with torch.save(obj, path)");
  }
  if (head.size() >= 9 && head[8] == '{') return read_safetensors(file);
  if (!head.empty() && static_cast<unsigned char>(head[0]) == 0x80) {
    throw bad_input(path, "a bare Python pickle, not a PyTorch model file",
                    "save the model with torch.save(model.state_dict(), path) or torch.jit.save");
  }
  throw bad_input(path, "not a model file pevis knows (TorchScript, torch.export, torch.save checkpoint, safetensors, or an index of shards)",
                  "check the path; pevis tells formats by their content, not their name");
}

}  // namespace

Model load_model(const std::string& path) {
  Model model = read_model(path);
  check_operators(model);
  return model;
}

}  // namespace pevis
