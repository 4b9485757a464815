#pragma once
// The one error convention of promote.
//
// A failure caused by the outside world (a file, a network, a repository, the user's
// input) is a value: `Result<T>` holds either a T or an `Error`. An `Error` has a kind,
// which decides the exit code, and a message a person can act on; messages about a
// file position read `FILE:LINE:COL: what`. Where a coroutine or a library makes
// throwing the natural path, `Exception` carries the same `Error`; `Result::value()`
// throws it. Library exceptions are translated inside the wrapper that owns the library.

#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>

namespace promote {

/// What went wrong, coarsely; each kind maps to one exit code (design.md).
enum class ErrorKind {
  usage,     ///< bad command line (exit 2)
  config,    ///< bad pipeline file or gate configuration (exit 2)
  input,     ///< an input file could not be read or parsed (exit 4)
  git,       ///< a repository operation failed (exit 4)
  http,      ///< a network call failed (exit 4)
  conflict,  ///< someone else changed what we were about to change (exit 4)
  internal,  ///< a bug in promote (exit 4)
};

/// An error with its kind and its message.
struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
};

/// Exit code for an error kind: 2 for usage and configuration, 4 for the rest.
int exit_code(ErrorKind kind);

/// Name of an error kind, as it appears in JSON output ("config", "git", ...).
const char* to_string(ErrorKind kind);

/// The exception that carries an `Error` where throwing is the natural path.
class Exception : public std::runtime_error {
 public:
  explicit Exception(Error error)
      : std::runtime_error(error.message), m_error(std::move(error)) {}
  const Error& error() const noexcept { return m_error; }

 private:
  Error m_error;
};

/// A value or an `Error`.
template <class T>
using Result = boost::system::result<T, Error>;

/// Builds an error of a kind with a message.
inline Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message)};
}

/// Found by `boost::system::result<T, Error>::value()` through ADL: throws `Exception`.
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location);

/// A position in a text file, 1-based; formats as `FILE:LINE:COL`.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  std::string to_string() const;
};

}  // namespace promote
