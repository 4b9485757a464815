#include "plugins/host.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "engine/util/children.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/secrets.hpp"

namespace promote::plugins {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Status = Verdict::Status;

bool is_valid_plugin_name(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  };
  return std::all_of(name.begin(), name.end(), allowed) && name[0] != '-' && name[0] != '_';
}

namespace {

bool is_executable_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::optional<fs::path> find_plugin(const std::string& name, const fs::path& pipeline_dir,
                                    const std::string& path_env) {
  if (!is_valid_plugin_name(name)) {
    return std::nullopt;
  }
  const std::string file = k_program_prefix + name;
  std::error_code ec;
  if (const fs::path local = pipeline_dir / "plugins" / file; is_executable_file(local)) {
    return fs::absolute(local, ec).lexically_normal();
  }
  std::size_t start = 0;
  while (start <= path_env.size()) {
    const std::size_t end = std::min(path_env.find(':', start), path_env.size());
    const std::string dir = path_env.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) {
      continue;
    }
    if (const fs::path candidate = fs::path(dir) / file; is_executable_file(candidate)) {
      return fs::absolute(candidate, ec).lexically_normal();
    }
  }
  return std::nullopt;
}

std::optional<fs::path> find_plugin(const std::string& name, const fs::path& pipeline_dir) {
  const char* path = std::getenv("PATH");
  return find_plugin(name, pipeline_dir, path != nullptr ? path : "");
}

std::vector<std::string> plugin_environment(const std::vector<std::string>& pass_through) {
  std::vector<std::string> out;
  std::vector<std::string> names = {"PATH", "HOME", "LANG", "TZ"};
  for (const auto& name : pass_through) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  for (const auto& name : names) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr) {
      out.push_back(name + "=" + value);
    } else if (name == "PATH") {
      out.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
    }
  }
  return out;
}

namespace {

using Fd = util::UniqueFd;

std::string errno_text(int error) { return std::strerror(error); }

// What the awaiting side and the worker thread share: the cancel request, and an
// eventfd that wakes the worker's poll() when it is made.
struct Control {
  Fd wake;
  std::atomic<bool> cancelled{false};
  void cancel() {
    if (!cancelled.exchange(true)) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto written = ::write(wake.get(), &one, sizeof one);
    }
  }
};

struct Pipe {
  Fd read;
  Fd write;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return make_error(ErrorKind::internal, "cannot create a pipe: " + errno_text(errno));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Spawns `program` with stdin/stdout/stderr on the pipes, in a process group of its own,
// with default signal dispositions and an empty signal mask.
Result<pid_t> spawn(const fs::path& program, const std::vector<std::string>& environment,
                    const fs::path& cwd, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attributes, &mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signal : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1,
                           SIGUSR2}) {
    sigaddset(&defaults, signal);
  }
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  const std::string path = program.string();
  std::vector<char*> argv = {const_cast<char*>(path.c_str()), nullptr};
  std::vector<char*> envp;
  for (const auto& entry : environment) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return make_error(ErrorKind::input, "cannot run plugin " + path + ": " + errno_text(rc));
  }
  return pid;
}

// Waits until the process behind `pidfd` has exited, at most `timeout` (-1: forever).
bool wait_exit(int pidfd, int timeout_ms) {
  pollfd entry{pidfd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready >= 0) {
      return ready > 0;
    }
    if (errno != EINTR) {
      return false;
    }
  }
}

// Terminates the whole group: SIGTERM, then SIGKILL once `grace` has passed or the
// leader has gone (stragglers that ignore SIGTERM must not outlive it).
void terminate_group(pid_t pid, int pidfd, std::chrono::milliseconds grace) {
  ::kill(-pid, SIGTERM);
  wait_exit(pidfd, static_cast<int>(grace.count()));
  ::kill(-pid, SIGKILL);
}

// Appends to the stderr tail, keeping at most `max` bytes (amortised trimming).
void append_tail(std::string& tail, bool& truncated, const char* data, std::size_t size,
                 std::size_t max) {
  tail.append(data, size);
  if (tail.size() > 2 * max) {
    tail.erase(0, tail.size() - max);
    truncated = true;
  }
}

Result<RunOutput> run_sync(const fs::path& program, const std::string& input,
                           const std::vector<std::string>& environment, const fs::path& cwd,
                           const RunLimits& limits, Control& control) {
  RunOutput output;
  output.max_stdout = limits.max_stdout;
  auto digest = util::sha256_file(program);
  if (!digest) {
    return make_error(ErrorKind::input, "cannot run plugin " + program.string() + ": " +
                                            digest.error().message);
  }
  output.program_sha256 = *digest;
  if (control.cancelled) {
    output.cancelled = true;
    return output;
  }
  // A write to a plugin that closed its stdin must fail with EPIPE, not kill promote.
  // This thread is ours alone, so its mask need not be restored.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  for (auto* pipe : {&in, &out, &err}) {
    if (!*pipe) {
      return pipe->error();
    }
  }
  // Recorded as a child group, for a termination signal to reach it (util/children.hpp).
  std::optional<Result<pid_t>> spawned;
  util::start_child_group([&] {
    spawned = spawn(program, environment, cwd, in->read.get(), out->write.get(), err->write.get());
    return *spawned ? **spawned : -1;
  });
  if (!spawned) {
    output.cancelled = true;  // promote is ending: nothing is started
    return output;
  }
  if (!*spawned) {
    return spawned->error();
  }
  const pid_t leader = **spawned;
  in->read.reset();
  out->write.reset();
  err->write.reset();
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, leader, 0)));
  if (!pidfd.valid()) {
    const int error = errno;
    ::kill(-leader, SIGKILL);
    util::forget_child_group(leader);
    ::waitpid(leader, nullptr, 0);
    return make_error(ErrorKind::internal, "cannot watch plugin process: " + errno_text(error));
  }
  Fd to_plugin = std::move(in->write);
  Fd from_stdout = std::move(out->read);
  Fd from_stderr = std::move(err->read);
  for (const Fd* fd : {&to_plugin, &from_stdout, &from_stderr}) {
    set_nonblocking(fd->get());
  }
  if (input.empty()) {
    to_plugin.reset();
  }

  std::size_t written = 0;
  bool exited = false;
  char buffer[65536];
  // Reads what `fd` has now; false at end of file (or a read error).
  const auto drain = [&](Fd& fd, bool is_stdout) {
    for (;;) {
      const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        const auto size = static_cast<std::size_t>(n);
        if (is_stdout) {
          if (output.out.size() + size > limits.max_stdout) {
            output.out_too_large = true;
            return true;
          }
          output.out.append(buffer, size);
        } else {
          append_tail(output.err_tail, output.err_truncated, buffer, size, limits.max_stderr);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return true;
      }
      fd.reset();
      return false;
    }
  };

  while (!exited && !output.out_too_large && !control.cancelled) {
    pollfd fds[5];
    nfds_t count = 0;
    const auto watch = [&](const Fd& fd, short events) {
      if (fd.valid()) {
        fds[count++] = pollfd{fd.get(), events, 0};
      }
    };
    watch(control.wake, POLLIN);
    watch(pidfd, POLLIN);
    watch(from_stdout, POLLIN);
    watch(from_stderr, POLLIN);
    watch(to_plugin, POLLOUT);
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (fds[i].fd == pidfd.get()) {
        exited = true;
      } else if (fds[i].fd == from_stdout.get()) {
        drain(from_stdout, true);
      } else if (fds[i].fd == from_stderr.get()) {
        drain(from_stderr, false);
      } else if (fds[i].fd == to_plugin.get()) {
        const ssize_t n = ::write(to_plugin.get(), input.data() + written, input.size() - written);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
          to_plugin.reset();
        }
      }
    }
  }
  to_plugin.reset();
  if (exited) {
    // The leader is a zombie until reaped, so its group id still names its leftovers.
    ::kill(-leader, SIGKILL);
  } else {
    output.cancelled = control.cancelled && !output.out_too_large;
    terminate_group(leader, pidfd.get(), limits.kill_grace);
  }
  // The leader has written everything it will write: take what is in the pipes.
  if (from_stdout.valid() && !output.out_too_large) {
    drain(from_stdout, true);
  }
  if (from_stderr.valid()) {
    drain(from_stderr, false);
  }
  util::forget_child_group(leader);  // the group has had its last signal from here
  int status = 0;
  while (::waitpid(leader, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    output.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    output.signal = WTERMSIG(status);
  }
  if (output.err_tail.size() > limits.max_stderr) {
    output.err_tail.erase(0, output.err_tail.size() - limits.max_stderr);
    output.err_truncated = true;
  }
  return output;
}

// Completes `handler` once, on its own executor, keeping that executor's loop alive
// until the worker thread is done.
template <class Handler>
struct ThreadOperation : std::enable_shared_from_this<ThreadOperation<Handler>> {
  explicit ThreadOperation(Handler h)
      : handler(std::move(h)),
        work(asio::make_work_guard(asio::get_associated_executor(handler))) {}
  void complete() {
    asio::post(work.get_executor(), [self = this->shared_from_this()]() mutable {
      std::move(self->handler)();
      self->work.reset();
    });
  }
  Handler handler;
  asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
};

}  // namespace

asio::awaitable<Result<RunOutput>> run_plugin(fs::path program, std::string input,
                                              std::vector<std::string> environment, fs::path cwd,
                                              RunLimits limits) {
  auto control = std::make_shared<Control>();
  control->wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!control->wake.valid()) {
    co_return make_error(ErrorKind::internal, "cannot create an eventfd: " + errno_text(errno));
  }
  auto result = std::make_shared<std::optional<Result<RunOutput>>>();
  auto job = [=, program = std::move(program), input = std::move(input),
              environment = std::move(environment), cwd = std::move(cwd)] {
    *result = run_sync(program, input, environment, cwd, limits, *control);
  };
  auto initiation = [control, result](auto handler, auto work) {
    using Operation = ThreadOperation<decltype(handler)>;
    auto operation = std::make_shared<Operation>(std::move(handler));
    auto slot = asio::get_associated_cancellation_slot(operation->handler);
    if (slot.is_connected()) {
      slot.assign([control](asio::cancellation_type) { control->cancel(); });
    }
    try {
      std::thread([operation, work = std::move(work)] {
        work();
        operation->complete();
      }).detach();
    } catch (const std::system_error& e) {
      *result = make_error(ErrorKind::internal, std::string("cannot start a thread: ") + e.what());
      operation->complete();
    }
  };
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      std::move(initiation), asio::use_awaitable, std::move(job));
  co_return std::move(**result);
}

namespace {

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal); abbrev != nullptr) {
    return "SIG" + std::string(abbrev);
  }
  return std::to_string(signal);
}

std::vector<std::string> last_lines(const std::string& text, std::size_t count) {
  std::vector<std::string> lines;
  std::size_t end = text.size();
  while (end > 0 && lines.size() < count) {
    std::size_t start = text.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
      line.pop_back();
    }
    if (!line.empty() || !lines.empty()) {
      lines.push_back(std::move(line));
    }
    end = start == 0 ? 0 : start - 1;
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

std::optional<Status> parse_status(const std::string& text) {
  for (const Status status :
       {Status::pass, Status::warn, Status::fail, Status::pending, Status::error}) {
    if (text == to_string(status)) {
      return status;
    }
  }
  return std::nullopt;
}

std::string format_bytes(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) {
    return std::to_string(bytes >> 10) + " KiB";
  }
  return std::to_string(bytes) + " bytes";
}

constexpr std::size_t k_stderr_lines = 20;
constexpr std::size_t k_summary_line = 200;

}  // namespace

Verdict interpret(const RunOutput& output, const std::string& program) {
  nlohmann::json details = {{"program", program}, {"program_sha256", output.program_sha256}};
  if (output.exit_code) {
    details["exit_code"] = *output.exit_code;
  }
  if (output.signal) {
    details["signal"] = signal_name(*output.signal);
  }
  const std::vector<std::string> stderr_lines = last_lines(output.err_tail, k_stderr_lines);
  if (!stderr_lines.empty()) {
    details["stderr_tail"] = stderr_lines;
  }
  const auto failed = [&](const std::string& reason) {
    std::string summary = fs::path(program).filename().string() + " " + reason;
    if (!stderr_lines.empty()) {
      std::string last = stderr_lines.back();
      if (last.size() > k_summary_line) {
        last = last.substr(0, k_summary_line) + "...";
      }
      summary += ": " + last;
    }
    details["reason"] = reason;
    return Verdict::make(Status::error, std::move(summary), details);
  };

  if (output.cancelled) {
    return failed("was cancelled; its process group was killed");
  }
  if (output.out_too_large) {
    return failed("output too large (more than " + format_bytes(output.max_stdout) +
                  " on stdout)");
  }
  if (output.signal) {
    return failed("was killed by signal " + signal_name(*output.signal));
  }
  if (output.exit_code && *output.exit_code != 0) {
    return failed("exited with status " + std::to_string(*output.exit_code));
  }
  nlohmann::json response = nlohmann::json::parse(output.out, nullptr, false);
  if (response.is_discarded()) {
    return failed(output.out.find_first_not_of(" \t\r\n") == std::string::npos
                      ? "printed nothing on stdout (expected a JSON verdict)"
                      : "printed invalid JSON on stdout");
  }
  if (!response.is_object()) {
    return failed("printed JSON that is not an object");
  }
  const auto status_field = response.find("status");
  if (status_field == response.end()) {
    return failed("gave no 'status'");
  }
  const auto status = status_field->is_string()
                          ? parse_status(status_field->get<std::string>())
                          : std::nullopt;
  if (!status) {
    return failed("gave an unknown status " + status_field->dump() +
                  " (expected pass, warn, fail, pending or error)");
  }
  const auto summary = response.find("summary");
  if (summary == response.end() || !summary->is_string()) {
    return failed("gave no 'summary' string");
  }
  std::optional<std::chrono::seconds> retry_after;
  if (const auto retry = response.find("retry_after_seconds"); retry != response.end()) {
    if (!retry->is_number_integer() || retry->get<long long>() < 0) {
      return failed("gave a 'retry_after_seconds' that is not a non-negative integer");
    }
    retry_after = std::chrono::seconds(retry->get<long long>());
  }
  if (const auto plugin_details = response.find("details"); plugin_details != response.end()) {
    details["details"] = *plugin_details;
  }
  Verdict verdict = Verdict::make(*status, summary->get<std::string>(), std::move(details));
  if (*status == Status::pending) {
    verdict.retry_after = retry_after;
  }
  return verdict;
}

namespace {

nlohmann::json plain_scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const char* digits = text[0] == '+' ? begin + 1 : begin;
  long long integer = 0;
  if (auto [ptr, ec] = std::from_chars(digits, end, integer); ec == std::errc() && ptr == end) {
    return integer;
  }
  double number = 0;
  if (auto [ptr, ec] = std::from_chars(digits, end, number);
      ec == std::errc() && ptr == end && std::isfinite(number)) {
    return number;
  }
  return text;
}

}  // namespace

std::optional<nlohmann::json> to_json(const pipeline::ConfigNode& node) {
  const YAML::Node& yaml = node.yaml();
  if (node.is_null()) {
    return nlohmann::json(nullptr);
  }
  if (yaml.IsScalar()) {
    // yaml-cpp tags plain scalars "?" and quoted ones "!".
    return yaml.Tag() == "!" ? nlohmann::json(yaml.Scalar()) : plain_scalar(yaml.Scalar());
  }
  if (yaml.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    bool ok = true;
    for (const auto& item : yaml) {
      auto value = to_json(pipeline::ConfigNode(item, node.file(), node.diagnostics()));
      ok = ok && value.has_value();
      out.push_back(value ? std::move(*value) : nlohmann::json());
    }
    return ok ? std::optional(std::move(out)) : std::nullopt;
  }
  nlohmann::json out = nlohmann::json::object();
  bool ok = true;
  for (const auto& pair : yaml) {
    const pipeline::ConfigNode key(pair.first, node.file(), node.diagnostics());
    if (!pair.first.IsScalar()) {
      key.error("keys of a plugin's configuration must be strings");
      ok = false;
      continue;
    }
    auto value = to_json(pipeline::ConfigNode(pair.second, node.file(), node.diagnostics()));
    if (!value) {
      ok = false;
      continue;
    }
    if (out.contains(pair.first.Scalar())) {
      key.error("duplicate field '" + pair.first.Scalar() + "' in a plugin's configuration");
      ok = false;
    }
    out[pair.first.Scalar()] = std::move(*value);
  }
  return ok ? std::optional(std::move(out)) : std::nullopt;
}

namespace {

bool is_variable_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

nlohmann::json image_json(const image::Reference& reference) {
  return {{"reference", reference.to_string()},
          {"repository", reference.repository()},
          {"tag", reference.tag},
          {"digest", reference.digest}};
}

class PluginGate : public Gate {
 public:
  PluginGate(std::string name, fs::path program, nlohmann::json config,
             std::vector<std::string> env)
      : m_name(std::move(name)),
        m_program(std::move(program)),
        m_config(std::move(config)),
        m_env(std::move(env)) {}

  asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    nlohmann::json images = nlohmann::json::object();
    for (const auto& [image_name, reference] : context.candidate.images) {
      images[image_name] = image_json(reference);
    }
    std::error_code ec;
    const fs::path dir = fs::absolute(context.base_dir, ec).lexically_normal();
    const nlohmann::json request = {
        {"protocol", k_protocol_version},
        {"gate", {{"name", m_name}, {"config", m_config}}},
        {"candidate", {{"id", context.candidate.id()}, {"images", std::move(images)}}},
        {"stage", context.stage},
        {"from", context.from ? nlohmann::json(*context.from) : nlohmann::json(nullptr)},
        {"pipeline",
         {{"name", context.pipeline.empty() ? nlohmann::json(nullptr) : nlohmann::json(context.pipeline)},
          {"dir", dir.string()}}},
    };
    auto run = co_await run_plugin(m_program, request.dump() + "\n", plugin_environment(m_env),
                                   dir);
    if (!run) {
      co_return Verdict::make(Status::error, run.error().message,
                              {{"program", m_program.string()}});
    }
    // The plugin may print what it was given: none of it reaches a report or a record.
    const std::vector<std::string> secrets = util::secret_values(m_env);
    Verdict verdict = interpret(*run, m_program.string());
    verdict.summary = util::scrub(std::move(verdict.summary), secrets);
    util::scrub_json(verdict.details, secrets);
    verdict.evidence.push_back(Evidence{m_program.string(), run->program_sha256});
    co_return verdict;
  }

  nlohmann::json config() const override {
    nlohmann::json out = m_config;
    out["plugin"] = m_program.string();
    if (!m_env.empty()) {
      out["env"] = m_env;
    }
    return out;
  }

 private:
  std::string m_name;
  fs::path m_program;
  nlohmann::json m_config;
  std::vector<std::string> m_env;
};

}  // namespace

std::unique_ptr<Gate> make_plugin_gate(const std::string& name, const fs::path& program,
                                       const pipeline::ConfigNode& with) {
  const std::string what = "gate '" + name + "'";
  if (!with.is_null() && !with.is_map()) {
    with.error(what + " 'with' must be a mapping, got " +
               (with.is_sequence() ? std::string("a list") : "'" + with.yaml().Scalar() + "'"));
    return nullptr;
  }
  std::vector<std::string> env;
  bool ok = true;
  nlohmann::json config = nlohmann::json::object();
  if (with.is_map()) {
    if (auto env_node = with.get("env")) {
      if (auto names = env_node->as_string_list("env")) {
        for (const auto& variable : *names) {
          if (!is_variable_name(variable)) {
            env_node->error("'env' must list environment variable names, got '" + variable + "'");
            ok = false;
          } else if (std::find(env.begin(), env.end(), variable) == env.end()) {
            env.push_back(variable);
          }
        }
      } else {
        ok = false;
      }
    }
    auto converted = to_json(with);
    if (!converted) {
      ok = false;
    } else {
      config = std::move(*converted);
      config.erase("env");
    }
  }
  if (!ok) {
    return nullptr;
  }
  return std::make_unique<PluginGate>(name, program, std::move(config), std::move(env));
}

}  // namespace promote::plugins
