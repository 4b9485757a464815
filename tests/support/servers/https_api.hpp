#pragma once
// An HTTPS API server on 127.0.0.1 (a free port), on a thread of its own, for tests of
// clients that talk to REST APIs (the forges). Its certificate is made at construction
// with the OpenSSL API: a self-signed CA and a server certificate it signs for
// 127.0.0.1, localhost and any extra names, with the CA written to a PEM file in a temp
// dir of its own (`ca_file()`), which a client must be given to trust the server.
// Requests are answered by a routing table of (method, path pattern) -> handler and
// logged whole. One request per connection. Stops, joins its thread and removes its
// temp dir when destroyed. No test framework here.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promote::test {

/// A request as the server received it.
struct ApiRequest {
  std::string method;
  std::string target;  ///< as sent: the path and the query, still percent-encoded
  std::string path;    ///< the target without its query, still percent-encoded
  std::vector<std::pair<std::string, std::string>> query;  ///< decoded name/value pairs
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::string> params;  ///< the path segments that the route's "*" matched
  std::string client_name;          ///< the common name of the client's certificate, "" without one

  /// The first header called `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  /// The first query parameter called `name`, "" when absent.
  std::string query_value(std::string_view name) const;
  bool has_query(std::string_view name) const;
};

/// What a handler answers.
struct ApiReply {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< Content-Length is added
};

/// A JSON reply: Content-Type application/json and `body` as given.
ApiReply json_reply(unsigned status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers = {});

class HttpsApi {
 public:
  using Handler = std::function<ApiReply(const ApiRequest&)>;

  /// Listens on 127.0.0.1:0 with a certificate for 127.0.0.1, localhost and `names`.
  explicit HttpsApi(const std::vector<std::string>& names = {});
  ~HttpsApi();
  HttpsApi(const HttpsApi&) = delete;
  HttpsApi& operator=(const HttpsApi&) = delete;

  /// Answers METHOD requests whose path matches `pattern` with `handler`; a "*" segment of
  /// the pattern matches any one segment. A later route for the same pair replaces the
  /// earlier one; requests that no route matches get a 404 JSON {"message": "Not Found"}.
  void route(const std::string& method, const std::string& pattern, Handler handler);

  /// https://127.0.0.1:PORT + path
  std::string url(const std::string& path = "") const;
  unsigned short port() const;
  /// The PEM file of the CA that signed the server's certificate.
  const std::string& ca_file() const;

  /// From now on, the TLS handshake asks for a client certificate signed by the server's CA
  /// and fails without one. Call before the requests it is for.
  void require_client_certificate();
  /// A client certificate for `common_name` signed by the server's CA, and its private key,
  /// both PEM.
  std::pair<std::string, std::string> client_certificate(const std::string& common_name) const;

  /// Every request received, in order.
  std::vector<ApiRequest> log() const;
  /// The requests received for METHOD and a path (the exact encoded path).
  std::vector<ApiRequest> requests(const std::string& method, const std::string& path) const;
  void clear_log();
  /// TLS connections accepted (including those whose handshake failed).
  int connections() const;

 private:
  struct State;
  std::unique_ptr<State> m_state;
};

/// `text` with its %XX escapes decoded (and '+' as is).
std::string percent_decode(std::string_view text);

}  // namespace promote::test
