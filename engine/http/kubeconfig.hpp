#pragma once
// Where a Kubernetes API server is and who promote is there, found the way kubectl finds it:
// the kubeconfig files of $KUBECONFIG (else ~/.kube/config) merged by kubectl's rules, one
// of their contexts (the current one or `--context`), or the service account of the pod
// promote runs in. Nothing here talks to the server (kube.hpp does); the secrets read here
// (tokens, keys, passwords) never reach a message.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace promote::kube {

/// An `exec` credential plugin of a user (client.authentication.k8s.io/v1 or v1beta1).
struct ExecConfig {
  std::string api_version;
  std::string command;  ///< relative paths with a '/' are resolved against the kubeconfig
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  ///< added to promote's environment
  std::string install_hint;                              ///< shown when the command is not found
  bool provide_cluster_info = false;
  std::string interactive_mode;  ///< Never, IfAvailable or Always ("" in v1beta1)
  std::string where;             ///< FILE:LINE:COL of its first setting, for messages
};

/// A `clusters` entry: where the API server is and how its certificate is verified.
struct Cluster {
  std::string name;
  std::string server;
  std::string ca_file;  ///< certificate-authority, made absolute against its kubeconfig
  std::string ca_pem;   ///< certificate-authority-data, decoded; it wins over ca_file
  bool insecure_skip_tls_verify = false;  ///< refused by `select_context`
  std::string tls_server_name;
  std::string proxy_url;  ///< refused by `select_context` (promote uses $HTTPS_PROXY)
  /// The `client.authentication.k8s.io/exec` extension, as JSON text ("" when absent): what
  /// an exec plugin with provideClusterInfo gets as spec.cluster.config.
  std::string exec_extension;
  std::string where;  ///< FILE:LINE:COL of the entry
};

/// A `users` entry: the credentials. Token files and certificate files are read when used.
struct User {
  std::string name;
  std::string token;
  std::string token_file;  ///< absolute
  std::string client_certificate_file;
  std::string client_key_file;
  std::string client_certificate_pem;  ///< client-certificate-data, decoded
  std::string client_key_pem;          ///< client-key-data, decoded
  std::string username;
  std::string password;
  std::optional<ExecConfig> exec;
  std::string where;
};

/// A `contexts` entry.
struct Context {
  std::string name;
  std::string cluster;
  std::string user;
  std::string namespace_name;
  std::string where;
};

/// The kubeconfig files merged as kubectl merges them: the first file that names a cluster,
/// a user or a context gives it whole, and the first that sets current-context sets it.
struct Kubeconfig {
  std::vector<std::string> files;  ///< the files read, in order
  std::map<std::string, Cluster> clusters;
  std::map<std::string, User> users;
  std::map<std::string, Context> contexts;
  std::string current_context;
};

/// One way to the API server: a context's cluster and user, or the pod's service account.
struct Connection {
  std::string context;         ///< the context's name; "in-cluster" for a service account
  std::string namespace_name;  ///< the context's namespace, else "default"
  Cluster cluster;
  User user;
};

/// The kubeconfig files kubectl would read: each entry of $KUBECONFIG (':'-separated, empty
/// entries and repeats skipped, files that do not exist kept: `load_kubeconfig` skips them),
/// else ~/.kube/config ($HOME); empty when neither is set.
std::vector<std::filesystem::path> kubeconfig_files();

/// Reads and merges `files` in order; a file that does not exist is skipped, as kubectl does.
/// Fails (input) "FILE:LINE:COL: what" when a file is not YAML, a section or a field has the
/// wrong shape, a name is missing, certificate-authority-data or client-*-data is not base64,
/// or an exec plugin's apiVersion is not client.authentication.k8s.io/v1 or v1beta1 (or v1
/// lacks interactiveMode); "FILE: what" when a file cannot be read.
Result<Kubeconfig> load_kubeconfig(const std::vector<std::filesystem::path>& files);

/// `load_kubeconfig` of one text, named `file` in messages, paths resolved against `dir`.
Result<Kubeconfig> parse_kubeconfig(std::string_view text, const std::string& file,
                                    const std::filesystem::path& dir);

/// The connection of the context `name` ("": the current context). Fails (config) when no
/// context is named and current-context is unset, the context, its cluster or its user is not
/// in the kubeconfig, the cluster has no server, sets insecure-skip-tls-verify (promote
/// verifies every server it trusts with a promotion) or proxy-url, or the user sets two kinds
/// of credentials that kubectl refuses together (a token and a username/password, a file and
/// the data of the same certificate or key, a certificate without its key).
Result<Connection> select_context(const Kubeconfig& config, std::string_view name);

/// The environment variable that overrides the service account directory (for tests).
inline constexpr const char* k_serviceaccount_dir_variable = "PROMOTE_SERVICEACCOUNT_DIR";

/// The directory of the pod's service account: $PROMOTE_SERVICEACCOUNT_DIR, else
/// /var/run/secrets/kubernetes.io/serviceaccount.
std::filesystem::path serviceaccount_dir();

/// The connection of the pod's service account: https://$KUBERNETES_SERVICE_HOST:
/// $KUBERNETES_SERVICE_PORT, the token file (read at each request, so a rotated token is
/// used), ca.crt and the namespace file of `serviceaccount_dir()`. Fails (config) when the two
/// variables are not set or the token file or ca.crt does not exist.
Result<Connection> in_cluster();

/// What kubectl would use: the kubeconfig's context `context` when a kubeconfig file exists
/// or a context is named, else the service account when in a cluster. Fails as
/// `load_kubeconfig`, `select_context` or `in_cluster` do, or (config) when there is neither
/// a kubeconfig nor a cluster around promote.
Result<Connection> find_connection(std::string_view context = {});

/// `text` decoded from standard base64 (padding optional, line breaks and blanks skipped);
/// nullopt when it is not base64.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace promote::kube
