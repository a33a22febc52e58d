#pragma once

#include <stdexcept>
#include <string>

namespace pevis {

/// The documented process exit codes. Their numbers are part of the interface
/// (README, "Exit codes") and never change.
enum class ExitCode : int {
  kSuccess = 0,
  kInternal = 1,     ///< a bug in pevis: please report it
  kUsage = 2,        ///< the command line cannot be understood
  kBadInput = 3,     ///< a file or value pevis cannot use
  kOutput = 4,       ///< cannot write output, or gnuplot is missing or failed
  kCheckFailed = 5,  ///< a check the user asked for did not pass
};

/// The one error type pevis throws. It renders as a single line:
/// `<what> : <why> (<what to do>)`; `main` prefixes `pevis: `.
class Error : public std::runtime_error {
 public:
  /// `what` names the thing (a file, an option), `why` says what is wrong and
  /// `todo` what the user can do; `todo` may be empty.
  Error(ExitCode code, std::string what, std::string why, std::string todo = {});

  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// Shorthands for the common kinds.
Error bad_input(std::string what, std::string why, std::string todo = {});
Error output_error(std::string what, std::string why, std::string todo = {});

/// Replaces newlines and other control characters by spaces, so a message
/// built from file contents or user text stays one line; shows C1 controls
/// and the characters that reorder or hide text (U+202E, U+2066, U+200B,
/// ...) as `⟨U+202E⟩`, and a byte that is not UTF-8 as `?`, so that no text
/// from a model steers the user's terminal. Every pevis::Error is made so.
std::string one_line(const std::string& text);

/// The first line of `text` that holds more than blanks, made one line as
/// `one_line` does: LibTorch's messages may start with a newline, and the
/// line after it is the one that says what went wrong. "" when there is none.
std::string first_line(const std::string& text);

}  // namespace pevis
