// TorchScript archives (torch.jit.save): refused before loading where their
// code defines __setstate__, loaded by LibTorch, their operator uses listed
// for the allow-list; and written, by `pevis export`.
#include "pevis/io/torchscript.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <map>
#include <set>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/text.h"
#include "pevis/io/pickle.h"
#include "pevis/operators/added_ops.h"

namespace pevis {
namespace {

// A TorchScript load error, said in one line with what to do.
Error load_error(const std::string& path, const std::string& text) {
  const std::string line = first_line(text);
  const std::string newer = "the file was made by a newer PyTorch than LibTorch " + libtorch_version() +
                            ", which pevis runs on";
  const std::string todo =
      "pevis adds the PyTorch 2.x operators docs/models.md lists; for others, save the weights with "
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

}  // namespace

namespace {

// LibTorch reads the archive through the file pevis opened and checked, not
// by opening its path again.
class CheckedFile : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit CheckedFile(std::shared_ptr<const ByteSource> file) : file_(std::move(file)) {}
  std::size_t size() const override { return static_cast<std::size_t>(file_->size()); }
  std::size_t read(std::uint64_t pos, void* buf, std::size_t n, const char* /*what*/) const override {
    if (pos >= file_->size()) return 0;
    const std::uint64_t count = std::min<std::uint64_t>(n, file_->size() - pos);
    file_->read_at(pos, buf, count);
    return static_cast<std::size_t>(count);
  }

 private:
  std::shared_ptr<const ByteSource> file_;
};

}  // namespace

Model read_torchscript(std::shared_ptr<const ByteSource> file, const std::string& path) {
  Model model;
  model.path = path;
  model.format = "TorchScript";
  model.files.push_back(path);
  // LibTorch reads every tensor of the archive: about the file's size.
  check_memory(static_cast<long double>(file->size()) * 1.1L, path, "loading this TorchScript model",
               "TorchScript files are read whole; save the weights as safetensors to read only what is shown");
  try {
    auto module = std::make_shared<torch::jit::Module>(
        torch::jit::load(std::make_shared<CheckedFile>(std::move(file)), at::Device(at::kCPU)));
    for (const auto& p : module->named_parameters(/*recurse=*/true)) model.tensors.push_back({p.name, p.value, "parameter"});
    for (const auto& b : module->named_buffers(/*recurse=*/true)) model.tensors.push_back({b.name, b.value, "buffer"});
    model.module = std::move(module);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    if (is_out_of_memory(e)) throw out_of_memory("loading the TorchScript model");
    throw load_error(path, e.what_without_backtrace());
  } catch (const std::exception& e) {
    if (is_out_of_memory(e)) throw out_of_memory("loading the TorchScript model");
    throw load_error(path, e.what());
  }
  return model;
}

namespace {

// Finds every operator in a TorchScript module's code.
class ScriptWalk {
 public:
  explicit ScriptWalk(const torch::jit::Module& module) {
    for (const auto& item : module.named_modules()) {
      if (const auto name = item.value.type()->name()) module_path_.emplace(name->qualifiedName(), item.name);
    }
    for (const auto& item : module.named_modules()) {
      for (const auto& method : item.value.get_methods()) function(method.function());
    }
    for (torch::jit::Function* f : module._ivalue()->compilation_unit()->get_functions()) function(*f);
  }

  std::vector<OperatorUse> uses;

 private:
  void function(const torch::jit::Function& f) {
    if (!f.isGraphFunction() || !seen_.insert(&f).second) return;
    graph(*torch::jit::toGraphFunction(f).graph(), place(f.qualname()));
  }

  // "MultiheadAttention.forward of 'layers.0.self_attn'", or the function's name.
  std::string place(const c10::QualifiedName& name) const {
    const auto found = module_path_.find(name.prefix());
    const std::string shortname = c10::QualifiedName(name.prefix()).name() + "." + name.name();
    if (found == module_path_.end()) return "function " + name.qualifiedName();
    return shortname + (found->second.empty() ? " (the model)" : " of '" + found->second + "'");
  }

  void graph(const torch::jit::Graph& g, const std::string& where) { block(*g.block(), where); }

  void block(const torch::jit::Block& b, const std::string& where) {
    for (const torch::jit::Node* node : b.nodes()) {
      const std::string op = node->kind().toQualString();
      if (seen_uses_.insert({op, where}).second) uses.push_back({op, where});
      for (const torch::jit::Block* inner : node->blocks()) block(*inner, where);
      if (node->hasAttribute(c10::attr::Subgraph)) graph(*node->g(c10::attr::Subgraph), where + " (a forked task)");
      if (node->kind() == c10::prim::CallFunction) {
        if (const auto type = node->input(0)->type()->cast<c10::FunctionType>()) function(*type->function());
      } else if (node->kind() == c10::prim::CallMethod) {
        if (const auto type = node->input(0)->type()->cast<c10::ClassType>()) {
          if (torch::jit::Function* m = type->findMethod(node->s(c10::attr::name))) function(*m);
        }
      } else if (node->kind() == c10::prim::Enter || node->kind() == c10::prim::Exit) {
        if (const auto type = node->input(0)->type()->cast<c10::ClassType>()) {
          for (torch::jit::Function* m : type->methods()) function(*m);
        }
      }
    }
  }

  std::map<std::string, std::string> module_path_;  // class -> first module path of that class
  std::set<const torch::jit::Function*> seen_;
  std::set<std::pair<std::string, std::string>> seen_uses_;
};

}  // namespace

std::vector<OperatorUse> script_operators(const torch::jit::Module& module) { return ScriptWalk(module).uses; }

bool is_torchscript_archive(const ZipArchive& zip) {
  return zip.find_suffix("constants.pkl") != nullptr || zip.find_suffix("code/") != nullptr;
}

void check_torchscript_sources(const ZipArchive& zip, const std::string& path) {
  for (const std::string& record : zip.names()) {
    // Every code record, whatever the letter case of its name: LibTorch's
    // lookup of code/__torch__.py finds code/__torch__.PY too.
    const std::string folded = lower_case(record);
    const bool source = folded.find("code/") != std::string::npos && ends_with(folded, ".py");
    // The name anywhere, not only after "def ": the definition may be
    // written with other whitespace or a line continuation between.
    if (!source || zip.read(record).find("__setstate__") == std::string::npos) continue;
    throw bad_input(path,
                  "the TorchScript code in " + one_line(record) +
                      " defines __setstate__, which LibTorch runs while loading the file, before pevis could check it",
                  "pevis does not load such files; save the weights with torch.save(model.state_dict(), path) to see them");
  }
}

void check_torchscript_pickles(const ZipArchive& zip, const std::string& path) {
  // No archive pevis reads holds a pickle this large; reading one would cost its size.
  constexpr std::uint64_t kMostPickleBytes = 256ull << 20;
  for (const std::string& record : zip.names()) {
    const std::string folded = lower_case(record);
    const bool debug = ends_with(folded, ".debug_pkl");
    const bool data = !debug && ends_with(folded, ".pkl");
    if (!debug && !data) continue;
    if (zip.find(record)->size > kMostPickleBytes) {
      throw bad_input(path, "the pickle " + one_line(record) + " is larger than any TorchScript archive's",
                      "the file is damaged or hostile");
    }
    // data.pkl's storages are data/KEY, constants.pkl's constants/KEY,
    // traced_inputs.pkl's traced_inputs/KEY (a trace's example, written
    // without its data, and read by nothing); debug pickles hold none.
    const std::string folder = record.substr(0, record.size() - 4) + "/";
    const bool backed = ends_with(folded, "/data.pkl") || ends_with(folded, "/constants.pkl");
    pickle::StorageLoader load;
    load.check = [&](const pickle::StorageRef& ref) {
      if (debug) {
        throw bad_input(path, "the pickle " + one_line(record) + " refers to tensor data, which source locations never do",
                        "the file is damaged or hostile");
      }
      pickle::storage_record(zip, folder + ref.key, ref, path, backed);
    };
    load.read = [](const pickle::StorageRef&) -> at::Tensor { throw std::logic_error("a checked pickle reads no data"); };
    pickle::check_torchscript_pickle(zip.read(record), load, path + " (" + one_line(record) + ")");
  }
}

void write_torchscript(const Model& model, const std::string& name, const std::string& path) {
  if (!model.module) {
    throw bad_input(name, model.described() + " has no module to export", "export a built-in or a TorchScript model");
  }
  model.module->save(path);
}

}  // namespace pevis
