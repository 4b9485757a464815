#include "plugins/host.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "engine/util/hash.hpp"
#include "engine/util/process.hpp"
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

std::optional<fs::path> find_plugin(const std::string& name, const fs::path& pipeline_dir,
                                    const std::string& path_env) {
  if (!is_valid_plugin_name(name)) {
    return std::nullopt;
  }
  const std::string file = k_program_prefix + name;
  std::error_code ec;
  if (const fs::path local = pipeline_dir / "plugins" / file;
      fs::is_regular_file(local, ec) && ::access(local.c_str(), X_OK) == 0) {
    return fs::absolute(local, ec).lexically_normal();
  }
  return util::find_program(file, path_env);
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

Result<RunOutput> run_sync(const fs::path& program, const std::string& input,
                           const std::vector<std::string>& environment, const fs::path& cwd,
                           const RunLimits& limits, util::ProcessCancel& cancel) {
  RunOutput output;
  output.max_stdout = limits.max_stdout;
  auto digest = util::sha256_file(program);
  if (!digest) {
    return make_error(ErrorKind::input,
                      "cannot run plugin " + program.string() + ": " + digest.error().message);
  }
  const util::ProcessSpec spec{
      {program.string()}, environment, cwd, input, "plugin " + program.string()};
  auto ran = util::run_process(spec, limits, &cancel);
  if (!ran) {
    return ran.error();
  }
  static_cast<util::ProcessOutput&>(output) = std::move(*ran);
  output.program_sha256 = std::move(*digest);
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
  auto made = util::ProcessCancel::make();
  if (!made) {
    co_return made.error();
  }
  std::shared_ptr<util::ProcessCancel> control = std::move(*made);
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
    return failed("output too large (more than " + format_bytes(output.max_stdout) + " on stdout)");
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
  const auto status =
      status_field->is_string() ? parse_status(status_field->get<std::string>()) : std::nullopt;
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
         {{"name",
           context.pipeline.empty() ? nlohmann::json(nullptr) : nlohmann::json(context.pipeline)},
          {"dir", dir.string()}}},
    };
    auto run =
        co_await run_plugin(m_program, request.dump() + "\n", plugin_environment(m_env), dir);
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
