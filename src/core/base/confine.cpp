#include "pevis/base/confine.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "pevis/base/error.h"

namespace pevis {
namespace {

// The kernel's interface (include/uapi/linux/landlock.h), written out so that
// pevis builds with older kernel headers and still uses what a newer kernel
// offers. The system call numbers are the same on every architecture.
constexpr long kCreateRuleset = 444, kAddRule = 445, kRestrictSelf = 446;
constexpr std::uint32_t kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;

enum : std::uint64_t {
  kExecute = 1ull << 0, kWriteFile = 1ull << 1, kReadFile = 1ull << 2, kReadDir = 1ull << 3, kRemoveDir = 1ull << 4,
  kRemoveFile = 1ull << 5, kMakeChar = 1ull << 6, kMakeDir = 1ull << 7, kMakeReg = 1ull << 8, kMakeSock = 1ull << 9,
  kMakeFifo = 1ull << 10, kMakeBlock = 1ull << 11, kMakeSym = 1ull << 12,
  kRefer = 1ull << 13,     // ABI 2
  kTruncate = 1ull << 14,  // ABI 3
  kIoctlDev = 1ull << 15,  // ABI 5
};
enum : std::uint64_t { kBindTcp = 1ull << 0, kConnectTcp = 1ull << 1 };                  // ABI 4
enum : std::uint64_t { kScopeAbstractUnixSocket = 1ull << 0, kScopeSignal = 1ull << 1 };  // ABI 6

struct RulesetAttr {
  std::uint64_t handled_access_fs = 0;
  std::uint64_t handled_access_net = 0;  // ABI 4
  std::uint64_t scoped = 0;              // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
};

constexpr std::uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void refused(const std::string& what, int error) {
  throw Error(ExitCode::kInternal, "Landlock", what + ": " + std::strerror(error),
              "pevis does not run a model half-confined; please report this");
}

// Allows `rights` (limited to what the ruleset handles, and for a file to
// file rights) beneath `path`; a path that does not exist is skipped.
void allow(int ruleset, const std::string& path, std::uint64_t rights, std::uint64_t handled) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return;
  const Fd guard(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return;
  // A pipe or socket (`--input <(echo 3 1 4)`) is no file-system object:
  // Landlock takes no rule for it, and does not restrict it.
  if (S_ISFIFO(info.st_mode) || S_ISSOCK(info.st_mode)) return;
  if (!S_ISDIR(info.st_mode)) rights &= kFileRights;
  PathBeneathAttr rule{rights & handled, fd};
  if (rule.allowed_access == 0) return;
  if (::syscall(kAddRule, ruleset, kRulePathBeneath, &rule, 0) != 0) refused("cannot add the rule for " + path, errno);
}

}  // namespace

Confinement system_confinement() {
  Confinement box;
  box.read = {"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
              "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/gnuplot",
              "/etc/localtime", "/var/cache/fontconfig", "/proc/self", "/proc/meminfo", "/proc/cpuinfo",
              "/proc/stat", "/sys/fs/cgroup", "/sys/devices/system/cpu", "/sys/devices/system/node",
              "/dev/urandom", "/dev/null"};
  box.write = {"/dev/null"};
  return box;
}

std::string confine(const Confinement& box) {
  const long abi = ::syscall(kCreateRuleset, nullptr, 0, kCreateRulesetVersion);
  if (abi < 1) {
    return errno == EOPNOTSUPP ? "no Landlock confinement: Landlock is disabled in this kernel"
                               : "no Landlock confinement: this kernel does not offer Landlock";
  }
  RulesetAttr attr;
  attr.handled_access_fs = kExecute | kWriteFile | kReadFile | kReadDir | kRemoveDir | kRemoveFile | kMakeChar |
                           kMakeDir | kMakeReg | kMakeSock | kMakeFifo | kMakeBlock | kMakeSym;
  std::size_t size = sizeof(std::uint64_t);
  if (abi >= 2) attr.handled_access_fs |= kRefer;
  if (abi >= 3) attr.handled_access_fs |= kTruncate;
  if (abi >= 5) attr.handled_access_fs |= kIoctlDev;
  if (abi >= 4) {
    attr.handled_access_net = kBindTcp | kConnectTcp;
    size = 2 * sizeof(std::uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    size = sizeof(RulesetAttr);
  }
  const int ruleset = static_cast<int>(::syscall(kCreateRuleset, &attr, size, 0));
  if (ruleset < 0) refused("cannot make a ruleset", errno);
  const Fd guard(ruleset);
  const std::uint64_t handled = attr.handled_access_fs;
  const std::uint64_t read = kReadFile | kReadDir;
  const std::uint64_t write = read | kWriteFile | kTruncate | kRemoveDir | kRemoveFile | kMakeDir | kMakeReg | kRefer;
  for (const auto& path : box.read) allow(ruleset, path, read, handled);
  for (const auto& path : box.execute) allow(ruleset, path, kReadFile | kExecute, handled);
  for (const auto& path : box.write) allow(ruleset, path, write, handled);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) refused("cannot set no_new_privs", errno);
  if (::syscall(kRestrictSelf, ruleset, 0) != 0) refused("cannot confine the process", errno);
  std::string text = "Landlock ABI " + std::to_string(abi) + ": reads only the inputs and the system's libraries, "
                     "writes only its output folder or file, executes only gnuplot";
  if (abi >= 4) text += ", no TCP";
  if (abi >= 6) text += ", no signals or abstract sockets outside pevis";
  return text;
}

}  // namespace pevis
