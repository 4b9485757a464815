// Hostile and malformed input, one table row each, through the real promote binary: every
// file type promote reads (the pipeline, kustomizations, Helm values, manifests, setter
// files, JUnit XML, Trivy/Grype/SARIF JSON, .trivyignore), the HTTP answers of Prometheus
// and webhooks, and image references on the command line. Each row must end with a clear
// error and the right exit code, under an address-space limit and a deadline, and leave
// the working tree, the refs and the history as they were.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/util/hash.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using promote::test::read_text;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::write_text;

constexpr rlim_t k_address_space = rlim_t{1} << 30;  // 1 GiB for each promote run
constexpr unsigned k_deadline_seconds = 30;          // a guard, not a timing target
constexpr std::size_t k_max_message = 16 * 1024;     // what promote prints about one bad input

// ---------------------------------------------------------------------------------------
// Running promote under limits.

struct Bounded {
  int exit_code = -1;      ///< the exit status, or 128 + signal
  std::string out;         ///< stdout, cut at 1 MiB
  std::string output;      ///< stdout and stderr, each cut at 1 MiB
  std::uintmax_t output_size = 0;
  double seconds = 0;
};

std::string read_head(const fs::path& path, std::uintmax_t* size) {
  std::error_code ec;
  *size += fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  std::string text(1 << 20, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// Runs promote with `args` in `cwd` under RLIMIT_AS = 1 GiB and a SIGALRM deadline (which
// survives exec), with a fixed environment.
Bounded run_bounded(const std::vector<std::string>& args, const fs::path& cwd,
                    const fs::path& home) {
  TempDir scratch;
  const std::string out_path = (scratch / "stdout").string();
  const std::string err_path = (scratch / "stderr").string();
  const std::string cwd_path = cwd.string();
  std::vector<std::string> argv = {promote::test::promote_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  // Everything the child needs is made before fork: the test's server threads may hold the
  // allocator's lock at that moment, so the child only calls async-signal-safe functions.
  const std::vector<std::string> removed = {
      "GITHUB_ACTOR=", "GITLAB_USER_LOGIN=", "PROMOTE_HISTORY=", "GITHUB_ACTIONS=", "GITLAB_CI=",
      "CI=", "HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=", "PROMOTE_ACTOR=",
      "NO_COLOR=", "HOME=", "MALLOC_ARENA_MAX="};
  std::vector<std::string> environment = {"PROMOTE_ACTOR=hostile-ci", "NO_COLOR=1",
                                          "HOME=" + home.string(), "MALLOC_ARENA_MAX=2"};
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (std::none_of(removed.begin(), removed.end(),
                     [&](const std::string& name) { return text.starts_with(name); })) {
      environment.emplace_back(text);
    }
  }
  std::vector<char*> arg_pointers;
  for (auto& arg : argv) {
    arg_pointers.push_back(arg.data());
  }
  arg_pointers.push_back(nullptr);
  std::vector<char*> env_pointers;
  for (auto& entry : environment) {
    env_pointers.push_back(entry.data());
  }
  env_pointers.push_back(nullptr);
  const rlimit limit{k_address_space, k_address_space};
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int in_fd = ::open("/dev/null", O_RDONLY);
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::chdir(cwd_path.c_str()) != 0) {
      ::_exit(126);
    }
#ifndef PROMOTE_SANITIZED  // ASan reserves more address space than any cap allows
    ::setrlimit(RLIMIT_AS, &limit);
#else
    (void)limit;
#endif
    ::alarm(k_deadline_seconds);
    ::execve(arg_pointers[0], arg_pointers.data(), env_pointers.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    REQUIRE(errno == EINTR);
  }
  Bounded result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_head(out_path, &result.output_size);
  result.output = result.out + read_head(err_path, &result.output_size);
  return result;
}

// ---------------------------------------------------------------------------------------
// A raw TCP server for answers no well-behaved server gives: slow, endless, never closing.

class RawServer {
 public:
  /// `pause(ms)` waits, and returns false once the server is stopping.
  using Pause = std::function<bool(int)>;
  using Handler = std::function<void(int fd, const Pause& pause)>;

  explicit RawServer(Handler handler) : m_handler(std::move(handler)) {
    REQUIRE(::pipe(m_stop) == 0);
    m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(m_listen >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(m_listen, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(m_listen, 16) == 0);
    socklen_t length = sizeof address;
    ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&address), &length);
    m_port = ntohs(address.sin_port);
    m_accept = std::thread([this] { accept_loop(); });
  }

  ~RawServer() {
    (void)!::write(m_stop[1], "x", 1);
    m_accept.join();
    for (auto& thread : m_connections) {
      thread.join();
    }
    ::close(m_listen);
    ::close(m_stop[0]);
    ::close(m_stop[1]);
  }

  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
  }

 private:
  // Waits up to `ms` for the stop signal; false when it came.
  bool pause(int ms) const {
    pollfd fd{m_stop[0], POLLIN, 0};
    return ::poll(&fd, 1, ms) == 0;
  }

  void accept_loop() {
    for (;;) {
      pollfd fds[2] = {{m_stop[0], POLLIN, 0}, {m_listen, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 || (fds[0].revents & POLLIN) != 0) {
        return;
      }
      const int fd = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      m_connections.emplace_back([this, fd] {
        m_handler(fd, [this](int ms) { return pause(ms); });
        ::close(fd);
      });
    }
  }

  Handler m_handler;
  int m_stop[2] = {-1, -1};
  int m_listen = -1;
  unsigned short m_port = 0;
  std::thread m_accept;
  std::vector<std::thread> m_connections;
};

// Reads a request head (up to 5 s); false when the client went away.
bool read_request(int fd, const RawServer::Pause& pause) {
  std::string head;
  char buffer[4096];
  for (int waited = 0; head.find("\r\n\r\n") == std::string::npos; waited += 10) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        return false;
      }
      head.append(buffer, static_cast<std::size_t>(n));
    } else if (waited > 5000 || !pause(10)) {
      return false;
    }
  }
  return true;
}

bool send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Answers one byte a second, for ever (until the client hangs up or the server stops).
void slow_loris(int fd, const RawServer::Pause& pause) {
  if (!read_request(fd, pause)) {
    return;
  }
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";
  for (std::size_t i = 0;; ++i) {
    if (!send_all(fd, std::string(1, i < reply.size() ? reply[i] : ' ')) || !pause(1000)) {
      return;
    }
  }
}

// A 200 whose JSON body never ends: 800 MB of vector samples, as fast as the client reads.
void endless_body(int fd, const RawServer::Pause& pause) {
  if (!read_request(fd, pause)) {
    return;
  }
  std::string chunk;
  while (chunk.size() < (64 << 10)) {
    chunk += "{\"metric\":{\"pod\":\"api-1\"},\"value\":[1700000000,\"1\"]},";
  }
  if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[")) {
    return;
  }
  for (std::size_t sent = 0; sent < (800u << 20); sent += chunk.size()) {
    if (!send_all(fd, chunk) || !pause(0)) {
      return;
    }
  }
}

// Sends a head that promises 1000 bytes, a few of them, and then holds the connection open.
void never_closes(int fd, const RawServer::Pause& pause) {
  if (!read_request(fd, pause)) {
    return;
  }
  send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
               "{\"status\":");
  while (pause(100)) {
    pollfd p{fd, POLLIN, 0};
    char byte;
    if (::poll(&p, 1, 0) == 1 && ::recv(fd, &byte, 1, 0) <= 0) {
      return;
    }
  }
}

// One header line of 32 MiB.
void huge_header(int fd, const RawServer::Pause& pause) {
  if (!read_request(fd, pause)) {
    return;
  }
  if (!send_all(fd, "HTTP/1.1 200 OK\r\nX-Padding: ")) {
    return;
  }
  const std::string chunk(1 << 16, 'a');
  for (int i = 0; i < 512; ++i) {
    if (!send_all(fd, chunk) || !pause(0)) {
      return;
    }
  }
  send_all(fd, "\r\n\r\n{}");
}

// A 200 whose 15 MiB body opens 15 million JSON arrays.
void deep_json(int fd, const RawServer::Pause& pause) {
  if (!read_request(fd, pause)) {
    return;
  }
  const std::size_t size = 15u << 20;
  if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(size) + "\r\n\r\n")) {
    return;
  }
  const std::string chunk(1 << 20, '[');
  for (std::size_t sent = 0; sent < size && pause(0); sent += chunk.size()) {
    if (!send_all(fd, chunk)) {
      return;
    }
  }
  while (pause(100)) {
  }
}

// Not HTTP at all.
void not_http(int fd, const RawServer::Pause& pause) {
  if (read_request(fd, pause)) {
    send_all(fd, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\nProtocol mismatch.\r\n");
  }
}

// ---------------------------------------------------------------------------------------
// The sandbox: a small GitOps repository with a bare remote, one promotion into dev already
// made (so the history and the refs have something to lose).

const char* k_kustomization_head =
    "apiVersion: kustomize.config.k8s.io/v1beta1\n"
    "kind: Kustomization\n"
    "resources: []\n";

std::string kustomization(const std::string& tag) {
  return std::string(k_kustomization_head) + "images:\n  - name: ghcr.io/acme/api\n    newTag: " + tag +
         "\n";
}

// The pipeline of every row: stage dev (target `dev_target`), stage staging from dev
// (kustomize k8s/staging) with `gates` (list items indented by six spaces).
std::string pipeline(const std::string& dev_target = "{kustomize: k8s/dev}",
                     const std::string& gates = "") {
  return "apiVersion: promote/v1\n"
         "kind: Pipeline\n"
         "metadata: {name: hostile}\n"
         "repository: {url: ., branch: main}\n"
         "images:\n"
         "  - name: api\n"
         "    repository: ghcr.io/acme/api\n"
         "stages:\n"
         "  - name: dev\n"
         "    target: " + dev_target + "\n"
         "  - name: staging\n"
         "    from: dev\n"
         "    target: {kustomize: k8s/staging}\n" +
         (gates.empty() ? std::string("    gates: []\n") : "    gates:\n" + gates);
}

// A gate entry for `pipeline`.
std::string gate(const std::string& use, const std::string& with, const std::string& extra = "") {
  return "      - use: " + use + "\n" + extra + "        with: " + with + "\n";
}

class Sandbox {
 public:
  /// A copy of the template (made once per test run).
  explicit Sandbox(const fs::path& templ) {
    sh("cp -a '" + templ.string() + "/.' '" + m_dir.path().string() + "/'");
  }

  fs::path root() const { return m_dir.path(); }
  fs::path repo() const { return m_dir / "repo"; }
  fs::path outside() const { return m_dir / "outside"; }

  void write(const std::string& path, const std::string& text) const { write_text(repo() / path, text); }
  /// Commits everything in the working tree (targets must be committed to be read).
  void commit() const { sh("git add -A && git commit -q -m 'hostile input'", repo()); }
  void symlink(const fs::path& target, const std::string& link) const {
    fs::create_directories((repo() / link).parent_path());
    fs::create_symlink(target, repo() / link);
  }

 private:
  TempDir m_dir;
};

// Builds the template sandbox: repo/ (pipeline, dev at 1.0.1 promoted once, staging at
// 0.9.0), remote.git, outside/secret.txt (a file no row may read), home/.
void make_template(const fs::path& dir) {
  sh("git init -q --bare -b main remote.git && mkdir repo outside home", dir);
  write_text(dir / "outside/secret.txt", "TOPSECRET-hostile-7f3a\n");
  write_text(dir / "outside/kustomization.yaml", kustomization("6.6.6"));
  write_text(dir / "repo/promote.yaml", pipeline());
  write_text(dir / "repo/k8s/dev/kustomization.yaml", kustomization("1.0.0"));
  write_text(dir / "repo/k8s/staging/kustomization.yaml", kustomization("0.9.0"));
  write_text(dir / "repo/.gitignore", ".promote/\n");
  sh("git init -q -b main && git config user.name 'Hostile CI' && "
     "git config user.email ci@hostile.example && git add -A && git commit -q -m init && "
     "git remote add origin ../remote.git && git push -q -u origin main",
     dir / "repo");
  const Bounded first =
      run_bounded({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.0.1"}, dir / "repo", dir / "home");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
}

// What a row must not change: the files (outside .git; SQLite's -wal and -shm aside), the
// refs and HEAD of the repository and its remote, and the history's rows.
struct Snapshot {
  std::map<std::string, std::string> files;
  std::string refs;
  std::string remote_refs;
  std::string status;
  std::string history;

  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const Sandbox& box) {
  Snapshot shot;
  for (auto it = fs::recursive_directory_iterator(box.root()); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path& path = it->path();
    const std::string relative = fs::relative(path, box.root()).generic_string();
    if (path.filename() == ".git" || relative.starts_with("remote.git") || relative.starts_with("home")) {
      it.disable_recursion_pending();
      continue;
    }
    if (relative.ends_with("-wal") || relative.ends_with("-shm")) {
      continue;
    }
    if (it->is_symlink()) {
      shot.files[relative] = "-> " + fs::read_symlink(path).string();
    } else if (it->is_regular_file()) {
      shot.files[relative] = promote::util::sha256_file(path).value();
    } else if (it->is_directory()) {
      shot.files[relative] = "dir";
    } else {
      shot.files[relative] = "special";
    }
  }
  shot.refs = sh("git for-each-ref && git rev-parse HEAD && git symbolic-ref HEAD", box.repo());
  shot.remote_refs = sh("git --git-dir=remote.git for-each-ref", box.root());
  shot.status = sh("git status --porcelain --ignored", box.repo());
  // Every pipeline's rows: the pipeline file may be the hostile input, and is not read then.
  const Bounded history =
      run_bounded({"history", "--all-pipelines", "--output", "json"}, box.repo(), box.root() / "home");
  const auto rows = nlohmann::json::parse(history.out, nullptr, false);
  REQUIRE(rows.is_array());
  shot.history = std::to_string(history.exit_code) + " " + std::to_string(rows.size());
  return shot;
}

// ---------------------------------------------------------------------------------------
// The rows.

struct Servers {
  RawServer slow{slow_loris};
  RawServer endless{endless_body};
  RawServer holding{never_closes};
  RawServer header{huge_header};
  RawServer garbage{not_http};
  RawServer deep{deep_json};
};

struct Row {
  std::string name;
  std::function<void(const Sandbox&, const Servers&)> setup;
  std::vector<std::string> args;
  int exit_code;
  std::vector<std::string> words;  ///< each must appear in the output
  std::vector<std::string> absent = {"TOPSECRET"};  ///< none may appear
  double max_seconds = k_deadline_seconds;
};

const std::vector<std::string> k_dev_dry = {"--to", "dev", "--image", "api=ghcr.io/acme/api:2.0.0",
                                            "--dry-run"};
const std::vector<std::string> k_staging_dry = {"--to", "staging", "--dry-run"};

std::string repeat(const std::string& text, std::size_t times) {
  std::string out;
  out.reserve(text.size() * times);
  for (std::size_t i = 0; i < times; ++i) {
    out += text;
  }
  return out;
}

// A file of `bytes` bytes: `prefix`, then 'a' up to the size, on one line.
void write_long_line(const fs::path& path, const std::string& prefix, std::size_t bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << prefix;
  const std::string chunk(1 << 20, 'a');
  for (std::size_t written = prefix.size(); written < bytes; written += chunk.size()) {
    out.write(chunk.data(), static_cast<std::streamsize>(std::min(chunk.size(), bytes - written)));
  }
}

// A file of `bytes` bytes: `unit` again and again.
void write_repeated(const fs::path& path, const std::string& unit, std::size_t bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  const std::string chunk = repeat(unit, (1 << 20) / unit.size());
  for (std::size_t written = 0; written < bytes; written += chunk.size()) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
}

// The YAML billion laughs: nine levels of ten aliases each (10^9 leaves when expanded).
std::string yaml_bomb(const std::string& key) {
  std::string text = "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string prev = "*a" + std::to_string(level - 1);
    text += "lol" + std::to_string(level) + ": &a" + std::to_string(level) + " [" +
            repeat(prev + ", ", 9) + prev + "]\n";
  }
  return text + key + ": *a9\n";
}

// The XML billion laughs.
std::string xml_bomb() {
  std::string text = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string prev = level == 1 ? "&lol;" : "&lol" + std::to_string(level - 1) + ";";
    text += " <!ENTITY lol" + std::to_string(level) + " \"" + repeat(prev, 10) + "\">\n";
  }
  return text + "]>\n<testsuite name=\"&lol9;\"><testcase name=\"a\"/></testsuite>\n";
}

const std::string k_bad_utf8 = "\xc3\x28\xff\xfe";

std::string junit_gate(const std::string& path = "reports/junit.xml") {
  return gate("junit", "{path: \"" + path + "\"}");
}
std::string trivy_gate(const std::string& extra = "") {
  return gate("trivy", "{report: reports/trivy.json, max: {critical: 0}" + extra + "}");
}
std::string prometheus_gate(const std::string& url) {
  return gate("prometheus", "{url: \"" + url + "\", query: up, condition: \"> 0\"}", "        timeout: 3s\n");
}
std::string http_gate(const std::string& url, const std::string& extra = "") {
  return gate("http", "{url: \"" + url + "\", timeout: 3s" + extra + "}");
}

const char* k_trivy_ok =
    "{\"SchemaVersion\": 2, \"ArtifactName\": \"api\", \"Results\": []}\n";

std::vector<Row> rows() {
  std::vector<Row> table;
  const auto add = [&](Row row) { table.push_back(std::move(row)); };
  const auto pipeline_only = [](std::string text) {
    return [text](const Sandbox& box, const Servers&) { box.write("promote.yaml", text); };
  };
  const std::vector<std::string> validate = {"validate"};

  // --- the pipeline file -----------------------------------------------------------------
  add({"pipeline truncated inside a flow mapping",
       pipeline_only("apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: hostile\n"), validate, 2,
       {"promote.yaml:", "end of map flow"}});
  add({"pipeline: stages is a number", pipeline_only(pipeline().substr(0, pipeline().find("stages:")) + "stages: 5\n"),
       validate, 2, {"promote.yaml:8:9", "stages"}});
  add({"pipeline: images is a string",
       pipeline_only([] {
         std::string text = pipeline();
         text.replace(text.find("images:\n  - name: api\n    repository: ghcr.io/acme/api\n"),
                      std::string("images:\n  - name: api\n    repository: ghcr.io/acme/api\n").size(),
                      "images: api\n");
         return text;
       }()),
       validate, 2, {"promote.yaml:5:9", "images"}});
  add({"pipeline: 100,000 nested flow sequences",
       pipeline_only(pipeline() + "x: " + std::string(100000, '[') + "\n"), validate, 2,
       {"promote.yaml:", "nests too deeply"}});
  add({"pipeline: 100,000 nested block sequences on one line",
       pipeline_only(pipeline() + "x:\n  " + repeat("- ", 100000) + "a\n"), validate, 2,
       {"promote.yaml:", "nests too deeply"}});
  add({"pipeline: a YAML alias bomb under an unknown field", pipeline_only(pipeline() + yaml_bomb("bomb")),
       validate, 2, {"promote.yaml:", "alias bomb"}});
  add({"pipeline: a YAML alias bomb as a gate's configuration",
       pipeline_only(yaml_bomb("x-bomb").substr(0, yaml_bomb("x-bomb").rfind("x-bomb")) +
                     pipeline("{kustomize: k8s/dev}", gate("approval", "{approvers: *a9}"))),
       validate, 2, {"promote.yaml:"}});
  add({"pipeline: a stray comma where a value starts (yaml-cpp alone loops for ever)",
       pipeline_only(",\n" + pipeline()), validate, 2, {"promote.yaml:1:1", "unexpected character"}});
  add({"pipeline: an alias inside the value it names",
       pipeline_only(pipeline() + "x-loop: &loop [a, *loop]\n"), validate, 2,
       {"promote.yaml:15:", "containing itself"}});
  add({"pipeline: invalid UTF-8 in the image name",
       pipeline_only([] {
         std::string text = pipeline();
         text.replace(text.find("name: api"), 9, "name: api" + k_bad_utf8);
         return text;
       }()),
       validate, 2, {"promote.yaml:6:"}});
  add({"pipeline: invalid UTF-8 in a stage name",
       pipeline_only([] {
         std::string text = pipeline();
         text.replace(text.find("name: dev"), 9, "name: dev" + k_bad_utf8);
         return text;
       }()),
       validate, 2, {"promote.yaml:9:"}});
  add({"pipeline: a NUL byte in a key",
       pipeline_only([] {
         std::string text = pipeline();
         text.replace(text.find("kind"), 4, std::string("ki\0nd", 5));
         return text;
       }()),
       validate, 2, {"promote.yaml:2:"}});
  add({"pipeline: 100 MB on one line",
       [](const Sandbox& box, const Servers&) {
         write_long_line(box.repo() / "promote.yaml", "# ", 100u << 20);
       },
       validate, 2, {"promote.yaml", "too large"}});
  add({"pipeline: an unknown field named by 500 KB",
       pipeline_only(pipeline() + "? " + std::string(500 << 10, 'z') + "\n: 1\n"), validate, 2,
       {"promote.yaml:15:3", "unknown field 'zzz", "(512000 bytes)"}});
  add({"pipeline: an implicit key of 500 KB", pipeline_only(pipeline() + std::string(500 << 10, 'z') + ": 1\n"),
       validate, 2, {"promote.yaml:15:", "illegal map value"}});
  add({"pipeline: a tab in the indentation",
       pipeline_only("apiVersion: promote/v1\nkind: Pipeline\nmetadata:\n\tname: x\n"), validate, 2,
       {"promote.yaml:4:"}});
  add({"pipeline: a target given as ..",
       pipeline_only(pipeline("{kustomize: ../outside}")), validate, 2,
       {"promote.yaml:10:", "leaves the repository"}});
  add({"pipeline: an absolute target", pipeline_only(pipeline("{kustomize: /etc}")), validate, 2,
       {"promote.yaml:10:", "absolute"}});
  add({"pipeline: a target directory that is a symlink out of the repository",
       [](const Sandbox& box, const Servers&) {
         box.symlink(box.outside(), "k8s/out");
         box.write("promote.yaml", pipeline("{kustomize: k8s/out}"));
       },
       validate, 2, {"promote.yaml:10:", "symlink"}});
  add({"pipeline: a kustomization that is a symlink out of the repository",
       [](const Sandbox& box, const Servers&) {
         fs::create_directories(box.repo() / "k8s/linked");
         box.symlink(box.outside() / "kustomization.yaml", "k8s/linked/kustomization.yaml");
         box.write("promote.yaml", pipeline("{kustomize: k8s/linked}"));
         box.commit();
       },
       k_dev_dry, 2, {"k8s/linked/kustomization.yaml: leads out of the repository through a symlink"}});
  add({"pipeline: a kustomization that is a symlink out of the repository, not a dry run",
       [](const Sandbox& box, const Servers&) {
         fs::create_directories(box.repo() / "k8s/linked");
         box.symlink(box.outside() / "kustomization.yaml", "k8s/linked/kustomization.yaml");
         box.write("promote.yaml", pipeline("{kustomize: k8s/linked}"));
         box.commit();
       },
       {"--to", "dev", "--image", "api=ghcr.io/acme/api:2.0.0"}, 2,
       {"k8s/linked/kustomization.yaml: leads out of the repository through a symlink"}});
  add({"pipeline: a values file that is a symlink to /dev/zero",
       [](const Sandbox& box, const Servers&) {
         box.symlink("/dev/zero", "chart/values.yaml");
         box.write("promote.yaml",
                   pipeline("{helm: [{file: chart/values.yaml, images: {api: {tag: image.tag}}}]}"));
         box.commit();
       },
       k_dev_dry, 2, {"chart/values.yaml", "symlink"}});

  // --- kustomization.yaml -------------------------------------------------------------------
  const auto dev_kustomization = [](std::string text) {
    return [text](const Sandbox& box, const Servers&) {
      box.write("k8s/dev/kustomization.yaml", text);
      box.commit();
    };
  };
  add({"kustomization truncated in a quoted scalar",
       dev_kustomization(std::string(k_kustomization_head) + "images:\n  - name: ghcr.io/acme/api\n    newTag: \"1.0"),
       k_dev_dry, 4, {"k8s/dev/kustomization.yaml:6:17", "EOF"}});
  add({"kustomization: images is a number", dev_kustomization(std::string(k_kustomization_head) + "images: 5\n"),
       k_dev_dry, 4, {"k8s/dev/kustomization.yaml:4:9", "images"}});
  add({"kustomization: newTag is a mapping",
       dev_kustomization(std::string(k_kustomization_head) +
                         "images:\n  - name: ghcr.io/acme/api\n    newTag: {a: b}\n"),
       k_dev_dry, 4, {"k8s/dev/kustomization.yaml:6:13", "newTag"}});
  add({"kustomization: 100,000 nested flow mappings",
       dev_kustomization(kustomization("1.0.1") + "x: " + repeat("{a: ", 100000) + "\n"), k_dev_dry, 4,
       {"k8s/dev/kustomization.yaml:", "nests too deeply"}});
  add({"kustomization: a YAML alias bomb beside the images",
       dev_kustomization(kustomization("1.0.1") + yaml_bomb("labels")), k_dev_dry, 4,
       {"k8s/dev/kustomization.yaml:", "alias"}});
  add({"kustomization: an alias inside the value it names",
       dev_kustomization(kustomization("1.0.1") + "labels: &loop {a: *loop}\n"), k_dev_dry, 4,
       {"k8s/dev/kustomization.yaml:7:19", "containing itself"}});
  add({"kustomization: a stray comma", dev_kustomization(kustomization("1.0.1") + ",\n"), k_dev_dry, 4,
       {"k8s/dev/kustomization.yaml:7:1"}});
  add({"kustomization: invalid UTF-8 in the tag, read as the source stage",
       dev_kustomization(kustomization("1.0" + k_bad_utf8)), k_staging_dry, 4,
       {"k8s/dev/kustomization.yaml:5:5", "invalid image reference", "\\xff"}});
  add({"kustomization: a NUL byte", dev_kustomization(kustomization("1.0.1") + std::string("x: a\0b\n", 7)),
       k_dev_dry, 4, {"k8s/dev/kustomization.yaml:7:5", "NUL"}});
  add({"kustomization: 100 MB on one line",
       [](const Sandbox& box, const Servers&) {
         write_long_line(box.repo() / "k8s/dev/kustomization.yaml", kustomization("1.0.1") + "# ", 100u << 20);
         box.commit();
       },
       k_dev_dry, 4, {"k8s/dev/kustomization.yaml", "too large"}});
  add({"kustomization: a directory in its place",
       [](const Sandbox& box, const Servers&) {
         fs::remove(box.repo() / "k8s/dev/kustomization.yaml");
         box.write("k8s/dev/kustomization.yaml/keep", "x\n");
         box.commit();
       },
       k_dev_dry, 4, {"no kustomization file", "k8s/dev"}});
  add({"kustomization: a tag with shell metacharacters, read as the source stage",
       dev_kustomization(kustomization("\"1.0;rm -rf /\"")), k_staging_dry, 4,
       {"k8s/dev/kustomization.yaml:5:5", "1.0;rm -rf /", "shell metacharacters"}});

  // --- Helm values --------------------------------------------------------------------------
  const auto helm = [](std::string values) {
    return [values](const Sandbox& box, const Servers&) {
      box.write("chart/values.yaml", values);
      box.write("promote.yaml",
                pipeline("{helm: [{file: chart/values.yaml, images: {api: {repository: image.repository, "
                         "tag: image.tag}}}]}"));
      box.commit();
    };
  };
  add({"values truncated in a flow mapping", helm("image: {repository: ghcr.io/acme/api, tag: 1.0"), k_dev_dry, 4,
       {"chart/values.yaml:", "end of map flow"}});
  add({"values: the tag is a sequence", helm("image:\n  repository: ghcr.io/acme/api\n  tag: [1, 2]\n"),
       k_dev_dry, 4, {"chart/values.yaml:3:8", "image.tag"}});
  add({"values: image is a sequence", helm("image:\n  - repository: ghcr.io/acme/api\n"), k_dev_dry, 4,
       {"chart/values.yaml:2:", "image"}});
  add({"values: 100,000 nested block sequences",
       helm("image:\n  repository: ghcr.io/acme/api\n  tag: 1.0.0\nx:\n  " + repeat("- ", 100000) + "a\n"),
       k_dev_dry, 4, {"chart/values.yaml:", "nests too deeply"}});
  add({"values: a YAML alias bomb beside the image",
       helm("image:\n  repository: ghcr.io/acme/api\n  tag: 1.0.0\n" + yaml_bomb("extra")), k_dev_dry, 4,
       {"chart/values.yaml:", "alias"}});
  add({"values: invalid UTF-8 in the tag",
       helm("image:\n  repository: ghcr.io/acme/api\n  tag: 1.0" + k_bad_utf8 + "\n"), k_staging_dry, 4,
       {"chart/values.yaml:2:15", "invalid image reference"}});

  // --- manifests ----------------------------------------------------------------------------
  const auto manifest = [](std::string text) {
    return [text](const Sandbox& box, const Servers&) {
      box.write("deploy/api.yaml", text);
      box.write("promote.yaml", pipeline("{manifests: deploy}"));
      box.commit();
    };
  };
  const std::string deployment_head =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n";
  add({"manifest truncated in a sequence",
       manifest(deployment_head + "      containers: [{name: api, image: \"ghcr.io/acme/api:1.0.0"), k_dev_dry, 4,
       {"deploy/api.yaml:"}});
  add({"manifest: containers is a string", manifest(deployment_head + "      containers: api\n"), k_dev_dry, 4,
       {"deploy/api.yaml:7:19", "containers"}});
  add({"manifest: an image with shell metacharacters, read as the source stage",
       manifest(deployment_head + "      containers:\n        - name: api\n          image: \"ghcr.io/acme/api:1.0$(id)\"\n"),
       k_staging_dry, 4, {"deploy/api.yaml:9:", "ghcr.io/acme/api:1.0$(id)"}});
  add({"manifest: 100,000 nested flow sequences",
       manifest(deployment_head + "      containers: [{name: api, image: \"ghcr.io/acme/api:1.0.0\"}]\n---\nx: " +
                std::string(100000, '[') + "\n"),
       k_dev_dry, 4, {"deploy/api.yaml:", "nests too deeply"}});
  add({"manifest: a YAML alias bomb in a second document",
       manifest(deployment_head + "      containers: [{name: api, image: \"ghcr.io/acme/api:1.0.0\"}]\n---\n" +
                yaml_bomb("bomb")),
       k_dev_dry, 4, {"deploy/api.yaml:", "alias"}});
  add({"manifest: a file that is a symlink out of the repository",
       [](const Sandbox& box, const Servers&) {
         write_text(box.outside() / "deploy.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: ghcr.io/acme/api:6.6.6}]\n");
         box.symlink(box.outside() / "deploy.yaml", "deploy/out.yaml");
         box.write("promote.yaml", pipeline("{manifests: deploy}"));
         box.commit();
       },
       k_dev_dry, 2, {"promote.yaml:10:", "has no place for image 'api'"}});
  add({"manifest: 100 MB on one line",
       [](const Sandbox& box, const Servers&) {
         write_long_line(box.repo() / "deploy/api.yaml", "# ", 100u << 20);
         box.write("promote.yaml", pipeline("{manifests: deploy}"));
         box.commit();
       },
       k_dev_dry, 4, {"deploy/api.yaml", "too large"}});

  // --- setter-marked files -------------------------------------------------------------------
  const auto setters = [](std::string text) {
    return [text](const Sandbox& box, const Servers&) {
      box.write("config/dev.yaml", text);
      box.write("promote.yaml", pipeline("{setters: [config/dev.yaml]}"));
      box.commit();
    };
  };
  add({"setters: a marker on a mapping",
       setters("image: # {\"$imagepolicy\": \"flux-system:api\"}\n  a: b\n"), k_dev_dry, 4,
       {"config/dev.yaml:1:"}});
  add({"setters: a marker with broken JSON",
       setters("image: ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"flux-system:api\n"), k_dev_dry, 4,
       {"config/dev.yaml:1:"}});
  add({"setters: a file truncated after a marker",
       setters("image: \"ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"flux-system:api\"}\n"), k_dev_dry, 4,
       {"config/dev.yaml:"}});
  add({"setters: a YAML alias bomb beside the marker",
       setters("image: ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"flux-system:api\"}\n" + yaml_bomb("bomb")),
       k_dev_dry, 4, {"config/dev.yaml:", "alias"}});

  // --- JUnit XML ------------------------------------------------------------------------------
  const auto junit = [](std::string xml, std::string path = "reports/junit.xml") {
    return [xml, path](const Sandbox& box, const Servers&) {
      box.write(path, xml);
      box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", junit_gate(path)));
    };
  };
  add({"junit truncated", junit("<testsuite name=\"a\">\n  <testcase name=\"b\">\n    <failure"), k_staging_dry, 4,
       {"reports/junit.xml:3:"}});
  add({"junit: the XML billion laughs", junit(xml_bomb()), k_staging_dry, 4,
       {"reports/junit.xml:2:1", "document type declarations are not allowed"}});
  add({"junit: an external entity (XXE) naming a file outside the repository",
       [junit](const Sandbox& box, const Servers& servers) {
         junit("<?xml version=\"1.0\"?>\n<!DOCTYPE t [<!ENTITY xxe SYSTEM \"file://" +
               (box.outside() / "secret.txt").string() +
               "\">]>\n<testsuite><testcase name=\"&xxe;\"><failure>&xxe;</failure></testcase></testsuite>\n")(box,
                                                                                                         servers);
       },
       k_staging_dry, 4, {"reports/junit.xml:2:1", "document type declarations are not allowed"}});
  // Well-formed, only deep: the walk is iterative, so it is judged like any report.
  add({"junit: 100,000 nested suites are judged",
       junit(repeat("<testsuite>", 100000) + "<testcase name=\"a\"/>" + repeat("</testsuite>", 100000)),
       k_staging_dry, 0, {"junit", "1 test: 1 passed"}});
  add({"junit: 100 MB on one line",
       [](const Sandbox& box, const Servers&) {
         write_long_line(box.repo() / "reports/junit.xml", "<testsuite name=\"", 100u << 20);
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", junit_gate()));
       },
       k_staging_dry, 4, {"reports/junit.xml", "too large"}});
  add({"junit: 60 MiB of empty elements",
       [](const Sandbox& box, const Servers&) {
         write_repeated(box.repo() / "reports/junit.xml", "<a/>", 60u << 20);
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", junit_gate()));
       },
       k_staging_dry, 4, {"reports/junit.xml"}});
  // Test runners do write raw bytes into reports: the report is judged, and what promote
  // prints stays valid UTF-8 (checked for every --output json row).
  add({"junit: invalid UTF-8 in a failing test's name is judged, not echoed raw",
       junit("<testsuite>\n<testcase name=\"caf" + k_bad_utf8 + "\"><failure/></testcase>\n</testsuite>\n"),
       {"--to", "staging", "--dry-run", "--output", "json"}, 1, {"\"blocked\"", "1 failed"}});
  add({"junit: a NUL byte", junit(std::string("<testsuite><testcase name=\"a\0b\"/></testsuite>\n", 46)),
       k_staging_dry, 4, {"reports/junit.xml:1:"}});
  add({"junit: a report that is a symlink out of the repository",
       [](const Sandbox& box, const Servers&) {
         write_text(box.outside() / "junit.xml", "<testsuite><testcase name=\"TOPSECRET\"/></testsuite>\n");
         box.symlink(box.outside() / "junit.xml", "reports/junit.xml");
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", junit_gate()));
       },
       k_staging_dry, 4, {"reports/junit.xml", "out of the repository"}});
  add({"junit: an HTML page instead", junit("<html><body>502 Bad Gateway</body></html>\n"), k_staging_dry, 4,
       {"reports/junit.xml", "html"}});

  // --- Trivy, Grype, SARIF JSON and .trivyignore ------------------------------------------------
  const auto scan = [](std::string use, std::string json, std::string extra = "") {
    return [use, json, extra](const Sandbox& box, const Servers&) {
      box.write("reports/trivy.json", json);
      box.write("promote.yaml",
                pipeline("{kustomize: k8s/dev}",
                         gate(use, "{report: reports/trivy.json, max: {critical: 0}" + extra + "}")));
    };
  };
  add({"trivy truncated", scan("trivy", "{\"SchemaVersion\": 2, \"Results\": [{\"Target\": \"x\""), k_staging_dry, 4,
       {"reports/trivy.json:1:"}});
  add({"trivy: Results is a string", scan("trivy", "{\"SchemaVersion\": 2, \"Results\": \"none\"}"), k_staging_dry,
       4, {"reports/trivy.json", "Results"}});
  add({"trivy: a severity that is a number",
       scan("trivy", "{\"SchemaVersion\": 2, \"Results\": [{\"Target\": \"x\", \"Vulnerabilities\": "
                     "[{\"VulnerabilityID\": \"CVE-1\", \"Severity\": 9}]}]}"),
       k_staging_dry, 4, {"reports/trivy.json", "Severity"}});
  add({"trivy: 100,000 nested arrays", scan("trivy", std::string(100000, '[') + std::string(100000, ']')),
       k_staging_dry, 4, {"reports/trivy.json"}});
  add({"trivy: 60 MiB of nested arrays",
       [](const Sandbox& box, const Servers&) {
         write_repeated(box.repo() / "reports/trivy.json", "[", 60u << 20);
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", trivy_gate()));
       },
       k_staging_dry, 4, {"reports/trivy.json", "nest"}});
  add({"trivy: 100 MB on one line",
       [](const Sandbox& box, const Servers&) {
         write_long_line(box.repo() / "reports/trivy.json", "{\"SchemaVersion\": 2, \"x\": \"", 100u << 20);
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", trivy_gate()));
       },
       k_staging_dry, 4, {"reports/trivy.json", "too large"}});
  add({"trivy: invalid UTF-8 in a string",
       scan("trivy", "{\"SchemaVersion\": 2, \"ArtifactName\": \"caf" + k_bad_utf8 + "\", \"Results\": []}"),
       k_staging_dry, 4, {"reports/trivy.json:1:", "UTF-8"}});
  add({"trivy: a NUL byte", scan("trivy", std::string("{\"SchemaVersion\": 2,\0 \"Results\": []}", 35)),
       k_staging_dry, 4, {"reports/trivy.json:1:"}});
  add({"trivy: a report that is a symlink out of the repository",
       [](const Sandbox& box, const Servers&) {
         box.symlink(box.outside() / "secret.txt", "reports/trivy.json");
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", trivy_gate()));
       },
       k_staging_dry, 4, {"reports/trivy.json", "out of the repository"}});
  add({"grype: matches is an object", scan("grype", "{\"matches\": {\"a\": 1}}"), k_staging_dry, 4,
       {"reports/trivy.json", "matches"}});
  add({"grype: 100,000 nested objects",
       scan("grype", "{\"matches\": [" + repeat("{\"a\":", 100000) + "1" + std::string(100000, '}') + "]}"),
       k_staging_dry, 4, {"reports/trivy.json"}});
  add({"sarif: runs is a number", scan("sarif", "{\"version\": \"2.1.0\", \"runs\": 3}"), k_staging_dry, 4,
       {"reports/trivy.json", "runs"}});
  add({"sarif truncated", scan("sarif", "{\"version\": \"2.1.0\", \"runs\": [{\"results\": [{\"level\": \"err"),
       k_staging_dry, 4, {"reports/trivy.json:1:"}});
  const auto trivyignore = [](std::string text) {
    return [text](const Sandbox& box, const Servers&) {
      box.write("reports/trivy.json", k_trivy_ok);
      box.write(".trivyignore", text);
      box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", trivy_gate(", ignore: .trivyignore")));
    };
  };
  add({".trivyignore: an impossible expiry date", trivyignore("CVE-2024-1 exp:2024-13-45\n"), k_staging_dry, 4,
       {".trivyignore:1:", "2024-13-45"}});
  add({".trivyignore: binary garbage with NUL bytes", trivyignore(std::string("CVE-1\0\xff\xfe exp:\0\n", 16)),
       k_staging_dry, 4, {".trivyignore:1:"}});
  add({".trivyignore: a symlink to a secret outside the repository",
       [](const Sandbox& box, const Servers&) {
         box.write("reports/trivy.json", k_trivy_ok);
         box.symlink(box.outside() / "secret.txt", ".trivyignore");
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", trivy_gate(", ignore: .trivyignore")));
       },
       k_staging_dry, 4, {".trivyignore", "out of the repository"}});
  add({".trivyignore: 100 MB on one line",
       [](const Sandbox& box, const Servers&) {
         box.write("reports/trivy.json", k_trivy_ok);
         write_long_line(box.repo() / ".trivyignore", "CVE-", 100u << 20);
         box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", trivy_gate(", ignore: .trivyignore")));
       },
       k_staging_dry, 4, {".trivyignore", "too large"}});

  // --- Prometheus answers ----------------------------------------------------------------------
  const auto prometheus = [](std::function<std::string(const Servers&)> url) {
    return [url](const Sandbox& box, const Servers& servers) {
      box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", prometheus_gate(url(servers))));
    };
  };
  add({"prometheus: a server that streams 800 MB", prometheus([](const Servers& s) { return s.endless.url(); }),
       k_staging_dry, 4, {"prometheus", "exceeds"}});
  add({"prometheus: a slow-loris server (one byte a second)",
       prometheus([](const Servers& s) { return s.slow.url(); }), k_staging_dry, 4, {"prometheus", "timed out"},
       {"TOPSECRET"}, 3 + 5});
  add({"prometheus: a server that never closes the connection",
       prometheus([](const Servers& s) { return s.holding.url(); }), k_staging_dry, 4,
       {"prometheus", "timed out"}, {"TOPSECRET"}, 3 + 5});
  add({"prometheus: 15 MiB of nested arrays", prometheus([](const Servers& s) { return s.deep.url(); }),
       k_staging_dry, 4, {"prometheus", "nest"}});
  add({"prometheus: a 32 MiB header line", prometheus([](const Servers& s) { return s.header.url(); }),
       k_staging_dry, 4, {"prometheus"}});
  add({"prometheus: an answer that is not HTTP", prometheus([](const Servers& s) { return s.garbage.url(); }),
       k_staging_dry, 4, {"prometheus"}});

  // --- webhook (http gate) answers --------------------------------------------------------------
  const auto webhook = [](std::function<std::string(const Servers&)> url, std::string extra = "") {
    return [url, extra](const Sandbox& box, const Servers& servers) {
      box.write("promote.yaml", pipeline("{kustomize: k8s/dev}", http_gate(url(servers), extra)));
    };
  };
  add({"http gate: a server that streams 800 MB",
       webhook([](const Servers& s) { return s.endless.url(); }, ", json_pointer: /decision, equals: ok"),
       k_staging_dry, 4, {"http", "exceeds"}});
  add({"http gate: a slow-loris server", webhook([](const Servers& s) { return s.slow.url(); }), k_staging_dry, 4,
       {"http", "timed out"}, {"TOPSECRET"}, 3 + 5});
  add({"http gate: a server that never closes the connection",
       webhook([](const Servers& s) { return s.holding.url(); }), k_staging_dry, 4, {"http", "timed out"},
       {"TOPSECRET"}, 3 + 5});
  add({"http gate: 15 MiB of nested arrays",
       webhook([](const Servers& s) { return s.deep.url(); }, ", json_pointer: /decision, equals: ok"),
       k_staging_dry, 4, {"http", "nest"}});
  add({"http gate: an answer that is not HTTP", webhook([](const Servers& s) { return s.garbage.url(); }),
       k_staging_dry, 4, {"http"}});

  // --- image references on the command line -------------------------------------------------------
  const auto nothing = [](const Sandbox&, const Servers&) {};
  const auto image = [&](std::string name, std::string reference, std::vector<std::string> words) {
    add({name, nothing, {"--to", "dev", "--image", "api=" + reference}, 2, std::move(words),
         {"TOPSECRET", "\x1b", "\x07"}});
  };
  image("image: a semicolon and a command", "ghcr.io/acme/api:1.0;touch pwned", {"api", "shell"});
  image("image: a command substitution", "ghcr.io/acme/api:$(touch pwned)", {"api", "shell"});
  image("image: backticks", "ghcr.io/acme/api:`id`", {"api", "shell"});
  image("image: a pipe", "ghcr.io/acme/api:1|sh", {"api", "shell"});
  image("image: a newline", "ghcr.io/acme/api:1.0\nrm", {"api"});
  // 100 KB: one argument of the command line holds at most 128 KiB on Linux.
  image("image: a tag of 100 KB", "ghcr.io/acme/api:" + std::string(100 << 10, 'a'), {"api", "128", "bytes)"});
  image("image: invalid UTF-8", "ghcr.io/acme/api:1.0" + k_bad_utf8, {"api"});
  image("image: a short digest", "ghcr.io/acme/api@sha256:abc", {"api", "digest"});
  image("image: a digest of 100 KB", "ghcr.io/acme/api@sha256:" + std::string(100 << 10, 'f'),
        {"api", "digest", "bytes)"});
  image("image: a terminal escape sequence", "ghcr.io/acme/api:1.0\x1b]0;pwned\x07",
        {"api", "\\x1b]0;pwned\\x07"});
  image("image: upper case", "GHCR.io/ACME/api:1.0", {"api"});
  image("image: a path traversal", "ghcr.io/acme/../../api:1.0", {"api"});
  add({"image: an empty reference", nothing, {"--to", "dev", "--image", "api="}, 2, {"api"}});
  add({"image: an image the pipeline does not have", nothing,
       {"--to", "dev", "--image", "evil=ghcr.io/acme/api:1.0"}, 2, {"evil"}});
  return table;
}

TEST_SUITE("hostile") {
  TEST_CASE("every hostile or malformed input ends in a clear error and changes nothing") {
    TempDir templ_dir;
    make_template(templ_dir.path());
    const Servers servers;
    const std::vector<Row> table = rows();
    const char* only = std::getenv("HOSTILE_ROW");  // a substring of the row names to run
    int ran = 0;
    for (const Row& row : table) {
      if (only != nullptr && row.name.find(only) == std::string::npos) {
        continue;
      }
      ++ran;
      CAPTURE(row.name);
      Sandbox box(templ_dir.path());
      row.setup(box, servers);
      const Snapshot before = snapshot(box);
      const Bounded result = run_bounded(row.args, box.repo(), box.root() / "home");
      INFO("exit " << result.exit_code << " after " << result.seconds << " s; output ("
                   << result.output_size << " bytes):\n"
                   << result.output.substr(0, 4000));
      CHECK(result.exit_code == row.exit_code);
      CHECK(result.seconds < row.max_seconds);
      CHECK(result.output_size < k_max_message);
      for (const std::string& word : row.words) {
        CHECK_MESSAGE(result.output.find(word) != std::string::npos, "missing: " << word);
      }
      for (const std::string& word : row.absent) {
        CHECK_MESSAGE(result.output.find(word) == std::string::npos, "present: " << word);
      }
      CHECK_FALSE(fs::exists(box.repo() / "pwned"));
      if (std::find(row.args.begin(), row.args.end(), "json") != row.args.end()) {
        const auto document = nlohmann::json::parse(result.out, nullptr, false);
        CHECK_MESSAGE(!document.is_discarded(), "--output json printed no valid JSON");
      }
      const Snapshot after = snapshot(box);
      CHECK(after.files == before.files);
      CHECK(after.refs == before.refs);
      CHECK(after.remote_refs == before.remote_refs);
      CHECK(after.status == before.status);
      CHECK(after.history == before.history);
    }
    MESSAGE(ran << " hostile rows run");
    if (only == nullptr) {
      CHECK(ran >= 60);
    }
  }
}

}  // namespace
