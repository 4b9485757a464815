#include "tests/support/support.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>

namespace promote::test {

std::optional<fs::path> corpus_dir() {
  if (const char* env = std::getenv("PROMOTE_CORPUS"); env != nullptr && *env != '\0') {
    if (fs::is_directory(env)) {
      return fs::path(env);
    }
    return std::nullopt;
  }
  const fs::path beside = fs::path(PROMOTE_SOURCE_DIR) / ".." / "shared" / "corpus";
  if (fs::is_directory(beside)) {
    return fs::weakly_canonical(beside);
  }
  return std::nullopt;
}

bool has_corpus() {
  static const bool found = [] {
    const bool here = corpus_dir().has_value();
    if (!here) {
      // Runs before main (doctest::skip decorators): stdio, not iostreams.
      std::fputs("note: corpus not found ($PROMOTE_CORPUS or ../shared/corpus); "
                 "the corpus cases are skipped\n", stderr);
    }
    return here;
  }();
  return found;
}

bool has_program(const std::string& name) {
  static std::map<std::string, bool> known;
  if (auto it = known.find(name); it != known.end()) {
    return it->second;
  }
  bool found = false;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) {
        found = true;
        break;
      }
    }
  }
  if (!found) {
    std::fprintf(stderr, "note: %s is not on PATH; the cases that need it are skipped\n",
                 name.c_str());
  }
  known[name] = found;
  return found;
}

bool has_python_jsonschema() {
  static const bool found = [] {
    const bool ok = fs::exists("/usr/bin/python3") &&
                    run({"/usr/bin/python3", "-c", "import jsonschema, yaml"}).exit_code == 0;
    if (!ok) {
      std::fputs("note: /usr/bin/python3 cannot import jsonschema and yaml (python3-jsonschema, "
                 "python3-yaml); the schema cases are skipped\n", stderr);
    }
    return ok;
  }();
  return found;
}

TempDir::TempDir() {
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate =
        fs::temp_directory_path() / ("promote-test-" + std::to_string(random()));
    std::error_code ec;
    if (fs::create_directory(candidate, ec)) {
      m_path = fs::canonical(candidate);
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(m_path, ec);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_text(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path());
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

CommandResult run(const std::vector<std::string>& argv, const fs::path& cwd,
                  const std::map<std::string, std::string>& env, const std::string& input) {
  TempDir scratch;
  const fs::path in_path = scratch / "stdin";
  const fs::path out_path = scratch / "stdout";
  const fs::path err_path = scratch / "stderr";
  write_text(in_path, input);
  // Everything the child needs is made before the fork: a child of a process with threads may
  // not allocate (another thread may have held the allocator's lock at the fork, and the child
  // then waits for it forever), and setenv allocates.
  std::vector<std::string> environment;
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));
    if (env.find(name) == env.end()) {
      environment.push_back(text);
    }
  }
  for (const auto& [name, value] : env) {
    if (!value.empty()) {
      environment.push_back(name + "=" + value);
    }
    if (name == "PATH") {
      path = value;
    }
  }
  std::string program = argv.at(0);
  if (program.find('/') == std::string::npos) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) {
        program = (fs::path(dir) / program).string();
        break;
      }
    }
  }
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : environment) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    const int in_fd = ::open(in_path.c_str(), O_RDONLY);
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      ::_exit(126);
    }
    ::execve(program.c_str(), args.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw std::runtime_error("waitpid failed");
    }
  }
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

std::string sh(const std::string& script, const fs::path& cwd) {
  const CommandResult result = run({"bash", "-euo", "pipefail", "-c", script}, cwd);
  INFO("script: " << script << "\nstderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

fs::path promote_binary() { return PROMOTE_BINARY; }

bool has_prometheus() {
  // Both checks run so that each says why the cases are skipped.
  const bool prometheus = has_program("prometheus");
  const bool pushgateway = has_program("prometheus-pushgateway");
  return prometheus && pushgateway;
}

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : m_name(std::move(name)) {
  if (const char* old = std::getenv(m_name.c_str())) {
    m_old = old;
  }
  if (value) {
    ::setenv(m_name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(m_name.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (m_old) {
    ::setenv(m_name.c_str(), m_old->c_str(), 1);
  } else {
    ::unsetenv(m_name.c_str());
  }
}

}  // namespace promote::test
