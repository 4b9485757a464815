#pragma once
// A read-only client of the Kubernetes API, for the gates that look at what runs in a
// cluster (flux, kubernetes). It goes through http::request (Beast stays in engine/http),
// authenticates as the connection's user (a token, a token file re-read when it changes,
// a client certificate, a username and password, or an exec plugin) and verifies the server
// against the cluster's CA. No message holds a token, a key or a password.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/http/kubeconfig.hpp"

namespace promote::kube {

/// How a client waits.
struct ClientOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(30);       ///< for each request
  std::chrono::milliseconds exec_timeout = std::chrono::seconds(60);  ///< for an exec plugin
};

/// A body, or nullopt when the server answered 404 (no such object, namespace or resource).
using Found = std::optional<nlohmann::json>;

class Client {
 public:
  /// A client of `connection`. Fails (config) when a certificate, key or CA file it names
  /// cannot be read (the file named, never its content).
  static Result<Client> make(Connection connection, ClientOptions options = {});

  /// GETs `path` (absolute, e.g. "/apis/apps/v1/namespaces/web/deployments/api", with its
  /// query) and parses the JSON body. A 404 is nullopt. Fails (http) "GET URL: ..." when the
  /// request fails as http::request does, the credentials cannot be had (exec plugin, token
  /// file), the server answers 401 (naming the user and context; an exec plugin's credential
  /// is then fetched anew and the request tried once more) or 403 (naming the user and
  /// context), any other status that is not 2xx (with the message of a Kubernetes Status
  /// body, made printable and short), or a body that is not JSON. The exec plugin, when there
  /// is one, runs on the calling thread (bounded by `exec_timeout`), once per credential.
  boost::asio::awaitable<Result<Found>> get(std::string path) const;

  /// `get` for synchronous callers, on an io_context of its own.
  Result<Found> get_blocking(std::string path) const;

  /// GETs one object: `group` "" is the core group (/api/v1), `namespace_name` "" a
  /// cluster-scoped resource; the segments are percent-encoded. Fails as `get` does.
  boost::asio::awaitable<Result<Found>> get_object(std::string_view group, std::string_view version,
                                                   std::string_view namespace_name,
                                                   std::string_view plural,
                                                   std::string_view name) const;

  /// GETs a list (`kind: ...List` with `items`), filtered by `label_selector` when not "";
  /// nullopt when the server does not serve the resource (404: a CRD not installed). Fails
  /// as `get` does.
  boost::asio::awaitable<Result<Found>> list(std::string_view group, std::string_view version,
                                             std::string_view namespace_name,
                                             std::string_view plural,
                                             std::string_view label_selector = {}) const;

  /// The connection's context, user, server and namespace, for messages and defaults.
  const std::string& context() const;
  const std::string& user() const;
  const std::string& server() const;
  const std::string& namespace_name() const;

 private:
  struct State;
  explicit Client(std::shared_ptr<State> state) : m_state(std::move(state)) {}
  std::shared_ptr<State> m_state;
};

/// A client of what kubectl would use for `context` ("": the current one; see
/// find_connection). Fails as find_connection and Client::make do.
Result<Client> connect(std::string_view context = {}, ClientOptions options = {});

/// The API path of a resource: "/api/v1" or "/apis/GROUP/VERSION", then "/namespaces/NS" when
/// `namespace_name` is not "", then "/PLURAL" and "/NAME" when `name` is not ""; each segment
/// percent-encoded.
std::string resource_path(std::string_view group, std::string_view version,
                          std::string_view namespace_name, std::string_view plural,
                          std::string_view name = {});

/// Whether trying a request again may help after `get` failed with `error`: false when the
/// server refused the credentials (401) or the permission (403), answered another 4xx but
/// 408 and 429, or its certificate was not accepted (http::worth_retrying).
bool worth_retrying(const Error& error);

}  // namespace promote::kube
