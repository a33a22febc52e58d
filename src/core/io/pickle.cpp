#include "pevis/io/pickle.h"

#include <ATen/ops/empty.h>

#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/shape_text.h"

namespace pevis::pickle {
namespace {

// The only callables a state_dict pickle needs, and those TorchScript's
// pickles add: its own classes (made with NEWOBJ, filled with BUILD) and
// torch.jit._pickle's helpers, which return their first argument.
enum class Callable {
  kNone, kOrderedDict, kRebuildTensor, kRebuildParameter, kRebuildParameterWithState, kStorageType, kClass, kPickleHelper
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kList, kTuple, kDict, kTensor, kGlobal, kStorage, kMark, kObject };
  Kind kind = Kind::kNone;
  bool boolean = false;
  std::int64_t integer = 0;
  double number = 0;
  std::string text;                                  // string, bytes, storage key
  std::vector<ValuePtr> items;                       // list, tuple
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, in insertion order
  std::shared_ptr<const NamedTensor> tensor;         // tensor, storage (data read later)
  Callable callable = Callable::kNone;               // global
  at::ScalarType dtype = at::kFloat;                 // global of a storage type
};

constexpr std::size_t kMaxStack = 1u << 20;
constexpr std::size_t kMaxMemo = 1u << 20;
constexpr int kMaxDims = 32;
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxLeaves = 1u << 20;

// Modules whose functions can run commands, read files or evaluate code.
bool dangerous_module(const std::string& module) {
  static const std::set<std::string> modules = {
      "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "importlib",
      "pickle", "runpy", "code", "codeop", "ctypes", "pty", "commands", "popen2", "webbrowser", "io", "operator",
      "functools", "types", "marshal", "multiprocessing", "threading", "asyncio", "platform", "tempfile", "pathlib"};
  return modules.count(module.substr(0, module.find('.'))) > 0;
}

class Machine {
 public:
  Machine(std::string_view bytes, const StorageLoader& load, std::string source, bool torchscript = false)
      : bytes_(bytes), load_(load), source_(std::move(source)), torchscript_(torchscript) {}

  // Every value is also held here, so that containers can be emptied one by
  // one at the end: a hostile pickle can nest a million lists, or put a list
  // inside itself, and freeing that by recursion would overflow the stack.
  ~Machine() {
    for (auto& v : all_) {
      v->items.clear();
      v->entries.clear();
    }
  }
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  ValuePtr run() {
    while (true) {
      if (pos_ >= bytes_.size()) fail("the pickle ends without its STOP opcode (the file is truncated)");
      const std::size_t at = pos_;
      const auto op = static_cast<unsigned char>(bytes_[pos_++]);
      if (op == '.') {  // STOP
        if (stack_.size() != 1) fail("the pickle ends with a malformed stack");
        return pop();
      }
      step(op, at);
      if (stack_.size() > kMaxStack) fail("the pickle nests or repeats more than a checkpoint ever does");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw bad_input(source_, why,
                    torchscript_ ? "the TorchScript archive is damaged or hostile: pevis checks its pickles before "
                                   "LibTorch reads them"
                                 : "pevis reads checkpoints saved with torch.save(model.state_dict())");
  }

  ValuePtr make(Value::Kind kind) {
    auto v = std::make_shared<Value>();
    v->kind = kind;
    all_.push_back(v);
    return v;
  }

  // ---- reading the byte stream
  std::string_view take(std::size_t n) {
    if (n > bytes_.size() - pos_) fail("the pickle is cut short (the file is truncated or damaged)");
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::uint64_t unsigned_le(std::size_t n) {
    const std::string_view raw = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(raw[i])) << (8 * i);
    return v;
  }
  std::string take_string(std::uint64_t n) {
    if (n > bytes_.size() - pos_) fail("a string in the pickle runs past the end of the file");
    return std::string(take(static_cast<std::size_t>(n)));
  }
  std::string take_line() {
    const std::size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos || end - pos_ > 256) fail("a global name in the pickle is malformed");
    std::string line(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  // ---- the stack
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.empty() || stack_.back()->kind == Value::Kind::kMark) fail("the pickle pops from an empty stack");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty() || stack_.back()->kind == Value::Kind::kMark) fail("the pickle reads an empty stack");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) fail("the pickle closes a MARK it never opened");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    if (mark > stack_.size()) fail("the pickle's stack is malformed");
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    if (stack_.empty() || stack_.back()->kind != Value::Kind::kMark) fail("the pickle's MARK is malformed");
    stack_.pop_back();
    return items;
  }
  void memo_put(std::uint64_t index) {
    if (index >= kMaxMemo) fail("the pickle's memo index is out of range");
    if (memo_.size() <= index) memo_.resize(index + 1);
    memo_[index] = top();
  }
  ValuePtr memo_get(std::uint64_t index) {
    if (index >= memo_.size() || !memo_[index]) fail("the pickle refers to a memo entry it never stored");
    return memo_[index];
  }

  ValuePtr integer(std::int64_t v) {
    auto out = make(Value::Kind::kInt);
    out->integer = v;
    return out;
  }
  ValuePtr text(Value::Kind kind, std::string s) {
    auto out = make(kind);
    out->text = std::move(s);
    return out;
  }
  ValuePtr sequence(Value::Kind kind, std::vector<ValuePtr> items) {
    auto out = make(kind);
    out->items = std::move(items);
    return out;
  }
  ValuePtr& dict_on_top() {
    ValuePtr& d = top();
    if (d->kind != Value::Kind::kDict) fail("the pickle sets an item on something that is not a dict");
    return d;
  }
  void add_items(ValuePtr& d, std::vector<ValuePtr>& kv) {
    if (kv.size() % 2) fail("the pickle sets a dict item without a value");
    for (std::size_t i = 0; i < kv.size(); i += 2) d->entries.emplace_back(kv[i], kv[i + 1]);
  }

  // ---- globals: resolved to an allowed callable, or refused with a reason
  ValuePtr global(const std::string& module, const std::string& name) {
    auto out = make(Value::Kind::kGlobal);
    const std::string full = module + "." + name;
    static const std::pair<const char*, at::ScalarType> storages[] = {
        {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
        {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
        {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte},
        {"BoolStorage", at::kBool}};
    if (full == "collections.OrderedDict") {
      out->callable = Callable::kOrderedDict;
    } else if (full == "torch._utils._rebuild_tensor_v2") {
      out->callable = Callable::kRebuildTensor;
    } else if (full == "torch._utils._rebuild_parameter") {
      out->callable = Callable::kRebuildParameter;
    } else if (full == "torch._utils._rebuild_parameter_with_state") {
      out->callable = Callable::kRebuildParameterWithState;
    } else if (torchscript_ && (module == "__torch__" || module.rfind("__torch__.", 0) == 0)) {
      out->callable = Callable::kClass;
    } else if (torchscript_ && module == "torch.jit._pickle" &&
               (name == "restore_type_tag" || name == "build_intlist" || name == "build_doublelist" ||
                name == "build_floatlist" || name == "build_boollist" || name == "build_tensorlist" ||
                name == "build_complexlist")) {
      out->callable = Callable::kPickleHelper;
    } else if (module == "torch") {
      for (const auto& [storage, dtype] : storages) {
        if (name == storage) {
          out->callable = Callable::kStorageType;
          out->dtype = dtype;
        }
      }
    }
    if (out->callable != Callable::kNone) return out;
    if (dangerous_module(module)) {
      fail("refused: the pickle asks for " + full + ", which can run commands; a state_dict never needs it, "
           "and pevis never runs code from files");
    }
    if (module == "__main__" || module.rfind("torch.nn", 0) == 0 || (!name.empty() && std::isupper(static_cast<unsigned char>(name[0])))) {
      throw bad_input(source_,
                      "it holds a pickled Python object (" + full + "), as torch.save(model) writes; reading it would "
                      "need that Python code",
                      "save model.state_dict() instead, or torch.jit.script(model).save(...)");
    }
    fail("refused: the pickle asks for " + full + ", which a state_dict does not use");
  }

  // ---- calls of the allowed globals
  std::int64_t as_int(const ValuePtr& v, const char* what) {
    if (v->kind == Value::Kind::kInt) return v->integer;
    if (v->kind == Value::Kind::kBool) return v->boolean;
    fail(std::string("the ") + what + " of a tensor is not a whole number");
  }
  std::vector<std::int64_t> as_ints(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::kTuple && v->kind != Value::Kind::kList) fail(std::string("a tensor's ") + what + " is not a tuple");
    if (v->items.size() > kMaxDims) fail(std::string("a tensor's ") + what + " has too many dimensions");
    std::vector<std::int64_t> out;
    for (const auto& item : v->items) out.push_back(as_int(item, what));
    return out;
  }

  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args) {
    if (args.size() < 4 || args[0]->kind != Value::Kind::kStorage) fail("a tensor in the pickle is malformed");
    const auto storage = args[0]->tensor;
    const std::int64_t offset = as_int(args[1], "offset");
    const auto size = as_ints(args[2], "size");
    const auto stride = as_ints(args[3], "stride");
    if (size.size() != stride.size()) fail("a tensor's size and stride differ in length");
    // The furthest element the view reaches must lie inside the storage.
    if (offset < 0) fail("a tensor has a negative storage offset");
    bool empty = false, overflow = false;
    std::uint64_t last = static_cast<std::uint64_t>(offset);
    for (std::size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0) fail("a tensor has a negative size or stride");
      if (size[i] == 0) empty = true;
      std::uint64_t reach = 0;
      overflow |= __builtin_mul_overflow(static_cast<std::uint64_t>(size[i] ? size[i] - 1 : 0),
                                         static_cast<std::uint64_t>(stride[i]), &reach);
      overflow |= __builtin_add_overflow(last, reach, &last);
    }
    if (!empty && (overflow || last >= static_cast<std::uint64_t>(storage->numel()))) {
      fail("a tensor reaches past the end of its storage (the file is damaged or hostile)");
    }
    // A view may repeat elements (stride 0), but its element count must be a
    // number: no real tensor has 2^48 elements.
    std::uint64_t count = 1;
    for (const auto d : size) {
      if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count) || count > (1ull << 48)) {
        fail("a tensor has more elements than any tensor can (the file is damaged or hostile)");
      }
    }
    auto out = make(Value::Kind::kTensor);
    const at::ScalarType dtype = storage->dtype();
    TensorReader read;
    if (empty) {
      read = [size, dtype]() { return at::empty(size, at::TensorOptions().dtype(dtype)); };
    } else {
      read = [storage, size, stride, offset]() { return storage->tensor().as_strided(size, stride, offset); };
    }
    auto tensor = std::make_shared<NamedTensor>("tensor", dtype, size, std::move(read), "tensor");
    tensor->view_key = storage->name + "@" + std::to_string(offset) + shape_list_text(size) + "/" + shape_list_text(stride);
    out->tensor = std::move(tensor);
    return out;
  }

  ValuePtr call(const ValuePtr& callable, const ValuePtr& args) {
    if (callable->kind != Value::Kind::kGlobal || args->kind != Value::Kind::kTuple) {
      fail("the pickle calls something that is not an allowed function");
    }
    const auto& a = args->items;
    switch (callable->callable) {
      case Callable::kOrderedDict:
        if (!a.empty()) fail("collections.OrderedDict is called with arguments");
        return make(Value::Kind::kDict);
      case Callable::kRebuildTensor:
        return rebuild_tensor(a);
      case Callable::kRebuildParameter:
      case Callable::kRebuildParameterWithState:
        if (a.empty() || a[0]->kind != Value::Kind::kTensor) fail("a parameter in the pickle holds no tensor");
        return a[0];
      case Callable::kPickleHelper:
        if (a.empty()) fail("torch.jit._pickle's helper is called without a value");
        return a[0];
      case Callable::kClass:
        fail("the pickle calls a TorchScript class (objects are made with NEWOBJ)");
      default:
        fail("the pickle calls a storage type as a function");
    }
  }

  ValuePtr persistent_load(const ValuePtr& pid) {
    const auto& p = pid->items;
    if (pid->kind != Value::Kind::kTuple || p.size() < 5 || p[0]->kind != Value::Kind::kString ||
        p[0]->text != "storage" || p[1]->kind != Value::Kind::kGlobal || p[1]->callable != Callable::kStorageType ||
        p[2]->kind != Value::Kind::kString || p[4]->kind != Value::Kind::kInt) {
      fail("a storage reference in the pickle is malformed");
    }
    const std::string& key = p[2]->text;
    if (key.empty() || key.size() > 64 || key.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
      fail("a storage key in the pickle is not a plain name");
    }
    if (p[4]->integer < 0) fail("a storage has a negative size");
    const StorageRef ref{key, p[1]->dtype, p[4]->integer};
    auto cached = storages_.find(key);
    auto out = make(Value::Kind::kStorage);
    if (cached != storages_.end()) {
      out->tensor = cached->second;
    } else {
      load_.check(ref);
      // The tensors outlive the machine: each storage keeps its own copy of the reader.
      TensorReader read = [read = load_.read, ref]() { return read(ref); };
      out->tensor = std::make_shared<const NamedTensor>("data/" + key, ref.dtype, std::vector<std::int64_t>{ref.numel},
                                                        std::move(read), "storage");
      storages_.emplace(key, out->tensor);
    }
    if (out->tensor->dtype() != p[1]->dtype) fail("one storage is read as two different types");
    return out;
  }

  void step(unsigned char op, std::size_t at) {
    switch (op) {
      case 0x80: {  // PROTO
        const auto version = unsigned_le(1);
        if (version < 2 || version > 5) fail("pickle protocol " + std::to_string(version) + " is not one torch.save writes");
        break;
      }
      case 0x95: unsigned_le(8); break;  // FRAME: a size hint only
      case '(':  // MARK
        push(make(Value::Kind::kMark));
        marks_.push_back(stack_.size());
        break;
      case '0': pop(); break;                          // POP
      case '1': pop_to_mark(); break;                  // POP_MARK
      case '2': push(top()); break;                    // DUP
      case 'N': push(make(Value::Kind::kNone)); break;
      case 0x88: case 0x89: {                          // NEWTRUE, NEWFALSE
        auto v = make(Value::Kind::kBool);
        v->boolean = op == 0x88;
        push(v);
        break;
      }
      case 'J': push(integer(static_cast<std::int32_t>(unsigned_le(4)))); break;  // BININT
      case 'K': push(integer(static_cast<std::int64_t>(unsigned_le(1)))); break;  // BININT1
      case 'M': push(integer(static_cast<std::int64_t>(unsigned_le(2)))); break;  // BININT2
      case 0x8a: {                                                                // LONG1
        const auto n = unsigned_le(1);
        if (n > 8) fail("an integer in the pickle is larger than 64 bits");
        std::uint64_t v = n ? unsigned_le(static_cast<std::size_t>(n)) : 0;
        if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n);  // sign-extend
        push(integer(static_cast<std::int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        std::uint64_t bits = 0;
        for (char c : take(8)) bits = (bits << 8) | static_cast<unsigned char>(c);
        auto v = make(Value::Kind::kFloat);
        std::memcpy(&v->number, &bits, sizeof bits);
        push(v);
        break;
      }
      case 'X': push(text(Value::Kind::kString, take_string(unsigned_le(4)))); break;     // BINUNICODE
      case 0x8c: push(text(Value::Kind::kString, take_string(unsigned_le(1)))); break;  // SHORT_BINUNICODE
      case 0x8d: push(text(Value::Kind::kString, take_string(unsigned_le(8)))); break;  // BINUNICODE8
      case 'T': push(text(Value::Kind::kString, take_string(unsigned_le(4)))); break;     // BINSTRING
      case 'U': push(text(Value::Kind::kString, take_string(unsigned_le(1)))); break;     // SHORT_BINSTRING
      case 'B': push(text(Value::Kind::kBytes, take_string(unsigned_le(4)))); break;      // BINBYTES
      case 'C': push(text(Value::Kind::kBytes, take_string(unsigned_le(1)))); break;      // SHORT_BINBYTES
      case ']': push(make(Value::Kind::kList)); break;                                    // EMPTY_LIST
      case ')': push(make(Value::Kind::kTuple)); break;                                   // EMPTY_TUPLE
      case '}': push(make(Value::Kind::kDict)); break;                                    // EMPTY_DICT
      case 'l': push(sequence(Value::Kind::kList, pop_to_mark())); break;                 // LIST
      case 't': push(sequence(Value::Kind::kTuple, pop_to_mark())); break;                // TUPLE
      case 0x85: case 0x86: case 0x87: {                                                  // TUPLE1..3
        std::vector<ValuePtr> items(op - 0x84);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(sequence(Value::Kind::kTuple, std::move(items)));
        break;
      }
      case 'd': {  // DICT
        auto kv = pop_to_mark();
        auto d = make(Value::Kind::kDict);
        add_items(d, kv);
        push(d);
        break;
      }
      case 'a': {  // APPEND
        auto v = pop();
        ValuePtr& list = top();
        if (list->kind != Value::Kind::kList) fail("the pickle appends to something that is not a list");
        list->items.push_back(std::move(v));
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_to_mark();
        ValuePtr& list = top();
        if (list->kind != Value::Kind::kList) fail("the pickle appends to something that is not a list");
        for (auto& item : items) list->items.push_back(std::move(item));
        break;
      }
      case 's': {  // SETITEM
        auto value = pop();
        auto key = pop();
        dict_on_top()->entries.emplace_back(std::move(key), std::move(value));
        break;
      }
      case 'u': {  // SETITEMS
        auto kv = pop_to_mark();
        add_items(dict_on_top(), kv);
        break;
      }
      case 'c': {  // GLOBAL
        const std::string module = take_line();
        const std::string name = take_line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (module->kind != Value::Kind::kString || name->kind != Value::Kind::kString) fail("a global name is malformed");
        push(global(module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        auto args = pop();
        auto callable = pop();
        push(call(callable, args));
        break;
      }
      case 'b': {  // BUILD: state for an OrderedDict (its _metadata), a parameter or a TorchScript object; not needed
        pop();
        const auto kind = top()->kind;
        if (kind != Value::Kind::kDict && kind != Value::Kind::kTensor && kind != Value::Kind::kObject) {
          fail("the pickle builds an object pevis does not know");
        }
        break;
      }
      case 0x81: {  // NEWOBJ: an object of one of the archive's own TorchScript classes
        if (!torchscript_) refuse_opcode(op, at);
        auto args = pop();
        auto cls = pop();
        if (cls->kind != Value::Kind::kGlobal || cls->callable != Callable::kClass ||
            args->kind != Value::Kind::kTuple || !args->items.empty()) {
          fail("the pickle makes an object of something that is not a TorchScript class");
        }
        push(make(Value::Kind::kObject));
        break;
      }
      case 'Q': push(persistent_load(pop())); break;  // BINPERSID
      case 'h': push(memo_get(unsigned_le(1))); break;  // BINGET
      case 'j': push(memo_get(unsigned_le(4))); break;  // LONG_BINGET
      case 'q': memo_put(unsigned_le(1)); break;        // BINPUT
      case 'r': memo_put(unsigned_le(4)); break;        // LONG_BINPUT
      case 0x94: memo_put(memo_next_++); break;         // MEMOIZE
      default: refuse_opcode(op, at);
    }
  }

  [[noreturn]] void refuse_opcode(unsigned char op, std::size_t at) const {
    std::ostringstream why;
    why << "refused: pickle opcode 0x" << std::hex << static_cast<int>(op) << std::dec << " at byte " << at
        << " is not one " << (torchscript_ ? "TorchScript" : "a state_dict") << " uses";
    fail(why.str());
  }

  std::string_view bytes_;
  const StorageLoader& load_;
  std::string source_;
  bool torchscript_;
  std::size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::vector<ValuePtr> memo_;
  std::uint64_t memo_next_ = 0;
  std::map<std::string, std::shared_ptr<const NamedTensor>> storages_;
  std::vector<ValuePtr> all_;
};

std::string leaf_text(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.boolean ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.integer);
    case Value::Kind::kFloat: {
      std::ostringstream out;
      out.precision(17);
      out << v.number;
      return out.str();
    }
    case Value::Kind::kString: return v.text.size() > 200 ? v.text.substr(0, 200) + "..." : v.text;
    case Value::Kind::kBytes: return "<" + std::to_string(v.text.size()) + " bytes>";
    default: return "<object>";
  }
}

class Flattener {
 public:
  Flattener(Contents& out, const std::string& source) : out_(out), source_(source) {}

  void visit(const ValuePtr& v, const std::string& path, int depth) {
    if (depth > kMaxDepth || ++leaves_ > kMaxLeaves) {
      throw bad_input(source_, "the checkpoint nests deeper or holds more entries than pevis reads",
                      "save the model's state_dict on its own");
    }
    const std::string name = path.empty() ? "value" : path;
    switch (v->kind) {
      case Value::Kind::kTensor: {
        NamedTensor tensor = *v->tensor;
        tensor.name = path.empty() ? "tensor" : path;
        out_.tensors.push_back(std::move(tensor));
        break;
      }
      case Value::Kind::kDict:
        for (const auto& [key, value] : v->entries) visit(value, join(path, key_text(*key)), depth + 1);
        break;
      case Value::Kind::kList:
      case Value::Kind::kTuple:
        for (std::size_t i = 0; i < v->items.size(); ++i) visit(v->items[i], join(path, std::to_string(i)), depth + 1);
        break;
      default: out_.metadata.emplace_back(name, leaf_text(*v));
    }
  }

 private:
  static std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
  static std::string key_text(const Value& key) { return key.kind == Value::Kind::kString ? key.text : leaf_text(key); }

  Contents& out_;
  const std::string& source_;
  std::size_t leaves_ = 0;
};

}  // namespace

const ZipArchive::Entry& storage_record(const ZipArchive& zip, const std::string& record, const StorageRef& ref,
                                        const std::string& path, bool backed) {
  const ZipArchive::Entry* entry = zip.find(record);
  // Stored entries are never larger than the file: a declared size beyond
  // it is refused before anything is read or allocated.
  std::uint64_t need = 0;
  const std::uint64_t file_size = zip.source().size();
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(ref.numel), c10::elementSize(ref.dtype), &need) ||
      (backed && need > file_size && (!entry || entry->method == 0))) {
    throw bad_input(path, "a tensor declares " + std::to_string(ref.numel) + " elements, more than the " +
                              std::to_string(file_size) + "-byte file can hold",
                    "the file is damaged or hostile");
  }
  if (!entry) throw bad_input(path, "the archive lacks the tensor data " + one_line(record), "the file is damaged");
  if (backed && need > entry->size) {
    throw bad_input(path, "the tensor data " + one_line(record) + " is shorter than its tensor (" +
                              std::to_string(ref.numel) + " elements)", "the file is damaged or hostile");
  }
  return *entry;
}

void check_torchscript_pickle(std::string_view bytes, const StorageLoader& load, const std::string& source) {
  Machine machine(bytes, load, source, /*torchscript=*/true);
  machine.run();
}

Contents read_pickle(std::string_view bytes, const StorageLoader& load, const std::string& source) {
  Machine machine(bytes, load, source);
  const ValuePtr root = machine.run();
  Contents contents;
  Flattener(contents, source).visit(root, "", 0);
  return contents;
}

}  // namespace pevis::pickle
