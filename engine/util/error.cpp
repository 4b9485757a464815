#include "engine/error.hpp"

namespace promote {

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage:
    case ErrorKind::config:
      return 2;
    default:
      return 4;
  }
}

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage: return "usage";
    case ErrorKind::config: return "config";
    case ErrorKind::input: return "input";
    case ErrorKind::git: return "git";
    case ErrorKind::http: return "http";
    case ErrorKind::conflict: return "conflict";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw Exception(error);
}

std::string Location::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) {
      out += ':' + std::to_string(column);
    }
  }
  return out;
}

}  // namespace promote
