#include "engine/gate.hpp"

namespace promote {

const char* to_string(Verdict::Status status) {
  switch (status) {
    case Verdict::Status::pass: return "pass";
    case Verdict::Status::warn: return "warn";
    case Verdict::Status::fail: return "fail";
    case Verdict::Status::pending: return "pending";
    case Verdict::Status::error: return "error";
  }
  return "error";
}

}  // namespace promote
