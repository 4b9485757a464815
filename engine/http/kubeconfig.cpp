#include "engine/http/kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/overlay/splice.hpp"
#include "engine/util/files.hpp"
#include "engine/util/text.hpp"

namespace promote::kube {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_exec_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view k_exec_v1beta1 = "client.authentication.k8s.io/v1beta1";
constexpr std::string_view k_exec_extension = "client.authentication.k8s.io/exec";
constexpr std::uintmax_t k_max_kubeconfig = 16u << 20;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string single_quoted(std::string_view text) {
  std::string out = "'";
  out += util::one_line(text);
  out += "'";
  return out;
}

// Reads one kubeconfig file's tree into the typed entries, with every problem at its place.
class Reader {
 public:
  Reader(std::string file, fs::path dir) : m_file(std::move(file)), m_dir(std::move(dir)) {}

  std::string where(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return Location{m_file, mark.line + 1, mark.column + 1}.to_string();
  }

  Error fail(const YAML::Node& node, const std::string& what) const {
    return overlay::splice::error_at(m_file, node.Mark(), what);
  }

  // A path as kubectl resolves it: relative to the directory of the file that names it.
  std::string resolve(const std::string& path) const {
    if (path.empty() || fs::path(path).is_absolute()) {
      return path;
    }
    return (m_dir / path).lexically_normal().string();
  }

  // map[key] as a string: "" when absent or null; an error when it is not a scalar.
  Result<std::string> text(const YAML::Node& map, const char* key) const {
    const YAML::Node value = map[key];
    if (!value || value.IsNull()) {
      return std::string();
    }
    if (!value.IsScalar()) {
      return fail(value, "'" + std::string(key) + "' must be a string");
    }
    return value.Scalar();
  }

  // map[key] as a boolean: false when absent; an error when it is not true or false.
  Result<bool> flag(const YAML::Node& map, const char* key) const {
    const YAML::Node value = map[key];
    if (!value || value.IsNull()) {
      return false;
    }
    bool out = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, out)) {
      return fail(value, "'" + std::string(key) + "' must be true or false");
    }
    return out;
  }

  // map[key], base64, decoded: "" when absent.
  Result<std::string> data(const YAML::Node& map, const char* key) const {
    auto encoded = text(map, key);
    if (!encoded || encoded->empty()) {
      return encoded;
    }
    auto decoded = decode_base64(*encoded);
    if (!decoded) {
      return fail(map[key], "'" + std::string(key) + "' is not base64");
    }
    return std::move(*decoded);
  }

  // The entries of a section (a sequence of maps with a name and a body map), in order.
  Result<std::vector<std::pair<YAML::Node, std::string>>> entries(const YAML::Node& root,
                                                                  const char* section,
                                                                  const char* body) const {
    std::vector<std::pair<YAML::Node, std::string>> out;
    const YAML::Node list = root[section];
    if (!list || list.IsNull()) {
      return out;
    }
    if (!list.IsSequence()) {
      return fail(list, "'" + std::string(section) + "' must be a list");
    }
    for (const YAML::Node& item : list) {
      if (!item.IsMap()) {
        return fail(item, "an entry of '" + std::string(section) + "' must be a map");
      }
      auto name = text(item, "name");
      if (!name) {
        return name.error();
      }
      if (name->empty()) {
        return fail(item, "an entry of '" + std::string(section) + "' has no name");
      }
      const YAML::Node inner = item[body];
      if (inner && !inner.IsNull() && !inner.IsMap()) {
        return fail(inner, "'" + std::string(body) + "' must be a map");
      }
      out.emplace_back(item, std::move(*name));
    }
    return out;
  }

  Result<Cluster> cluster(const YAML::Node& item, std::string name) const;
  Result<User> user(const YAML::Node& item, std::string name) const;
  Result<ExecConfig> exec(const YAML::Node& node) const;
  Result<Context> context(const YAML::Node& item, std::string name) const;

 private:
  std::string m_file;
  fs::path m_dir;
};

// A YAML tree as JSON: maps as objects, lists as arrays, scalars as strings.
nlohmann::json to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& pair : node) {
      out[pair.first.Scalar()] = to_json(pair.second);
    }
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const YAML::Node& item : node) {
      out.push_back(to_json(item));
    }
    return out;
  }
  return node.IsScalar() ? nlohmann::json(node.Scalar()) : nlohmann::json();
}

// Sets `out` from `read` or returns its error from the enclosing function.
#define KUBE_TRY(out, read)   \
  do {                        \
    auto value_ = (read);     \
    if (!value_) {            \
      return value_.error();  \
    }                         \
    out = std::move(*value_); \
  } while (false)

Result<Cluster> Reader::cluster(const YAML::Node& item, std::string name) const {
  Cluster cluster;
  cluster.name = std::move(name);
  cluster.where = where(item);
  const YAML::Node body = item["cluster"];
  if (!body || body.IsNull()) {
    return cluster;
  }
  KUBE_TRY(cluster.server, text(body, "server"));
  std::string ca_file;
  KUBE_TRY(ca_file, text(body, "certificate-authority"));
  cluster.ca_file = resolve(ca_file);
  KUBE_TRY(cluster.ca_pem, data(body, "certificate-authority-data"));
  KUBE_TRY(cluster.insecure_skip_tls_verify, flag(body, "insecure-skip-tls-verify"));
  KUBE_TRY(cluster.tls_server_name, text(body, "tls-server-name"));
  KUBE_TRY(cluster.proxy_url, text(body, "proxy-url"));
  if (const YAML::Node extensions = body["extensions"]; extensions && extensions.IsSequence()) {
    for (const YAML::Node& extension : extensions) {
      if (extension.IsMap() && extension["name"] && extension["name"].IsScalar() &&
          extension["name"].Scalar() == k_exec_extension && extension["extension"]) {
        // Bytes that are not UTF-8 become U+FFFD: the extension is passed on as JSON.
        cluster.exec_extension =
            to_json(extension["extension"])
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
  }
  return cluster;
}

Result<ExecConfig> Reader::exec(const YAML::Node& node) const {
  ExecConfig exec;
  exec.where = where(node);
  if (!node.IsMap()) {
    return fail(node, "'exec' must be a map");
  }
  KUBE_TRY(exec.api_version, text(node, "apiVersion"));
  if (exec.api_version != k_exec_v1 && exec.api_version != k_exec_v1beta1) {
    return fail(node["apiVersion"] ? node["apiVersion"] : node,
                "exec: apiVersion " + single_quoted(exec.api_version) + " is not supported (" +
                    std::string(k_exec_v1) + " or " + std::string(k_exec_v1beta1) + ")");
  }
  KUBE_TRY(exec.command, text(node, "command"));
  if (exec.command.empty()) {
    return fail(node, "exec: 'command' is missing");
  }
  if (exec.command.find('/') != std::string::npos) {
    exec.command = resolve(exec.command);
  }
  if (const YAML::Node args = node["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) {
      return fail(args, "exec: 'args' must be a list of strings");
    }
    for (const YAML::Node& arg : args) {
      if (!arg.IsScalar()) {
        return fail(arg, "exec: 'args' must be a list of strings");
      }
      exec.args.push_back(arg.Scalar());
    }
  }
  if (const YAML::Node variables = node["env"]; variables && !variables.IsNull()) {
    if (!variables.IsSequence()) {
      return fail(variables, "exec: 'env' must be a list of name and value");
    }
    for (const YAML::Node& variable : variables) {
      std::string name;
      std::string value;
      if (!variable.IsMap()) {
        return fail(variable, "exec: an entry of 'env' must have a name and a value");
      }
      KUBE_TRY(name, text(variable, "name"));
      KUBE_TRY(value, text(variable, "value"));
      if (name.empty() || name.find('=') != std::string::npos) {
        return fail(variable, "exec: an entry of 'env' has no valid name");
      }
      exec.env.emplace_back(std::move(name), std::move(value));
    }
  }
  KUBE_TRY(exec.install_hint, text(node, "installHint"));
  KUBE_TRY(exec.provide_cluster_info, flag(node, "provideClusterInfo"));
  KUBE_TRY(exec.interactive_mode, text(node, "interactiveMode"));
  if (!exec.interactive_mode.empty() && exec.interactive_mode != "Never" &&
      exec.interactive_mode != "IfAvailable" && exec.interactive_mode != "Always") {
    return fail(node["interactiveMode"],
                "exec: interactiveMode must be Never, IfAvailable or Always");
  }
  if (exec.interactive_mode.empty() && exec.api_version == k_exec_v1) {
    return fail(node, "exec: interactiveMode must be set for " + std::string(k_exec_v1));
  }
  return exec;
}

Result<User> Reader::user(const YAML::Node& item, std::string name) const {
  User user;
  user.name = std::move(name);
  user.where = where(item);
  const YAML::Node body = item["user"];
  if (!body || body.IsNull()) {
    return user;
  }
  KUBE_TRY(user.token, text(body, "token"));
  std::string file;
  KUBE_TRY(file, text(body, "tokenFile"));
  user.token_file = resolve(file);
  KUBE_TRY(file, text(body, "client-certificate"));
  user.client_certificate_file = resolve(file);
  KUBE_TRY(file, text(body, "client-key"));
  user.client_key_file = resolve(file);
  KUBE_TRY(user.client_certificate_pem, data(body, "client-certificate-data"));
  KUBE_TRY(user.client_key_pem, data(body, "client-key-data"));
  KUBE_TRY(user.username, text(body, "username"));
  KUBE_TRY(user.password, text(body, "password"));
  if (const YAML::Node exec = body["exec"]; exec && !exec.IsNull()) {
    KUBE_TRY(user.exec, this->exec(exec));
  }
  if (const YAML::Node provider = body["auth-provider"]; provider && !provider.IsNull()) {
    return fail(provider,
                "'auth-provider' is not supported (kubectl removed it too): use an exec plugin");
  }
  return user;
}

Result<Context> Reader::context(const YAML::Node& item, std::string name) const {
  Context context;
  context.name = std::move(name);
  context.where = where(item);
  const YAML::Node body = item["context"];
  if (!body || body.IsNull()) {
    return context;
  }
  KUBE_TRY(context.cluster, text(body, "cluster"));
  KUBE_TRY(context.user, text(body, "user"));
  KUBE_TRY(context.namespace_name, text(body, "namespace"));
  return context;
}

// Adds the file's entries that no earlier file named; the file's own repeats keep the first.
Result<void> merge_into(Kubeconfig& config, std::string_view text, const std::string& file,
                        const fs::path& dir) {
  auto documents = overlay::splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  const Reader reader(file, dir);
  if (documents->empty() || documents->front().IsNull()) {
    config.files.push_back(file);
    return {};
  }
  const YAML::Node root = documents->front();
  if (!root.IsMap()) {
    return reader.fail(root, "a kubeconfig must be a map");
  }
  auto clusters = reader.entries(root, "clusters", "cluster");
  auto users = reader.entries(root, "users", "user");
  auto contexts = reader.entries(root, "contexts", "context");
  for (auto* section : {&clusters, &users, &contexts}) {
    if (!*section) {
      return section->error();
    }
  }
  for (auto& [item, name] : *clusters) {
    auto cluster = reader.cluster(item, name);
    if (!cluster) {
      return cluster.error();
    }
    config.clusters.emplace(name, std::move(*cluster));
  }
  for (auto& [item, name] : *users) {
    auto user = reader.user(item, name);
    if (!user) {
      return user.error();
    }
    config.users.emplace(name, std::move(*user));
  }
  for (auto& [item, name] : *contexts) {
    auto context = reader.context(item, name);
    if (!context) {
      return context.error();
    }
    config.contexts.emplace(name, std::move(*context));
  }
  std::string current;
  KUBE_TRY(current, reader.text(root, "current-context"));
  if (config.current_context.empty()) {
    config.current_context = std::move(current);
  }
  config.files.push_back(file);
  return {};
}

#undef KUBE_TRY

std::string names_of(const std::map<std::string, Context>& contexts) {
  std::string out;
  for (const auto& [name, context] : contexts) {
    out += (out.empty() ? "" : ", ") + single_quoted(name);
  }
  return out.empty() ? "none" : out;
}

std::string files_of(const Kubeconfig& config) {
  std::string out;
  for (const auto& file : config.files) {
    out += (out.empty() ? "" : ", ") + file;
  }
  return out.empty() ? "(no file)" : out;
}

// The reasons kubectl refuses a user's credentials, or "".
std::string user_conflict(const User& user) {
  const bool basic = !user.username.empty() || !user.password.empty();
  if (!user.token.empty() && basic) {
    return "sets both a token and a username/password";
  }
  if (!user.client_certificate_file.empty() && !user.client_certificate_pem.empty()) {
    return "sets both client-certificate and client-certificate-data";
  }
  if (!user.client_key_file.empty() && !user.client_key_pem.empty()) {
    return "sets both client-key and client-key-data";
  }
  const bool certificate =
      !user.client_certificate_file.empty() || !user.client_certificate_pem.empty();
  const bool key = !user.client_key_file.empty() || !user.client_key_pem.empty();
  if (certificate != key) {
    return certificate ? "sets a client certificate without its key"
                       : "sets a client key without its certificate";
  }
  return {};
}

std::string trimmed(std::string text) {
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  text.erase(0, text.find_first_not_of(" \t\r\n"));
  return text;
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (const char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    }
    if (value < 0 || padding > 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // A lone sixth of a byte, or more padding than a quantum has, is not base64.
  if (bits >= 6 || padding > 2) {
    return std::nullopt;
  }
  return out;
}

std::vector<fs::path> kubeconfig_files() {
  std::vector<fs::path> files;
  const std::string list = env("KUBECONFIG");
  if (!list.empty()) {
    std::size_t start = 0;
    while (start <= list.size()) {
      const std::size_t end = std::min(list.find(':', start), list.size());
      const fs::path file = list.substr(start, end - start);
      start = end + 1;
      if (!file.empty() && std::find(files.begin(), files.end(), file) == files.end()) {
        files.push_back(file);
      }
    }
    return files;
  }
  if (const std::string home = env("HOME"); !home.empty()) {
    files.push_back(fs::path(home) / ".kube" / "config");
  }
  return files;
}

Result<Kubeconfig> parse_kubeconfig(std::string_view text, const std::string& file,
                                    const fs::path& dir) {
  Kubeconfig config;
  if (auto merged = merge_into(config, text, file, dir); !merged) {
    return merged.error();
  }
  return config;
}

Result<Kubeconfig> load_kubeconfig(const std::vector<fs::path>& files) {
  Kubeconfig config;
  for (const fs::path& file : files) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      continue;
    }
    auto text = util::read_file(file, k_max_kubeconfig);
    if (!text) {
      return text.error();
    }
    const fs::path dir = fs::absolute(file, ec).parent_path();
    if (auto merged = merge_into(config, *text, file.string(), dir); !merged) {
      return merged.error();
    }
  }
  return config;
}

Result<Connection> select_context(const Kubeconfig& config, std::string_view name) {
  const auto fail = [](const std::string& what) { return make_error(ErrorKind::config, what); };
  const std::string chosen(name.empty() ? std::string_view(config.current_context) : name);
  if (chosen.empty()) {
    return fail("kubeconfig " + files_of(config) +
                ": current-context is not set and no context was named");
  }
  const auto context = config.contexts.find(chosen);
  if (context == config.contexts.end()) {
    return fail("kubeconfig " + files_of(config) + ": no context " + single_quoted(chosen) +
                " (contexts: " + names_of(config.contexts) + ")");
  }
  const Context& entry = context->second;
  const auto cluster = config.clusters.find(entry.cluster);
  if (cluster == config.clusters.end()) {
    return fail(entry.where + ": context " + single_quoted(chosen) + " names the cluster " +
                single_quoted(entry.cluster) + ", which no kubeconfig file has");
  }
  Connection connection;
  connection.context = chosen;
  connection.namespace_name = entry.namespace_name.empty() ? "default" : entry.namespace_name;
  connection.cluster = cluster->second;
  if (!entry.user.empty()) {
    const auto user = config.users.find(entry.user);
    if (user == config.users.end()) {
      return fail(entry.where + ": context " + single_quoted(chosen) + " names the user " +
                  single_quoted(entry.user) + ", which no kubeconfig file has");
    }
    connection.user = user->second;
  }
  const Cluster& server = connection.cluster;
  const std::string cluster_named = server.where + ": cluster " + single_quoted(server.name);
  if (server.server.empty()) {
    return fail(cluster_named + " has no server");
  }
  if (server.insecure_skip_tls_verify) {
    return fail(cluster_named +
                " sets insecure-skip-tls-verify, which promote refuses: a server it cannot "
                "verify could answer anything; give the cluster's CA with "
                "certificate-authority or certificate-authority-data");
  }
  if (!server.proxy_url.empty()) {
    return fail(cluster_named +
                " sets proxy-url, which promote does not support: set HTTPS_PROXY instead");
  }
  if (const std::string conflict = user_conflict(connection.user); !conflict.empty()) {
    return fail(connection.user.where + ": user " + single_quoted(connection.user.name) + " " +
                conflict);
  }
  return connection;
}

fs::path serviceaccount_dir() {
  if (std::string dir = env(k_serviceaccount_dir_variable); !dir.empty()) {
    return dir;
  }
  return "/var/run/secrets/kubernetes.io/serviceaccount";
}

Result<Connection> in_cluster() {
  const std::string host = env("KUBERNETES_SERVICE_HOST");
  const std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return make_error(ErrorKind::config,
                      "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                      "are not both set");
  }
  const fs::path dir = serviceaccount_dir();
  std::error_code ec;
  for (const char* name : {"token", "ca.crt"}) {
    if (!fs::exists(dir / name, ec)) {
      return make_error(ErrorKind::config,
                        "in a cluster, but the service account has no " + (dir / name).string());
    }
  }
  Connection connection;
  connection.context = "in-cluster";
  connection.cluster.name = "in-cluster";
  connection.cluster.where = "in-cluster";
  connection.cluster.server =
      "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  connection.cluster.ca_file = (dir / "ca.crt").string();
  connection.user.name = "service account";
  connection.user.where = dir.string();
  connection.user.token_file = (dir / "token").string();
  connection.namespace_name = "default";
  if (auto text = util::read_file(dir / "namespace", 4096); text) {
    if (std::string name = trimmed(std::move(*text)); !name.empty()) {
      connection.namespace_name = std::move(name);
    }
  }
  return connection;
}

Result<Connection> find_connection(std::string_view context) {
  const std::vector<fs::path> files = kubeconfig_files();
  std::error_code ec;
  const bool any = std::any_of(files.begin(), files.end(),
                               [&ec](const fs::path& file) { return fs::exists(file, ec); });
  if (any || !context.empty()) {
    auto config = load_kubeconfig(files);
    if (!config) {
      return config.error();
    }
    return select_context(*config, context);
  }
  if (!env("KUBERNETES_SERVICE_HOST").empty()) {
    return in_cluster();
  }
  std::string looked;
  for (const auto& file : files) {
    looked += (looked.empty() ? "" : ", ") + file.string();
  }
  return make_error(
      ErrorKind::config,
      "no kubeconfig (" +
          (looked.empty() ? std::string("KUBECONFIG and HOME are unset") : "no file at " + looked) +
          ") and not in a cluster (KUBERNETES_SERVICE_HOST is not set)");
}

}  // namespace promote::kube
