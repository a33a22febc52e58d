// The one file that knows every format: the reader registry and load_model.
#include "pevis/io/load.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "pevis/base/error.h"
#include "pevis/io/builtin_info.h"
#include "pevis/operators/operator_guards.h"
#include "pevis/io/builtins.h"
#include "pevis/io/checkpoint.h"
#include "pevis/io/exported_program.h"
#include "pevis/io/folder.h"
#include "pevis/io/safetensors.h"
#include "pevis/io/torchscript.h"

namespace pevis {
namespace {

// The path looked at once: a folder, or a file's size, first bytes and zip
// directory. A path that is no file is left for the readers of names
// (builtin:) and, failing those, for the error of opening it.
Probe probe(const std::string& path) {
  Probe p;
  p.path = path;
  struct stat info {};
  if (path.rfind(kBuiltinPrefix, 0) == 0 || ::stat(path.c_str(), &info) != 0) return p;
  if (S_ISDIR(info.st_mode)) {
    p.folder = true;
    return p;
  }
  p.file = open_file(path);
  p.size = p.file->size();
  p.head = p.file->read_string(0, std::min<std::uint64_t>(p.size, 16));
  if (p.size > 0 && is_zip_head(p.head)) p.zip = open_pytorch_archive(p.file);
  return p;
}

Model refuse(const Probe& p, const std::string& what, const std::string& todo) { throw bad_input(p.path, what, todo); }

const std::vector<Reader>& registry() {
  static const std::vector<Reader> list = {
      {"built-in model",
       [](const Probe& p) { return p.path.rfind(kBuiltinPrefix, 0) == 0; },
       [](const Probe& p) { return load_builtin(p.path.substr(std::strlen(kBuiltinPrefix))); }},
      {"Hugging Face folder or index of shards",
       [](const Probe& p) { return p.folder || (p.file && is_index_head(p.head, p.size)); },
       [](const Probe& p) { return read_folder(p.path, &load_model); }},
      {"empty file",
       [](const Probe& p) { return p.file && p.size == 0; },
       [](const Probe& p) { return refuse(p, "the file is empty", "give a model file"); }},
      {"torch.export program",
       [](const Probe& p) { return p.zip && is_exported_program(*p.zip); },
       [](const Probe& p) { return read_exported(*p.zip, p.path); }},
      {"TorchScript",
       [](const Probe& p) { return p.zip && is_torchscript_archive(*p.zip); },
       [](const Probe& p) {
         check_torchscript_sources(*p.zip, p.path);
         check_torchscript_pickles(*p.zip, p.path);
         return read_torchscript(p.file, p.path);
       }},
      {"PyTorch checkpoint",
       [](const Probe& p) { return p.zip && is_checkpoint_archive(*p.zip); },
       [](const Probe& p) { return read_checkpoint_archive(p.zip, p.path); }},
      {"other zip archive",
       [](const Probe& p) { return p.zip != nullptr; },
       [](const Probe& p) {
         return refuse(p, "a zip archive, but not one PyTorch writes (it has no data.pkl)",
                       "give a file written by torch.save or torch.jit.save");
       }},
      {"legacy PyTorch checkpoint",
       [](const Probe& p) { return is_legacy_checkpoint_head(p.head); },
       [](const Probe& p) {
         return refuse(p, "a checkpoint in the legacy format of PyTorch before 1.6, which pevis does not read",
                       "load it in Python and save it again with torch.save(obj, path)");
       }},
      {"safetensors",
       [](const Probe& p) { return p.file && is_safetensors_head(p.head); },
       [](const Probe& p) { return read_safetensors(p.file); }},
      {"Python pickle",
       [](const Probe& p) { return is_pickle_head(p.head); },
       [](const Probe& p) {
         return refuse(p, "a bare Python pickle, not a PyTorch model file",
                       "save the model with torch.save(model.state_dict(), path) or torch.jit.save");
       }},
  };
  return list;
}

// The model of the first reader that claims the path; its code, if any, not
// yet checked.
Model read_model(const std::string& path) {
  const Probe p = probe(path);
  for (const Reader& reader : registry()) {
    if (reader.claims(p)) return reader.read(p);
  }
  if (!p.file && !p.folder) open_file(path);  // says why the path cannot be read
  throw bad_input(path, "not a model file pevis knows (TorchScript, torch.export, torch.save checkpoint, safetensors, or an index of shards)",
                  "check the path; pevis tells formats by their content, not their name");
}

}  // namespace

const std::vector<Reader>& readers() { return registry(); }

std::vector<OperatorUse> model_operators(const Model& model) {
  if (model.module) return script_operators(*model.module);
  return model.program ? program_operators(exported_graph(model)) : std::vector<OperatorUse>{};
}

Model load_model(const std::string& path) {
  // Before LibTorch reads anything of the model: its code may run at load.
  install_operator_guards();
  Model model = read_model(path);
  check_operators(model_operators(model), model.path);
  return model;
}

}  // namespace pevis
