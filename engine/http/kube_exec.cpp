#include "engine/http/kube_exec.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/util/files.hpp"
#include "engine/util/json.hpp"
#include "engine/util/process.hpp"
#include "engine/util/secrets.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"

extern char** environ;

namespace promote::kube {

using json = nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

// How much of a failed plugin's stderr a message keeps (its end).
constexpr std::size_t k_stderr_shown = 1000;

std::string format_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) {
    return std::to_string(timeout.count() / 1000) + "s";
  }
  return std::to_string(timeout.count()) + "ms";
}

// The key of a kept credential: the plugin as configured and the cluster it is for.
std::string cache_key(const ExecConfig& exec, const Cluster& cluster) {
  std::string key = exec.api_version + '\0' + exec.command + '\0';
  for (const auto& arg : exec.args) {
    key += arg + '\0';
  }
  key += '\1';
  for (const auto& [name, value] : exec.env) {
    key += name + '=' + value + '\0';
  }
  return key + '\1' + cluster.server + '\0' + cluster.ca_file + '\0' + cluster.ca_pem;
}

struct Cache {
  std::mutex mutex;  // held across a run: concurrent callers wait for one plugin run
  std::map<std::string, ExecCredential> kept;
};

Cache& cache() {
  static auto* shared = new Cache();
  return *shared;
}

// promote's environment with the plugin's variables added (they win) and KUBERNETES_EXEC_INFO.
std::vector<std::string> plugin_environment(const ExecConfig& exec, const std::string& info) {
  std::vector<std::pair<std::string, std::string>> added = exec.env;
  added.emplace_back("KUBERNETES_EXEC_INFO", info);
  std::set<std::string> names;
  for (const auto& [name, value] : added) {
    names.insert(name);
  }
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!names.contains(std::string(text.substr(0, text.find('='))))) {
      out.emplace_back(text);
    }
  }
  for (const auto& [name, value] : added) {
    out.push_back(name + "=" + value);
  }
  return out;
}

// The ExecCredential of a plugin's stdout, or what is wrong with it (never quoting it).
Result<ExecCredential> read_credential(const std::string& out, const ExecConfig& exec,
                                       const std::string& who) {
  const auto fail = [&who](const std::string& why) {
    return make_error(ErrorKind::http, who + " printed no usable ExecCredential: " + why);
  };
  if (util::json_too_deep(out) != std::string_view::npos) {
    return fail("its output nests too deeply");
  }
  const json document = json::parse(out, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return fail("its output is not a JSON object");
  }
  const auto text = [](const json& object, const char* key) {
    const auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  if (text(document, "kind") != "ExecCredential") {
    return fail("its kind is not ExecCredential");
  }
  if (text(document, "apiVersion") != exec.api_version) {
    return fail("its apiVersion is not " + exec.api_version + ", as the kubeconfig asks");
  }
  const auto status = document.find("status");
  if (status == document.end() || !status->is_object()) {
    return fail("it has no status");
  }
  ExecCredential credential;
  credential.token = text(*status, "token");
  credential.client_certificate_pem = text(*status, "clientCertificateData");
  credential.client_key_pem = text(*status, "clientKeyData");
  if (credential.client_certificate_pem.empty() != credential.client_key_pem.empty()) {
    return fail(
        "its status has a client certificate without its key, or a key without its "
        "certificate");
  }
  if (credential.token.empty() && credential.client_certificate_pem.empty()) {
    return fail("its status has neither a token nor a client certificate and key");
  }
  if (const std::string expiry = text(*status, "expirationTimestamp"); !expiry.empty()) {
    credential.expires = util::parse_rfc3339(expiry);
    if (!credential.expires) {
      return fail("its expirationTimestamp is not an RFC 3339 time");
    }
  }
  return credential;
}

Result<ExecCredential> run_plugin(const User& user, const Cluster& cluster,
                                  std::chrono::milliseconds timeout) {
  const ExecConfig& exec = *user.exec;
  const std::string who = "exec plugin '" + util::one_line(exec.command) + "' of user '" +
                          util::one_line(user.name) + "'";
  if (exec.interactive_mode == "Always") {
    return make_error(ErrorKind::config,
                      exec.where + ": " + who +
                          " needs an interactive terminal (interactiveMode Always), and promote "
                          "runs plugins without one");
  }
  std::string program = exec.command;
  if (program.find('/') == std::string::npos) {
    const auto found = util::find_program(program, util::path_variable());
    if (!found) {
      std::string hint = exec.install_hint;
      hint.erase(hint.find_last_not_of(" \t\r\n") + 1);
      return make_error(ErrorKind::config, exec.where + ": " + who + " is not on PATH" +
                                               (hint.empty() ? "" : "\n" + util::printable(hint)));
    }
    program = found->string();
  }
  util::ProcessSpec spec;
  spec.argv.push_back(program);
  spec.argv.insert(spec.argv.end(), exec.args.begin(), exec.args.end());
  spec.environment = plugin_environment(exec, exec_info(exec, cluster));
  spec.shown = who;
  util::ProcessLimits limits;
  limits.timeout = timeout;
  limits.new_session = true;  // no terminal to prompt on: a prompt fails instead of waiting
  limits.max_stderr = k_stderr_shown;
  auto ran = util::run_process(spec, limits);
  if (!ran) {
    return make_error(ErrorKind::http, ran.error().message);
  }
  const auto fail = [&who](const std::string& why) {
    return make_error(ErrorKind::http, who + " " + why);
  };
  if (ran->timed_out) {
    return fail("did not finish within " + format_timeout(timeout) + " and was killed");
  }
  if (ran->cancelled) {
    return fail("was cancelled");
  }
  if (ran->out_too_large) {
    return fail("printed more than " + std::to_string(ran->max_stdout) + " bytes");
  }
  if (!ran->succeeded()) {
    std::string err = ran->err_tail;
    err.erase(err.find_last_not_of(" \t\r\n") + 1);
    const std::string how = ran->signal ? "was ended by signal " + std::to_string(*ran->signal)
                                        : "exited with status " + std::to_string(*ran->exit_code);
    return fail(how + (err.empty() ? ""
                                   : ": " + std::string(ran->err_truncated ? "..." : "") +
                                         util::one_line(err)));
  }
  return read_credential(ran->out, exec, who);
}

}  // namespace

std::string exec_info(const ExecConfig& exec, const Cluster& cluster) {
  json spec = {{"interactive", false}};
  if (exec.provide_cluster_info) {
    json info = {{"server", cluster.server}};
    if (!cluster.tls_server_name.empty()) {
      info["tls-server-name"] = cluster.tls_server_name;
    }
    std::string ca = cluster.ca_pem;
    if (ca.empty() && !cluster.ca_file.empty()) {
      if (auto read = util::read_file(cluster.ca_file, 1u << 20)) {
        ca = std::move(*read);
      }
    }
    if (!ca.empty()) {
      info["certificate-authority-data"] = util::base64(ca);
    }
    if (!cluster.exec_extension.empty()) {
      info["config"] = json::parse(cluster.exec_extension, nullptr, false);
    }
    spec["cluster"] = std::move(info);
  }
  const json document = {
      {"apiVersion", exec.api_version}, {"kind", "ExecCredential"}, {"spec", std::move(spec)}};
  return util::dump_json(document);
}

Result<ExecCredential> exec_credential(const User& user, const Cluster& cluster,
                                       std::chrono::milliseconds timeout) {
  if (!user.exec) {
    return make_error(ErrorKind::config, "user '" + user.name + "' has no exec plugin");
  }
  Cache& shared = cache();
  const std::string key = cache_key(*user.exec, cluster);
  std::lock_guard lock(shared.mutex);
  if (const auto kept = shared.kept.find(key); kept != shared.kept.end()) {
    if (!kept->second.expires || Clock::now() < *kept->second.expires) {
      return kept->second;
    }
    shared.kept.erase(kept);
  }
  auto credential = run_plugin(user, cluster, timeout);
  if (credential) {
    shared.kept[key] = *credential;
  }
  return credential;
}

void forget_exec_credential(const User& user, const Cluster& cluster) {
  if (!user.exec) {
    return;
  }
  Cache& shared = cache();
  std::lock_guard lock(shared.mutex);
  shared.kept.erase(cache_key(*user.exec, cluster));
}

}  // namespace promote::kube
