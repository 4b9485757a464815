// promote-gate-cosign: a reference gate plugin (exec protocol v1, plugins/PROTOCOL.md).
//
// Passes when every candidate image's digest carries a signature that `cosign verify`
// accepts, with a public key (`key:`) or keyless (`certificate_identity:` and
// `certificate_oidc_issuer:`). An image without a digest, a missing cosign, or a cosign
// failure other than "no matching signatures" is `error`: it could not judge.
//
//   - use: cosign
//     with: { key: cosign.pub }            # relative to the pipeline file's directory
//   - use: cosign
//     with: { certificate_identity: ci@acme.example, certificate_oidc_issuer: https://... }
//
// Optional `cosign:` names the program (default: `cosign` on PATH).

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t k_stderr_limit = 16 << 10;

// Writes the verdict and ends the program; a plugin reports its own failures as `error`.
[[noreturn]] void respond(const std::string& status, const std::string& summary,
                          json details = json::object()) {
  json response = {{"status", status}, {"summary", summary}};
  if (!details.empty()) {
    response["details"] = std::move(details);
  }
  std::cout << response.dump() << '\n' << std::flush;
  std::exit(0);
}

struct Config {
  std::string cosign = "cosign";
  std::optional<std::string> key;
  std::optional<std::string> identity;
  std::optional<std::string> issuer;
};

Config read_config(const json& config) {
  Config out;
  if (config.is_null()) {
    respond("error", "cosign gate needs 'key' or 'certificate_identity' and "
                     "'certificate_oidc_issuer'");
  }
  if (!config.is_object()) {
    respond("error", "cosign gate config must be a mapping");
  }
  for (const auto& [field, value] : config.items()) {
    std::optional<std::string>* target = nullptr;
    if (field == "key") {
      target = &out.key;
    } else if (field == "certificate_identity") {
      target = &out.identity;
    } else if (field == "certificate_oidc_issuer") {
      target = &out.issuer;
    } else if (field != "cosign") {
      respond("error", "cosign gate: unknown field '" + field +
                           "' (expected key, certificate_identity, certificate_oidc_issuer, "
                           "cosign)");
    }
    if (!value.is_string() || value.get<std::string>().empty()) {
      respond("error", "cosign gate: '" + field + "' must be a non-empty string");
    }
    if (target != nullptr) {
      *target = value.get<std::string>();
    } else {
      out.cosign = value.get<std::string>();
    }
  }
  if (out.key && (out.identity || out.issuer)) {
    respond("error", "cosign gate: give either 'key' or 'certificate_identity' and "
                     "'certificate_oidc_issuer', not both");
  }
  if (!out.key && (!out.identity || !out.issuer)) {
    respond("error", "cosign gate needs 'key' or 'certificate_identity' and "
                     "'certificate_oidc_issuer'");
  }
  return out;
}

bool is_executable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// The cosign program: a name is looked up on PATH, a path is taken relative to `dir`.
std::optional<fs::path> find_cosign(const std::string& program, const fs::path& dir) {
  if (program.find('/') != std::string::npos) {
    const fs::path path = fs::path(program).is_absolute() ? fs::path(program) : dir / program;
    return is_executable(path) ? std::optional(path) : std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "";
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::string entry = path.substr(start, end - start);
    start = end + 1;
    if (!entry.empty() && is_executable(fs::path(entry) / program)) {
      return fs::path(entry) / program;
    }
  }
  return std::nullopt;
}

struct Outcome {
  int exit_code = -1;  ///< -1: killed by a signal or could not run
  std::string err;     ///< the last bytes of stderr
  std::string spawn_error;
};

// Runs argv (no shell) with stdin and stdout on /dev/null, capturing stderr.
Outcome run(const std::vector<std::string>& argv) {
  Outcome outcome;
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    outcome.spawn_error = std::strerror(errno);
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(err_pipe[0]);
    outcome.spawn_error = std::strerror(rc);
    return outcome;
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(err_pipe[0], buffer, sizeof buffer);
    if (n > 0) {
      outcome.err.append(buffer, static_cast<std::size_t>(n));
      if (outcome.err.size() > 2 * k_stderr_limit) {
        outcome.err.erase(0, outcome.err.size() - k_stderr_limit);
      }
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) {
    return "";
  }
  const std::size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// Whether cosign's complaint means "checked, and not signed as required" (a fail)
// rather than "could not check" (registry down, bad key file: an error).
bool is_rejection(const std::string& err) {
  for (const char* phrase : {"no matching signatures", "no signatures found",
                             "none of the expected identities matched"}) {
    if (err.find(phrase) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

int main() {
  const std::string input((std::istreambuf_iterator<char>(std::cin)),
                          std::istreambuf_iterator<char>());
  const json request = json::parse(input, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    respond("error", "cosign gate: the request on stdin is not a JSON object");
  }
  if (request.value("protocol", 0) != 1) {
    respond("error", "cosign gate speaks protocol 1, the host sent " +
                         request.value("protocol", json()).dump());
  }
  const json gate = request.value("gate", json::object());
  const Config config = read_config(gate.value("config", json()));
  const json pipeline = request.value("pipeline", json::object());
  const fs::path dir = pipeline.value("dir", std::string("."));
  const json images = request.value("candidate", json::object()).value("images", json::object());
  if (!images.is_object() || images.empty()) {
    respond("error", "the candidate has no images to verify");
  }

  const auto cosign = find_cosign(config.cosign, dir);
  if (!cosign) {
    respond("error", "cosign not found (" + config.cosign +
                         "); install it or set 'cosign:' to its path");
  }
  std::vector<std::string> mode;
  if (config.key) {
    const fs::path key = fs::path(*config.key).is_absolute() ? fs::path(*config.key)
                                                             : dir / *config.key;
    mode = {"--key", key.string()};
  } else {
    mode = {"--certificate-identity", *config.identity, "--certificate-oidc-issuer",
            *config.issuer};
  }

  json results = json::object();
  std::vector<std::string> unsigned_images;
  std::vector<std::string> unchecked;
  for (const auto& [name, image] : images.items()) {
    const std::string digest = image.value("digest", std::string());
    const std::string reference = image.value("reference", std::string());
    if (digest.empty()) {
      results[name] = {{"reference", reference}, {"result", "error"},
                       {"reason", "no digest: cosign verifies a digest, not a tag"}};
      unchecked.push_back(name);
      continue;
    }
    const std::string subject = image.value("repository", std::string()) + "@" + digest;
    std::vector<std::string> argv = {cosign->string(), "verify"};
    argv.insert(argv.end(), mode.begin(), mode.end());
    argv.push_back(subject);
    const Outcome outcome = run(argv);
    json entry = {{"reference", subject}, {"command", argv}};
    if (!outcome.spawn_error.empty()) {
      entry["result"] = "error";
      entry["reason"] = "cannot run " + cosign->string() + ": " + outcome.spawn_error;
      unchecked.push_back(name);
    } else if (outcome.exit_code == 0) {
      entry["result"] = "verified";
    } else {
      const bool rejected = is_rejection(outcome.err);
      entry["result"] = rejected ? "not signed" : "error";
      entry["reason"] = last_line(outcome.err);
      entry["exit_code"] = outcome.exit_code;
      (rejected ? unsigned_images : unchecked).push_back(name);
    }
    results[name] = std::move(entry);
  }

  const auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
      out += (out.empty() ? "" : ", ") + name;
    }
    return out;
  };
  const json details = {{"images", results}};
  if (!unsigned_images.empty()) {
    respond("fail", "no valid signature for " + join(unsigned_images), details);
  }
  if (!unchecked.empty()) {
    const std::string& first = unchecked.front();
    respond("error", "could not verify " + join(unchecked) + " (" + first + ": " +
                         results[first]["reason"].get<std::string>() + ")",
            details);
  }
  respond("pass", "signatures verified for " + std::to_string(images.size()) + " image" +
                      (images.size() == 1 ? "" : "s"),
          details);
}
