#include "engine/http/kube.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <vector>

#include "engine/http/client.hpp"
#include "engine/http/kube_exec.hpp"
#include "engine/util/files.hpp"
#include "engine/util/json.hpp"
#include "engine/util/secrets.hpp"
#include "engine/util/text.hpp"

namespace promote::kube {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// How much of a Status message an error keeps.
constexpr std::size_t k_status_shown = 300;

std::string single_quoted(std::string_view text) {
  std::string out = "'";
  out += util::one_line(text);
  out += "'";
  return out;
}

// The reason phrase of the statuses an API server answers with, or "".
std::string reason(unsigned status) {
  static constexpr std::pair<unsigned, const char*> k_reasons[] = {{400, "Bad Request"},
                                                                   {401, "Unauthorized"},
                                                                   {403, "Forbidden"},
                                                                   {405, "Method Not Allowed"},
                                                                   {406, "Not Acceptable"},
                                                                   {408, "Request Timeout"},
                                                                   {409, "Conflict"},
                                                                   {410, "Gone"},
                                                                   {422, "Unprocessable Entity"},
                                                                   {429, "Too Many Requests"},
                                                                   {500, "Internal Server Error"},
                                                                   {502, "Bad Gateway"},
                                                                   {503, "Service Unavailable"},
                                                                   {504, "Gateway Timeout"}};
  for (const auto& [code, phrase] : k_reasons) {
    if (code == status) {
      return phrase;
    }
  }
  return {};
}

// The message of a Kubernetes Status body, made printable on one line and short; "" when the
// body is not a Status or has no message.
std::string status_message(const std::string& body, const std::vector<std::string>& secrets) {
  if (util::json_too_deep(body) != std::string::npos) {
    return {};
  }
  const json document = json::parse(body, nullptr, false);
  if (!document.is_object() || document.value("kind", json()) != "Status") {
    return {};
  }
  const auto message = document.find("message");
  if (message == document.end() || !message->is_string()) {
    return {};
  }
  std::string text = util::scrub(message->get<std::string>(), secrets);
  if (text.size() > k_status_shown) {
    std::size_t cut = k_status_shown;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;  // not inside a UTF-8 sequence
    }
    text = text.substr(0, cut) + "...";
  }
  return util::one_line(text);
}

// What a request authenticates with.
struct Auth {
  std::string authorization;  // the header's value, "" for none
  std::string certificate_pem;
  std::string key_pem;
  std::vector<std::string> secrets;  // to hide from messages
};

}  // namespace

struct Client::State {
  Connection connection;
  ClientOptions options;
  std::string certificate_pem;  // the user's client certificate, read at make
  std::string key_pem;

  // The token file as last read, re-read when its size or time changes.
  mutable std::mutex token_mutex;
  mutable fs::file_time_type token_time;
  mutable std::uintmax_t token_size = 0;
  mutable std::string token;

  std::string shown_user() const {
    return connection.user.name.empty() ? std::string("(none)") : connection.user.name;
  }

  Result<std::string> file_token(const std::string& what) const {
    const std::string& file = connection.user.token_file;
    std::error_code ec;
    const auto time = fs::last_write_time(file, ec);
    const auto size = ec ? 0 : fs::file_size(file, ec);
    std::lock_guard lock(token_mutex);
    if (!ec && !token.empty() && time == token_time && size == token_size) {
      return token;
    }
    auto text = util::read_file(file, 1u << 20);
    if (!text) {
      return make_error(ErrorKind::http, what + ": cannot read the token file of user " +
                                             single_quoted(shown_user()) + ": " +
                                             text.error().message);
    }
    std::string read = std::move(*text);
    read.erase(read.find_last_not_of(" \t\r\n") + 1);
    read.erase(0, read.find_first_not_of(" \t\r\n"));
    if (read.empty()) {
      return make_error(ErrorKind::http, what + ": the token file " + file + " of user " +
                                             single_quoted(shown_user()) + " is empty");
    }
    token = std::move(read);
    token_time = time;
    token_size = size;
    return token;
  }

  Result<Auth> auth(const std::string& what) const {
    const User& user = connection.user;
    Auth auth;
    auth.certificate_pem = certificate_pem;
    auth.key_pem = key_pem;
    std::string bearer = user.token;
    if (bearer.empty() && !user.token_file.empty()) {
      auto read = file_token(what);
      if (!read) {
        return read.error();
      }
      bearer = std::move(*read);
    }
    if (bearer.empty() && user.exec) {
      auto credential = exec_credential(user, connection.cluster, options.exec_timeout);
      if (!credential) {
        return make_error(credential.error().kind, what + ": " + credential.error().message);
      }
      bearer = credential->token;
      if (!credential->client_certificate_pem.empty()) {
        auth.certificate_pem = credential->client_certificate_pem;
        auth.key_pem = credential->client_key_pem;
      }
    }
    if (!bearer.empty()) {
      auth.authorization = "Bearer " + bearer;
      auth.secrets.push_back(bearer);
    } else if (!user.username.empty() || !user.password.empty()) {
      auth.authorization = http::basic_authorization(user.username, user.password);
      auth.secrets.push_back(user.password);
      auth.secrets.push_back(auth.authorization);
    }
    return auth;
  }

  Result<Found> judge(const http::Response& response, const std::string& what,
                      const std::vector<std::string>& secrets) const {
    if (response.status == 404) {
      return Found();
    }
    if (response.status / 100 == 2) {
      if (util::json_too_deep(response.body) != std::string::npos) {
        return make_error(ErrorKind::http, what + ": the answer nests too deeply");
      }
      json body = json::parse(response.body, nullptr, false);
      if (body.is_discarded()) {
        return make_error(ErrorKind::http, what + ": the answer is not JSON");
      }
      return Found(std::move(body));
    }
    const std::string message = status_message(response.body, secrets);
    std::string text = what + ": " + std::to_string(response.status);
    if (const std::string phrase = reason(response.status); !phrase.empty()) {
      text += " " + phrase;
    }
    const std::string who = "user " + single_quoted(shown_user()) + " (context " +
                            single_quoted(connection.context) + ")";
    if (response.status == 401) {
      text += ": the server did not accept the credentials of " + who;
    } else if (response.status == 403) {
      text += " for " + who;
    }
    if (!message.empty()) {
      text += ": " + message;
    }
    return make_error(ErrorKind::http, std::move(text));
  }
};

Result<Client> Client::make(Connection connection, ClientOptions options) {
  auto state = std::make_shared<State>();
  const User& user = connection.user;
  const auto read = [&user](const std::string& file, const char* what) -> Result<std::string> {
    auto text = util::read_file(file, 1u << 20);
    if (!text) {
      return make_error(ErrorKind::config, user.where + ": cannot read the " + what + " of user " +
                                               single_quoted(user.name) + ": " +
                                               text.error().message);
    }
    return text;
  };
  state->certificate_pem = user.client_certificate_pem;
  state->key_pem = user.client_key_pem;
  if (!user.client_certificate_file.empty()) {
    auto text = read(user.client_certificate_file, "client certificate");
    if (!text) {
      return text.error();
    }
    state->certificate_pem = std::move(*text);
  }
  if (!user.client_key_file.empty()) {
    auto text = read(user.client_key_file, "client key");
    if (!text) {
      return text.error();
    }
    state->key_pem = std::move(*text);
  }
  const Cluster& cluster = connection.cluster;
  std::error_code ec;
  if (cluster.ca_pem.empty() && !cluster.ca_file.empty() && !fs::exists(cluster.ca_file, ec)) {
    return make_error(ErrorKind::config, cluster.where + ": the certificate-authority " +
                                             cluster.ca_file + " of cluster " +
                                             single_quoted(cluster.name) + " does not exist");
  }
  state->connection = std::move(connection);
  state->options = options;
  return Client(std::move(state));
}

asio::awaitable<Result<Found>> Client::get(std::string path) const {
  const State& state = *m_state;
  std::string server = state.connection.cluster.server;
  while (!server.empty() && server.back() == '/') {
    server.pop_back();
  }
  http::Request request;
  request.url = server + path;
  request.timeout = state.options.timeout;
  request.ca_file = state.connection.cluster.ca_file;
  request.ca_pem = state.connection.cluster.ca_pem;
  request.tls_server_name = state.connection.cluster.tls_server_name;
  request.headers = {{"Accept", "application/json"}};
  const std::string what = "GET " + http::redact_url(request.url);
  for (int attempt = 0;; ++attempt) {
    auto auth = state.auth(what);
    if (!auth) {
      co_return auth.error();
    }
    http::Request sent = request;
    if (!auth->authorization.empty()) {
      sent.headers.emplace_back("Authorization", auth->authorization);
    }
    sent.client_certificate_pem = auth->certificate_pem;
    sent.client_key_pem = auth->key_pem;
    auto response = co_await http::request(std::move(sent));
    if (!response) {
      co_return response.error();  // http::request never quotes a header's value
    }
    // A plugin's credential may have been revoked before its expiry: kubectl asks again once.
    if (response->status == 401 && state.connection.user.exec && attempt == 0 &&
        state.connection.user.token.empty() && state.connection.user.token_file.empty()) {
      forget_exec_credential(state.connection.user, state.connection.cluster);
      continue;
    }
    co_return state.judge(*response, what, auth->secrets);
  }
}

Result<Found> Client::get_blocking(std::string path) const {
  asio::io_context io;
  std::optional<Result<Found>> out;
  asio::co_spawn(io, get(std::move(path)), [&out](std::exception_ptr error, Result<Found> result) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        out.emplace(make_error(ErrorKind::internal, e.what()));
      }
      return;
    }
    out.emplace(std::move(result));
  });
  io.run();
  if (!out) {
    return make_error(ErrorKind::internal, "the Kubernetes request did not complete");
  }
  return std::move(*out);
}

asio::awaitable<Result<Found>> Client::get_object(std::string_view group, std::string_view version,
                                                  std::string_view namespace_name,
                                                  std::string_view plural,
                                                  std::string_view name) const {
  co_return co_await get(resource_path(group, version, namespace_name, plural, name));
}

asio::awaitable<Result<Found>> Client::list(std::string_view group, std::string_view version,
                                            std::string_view namespace_name,
                                            std::string_view plural,
                                            std::string_view label_selector) const {
  std::string path = resource_path(group, version, namespace_name, plural);
  if (!label_selector.empty()) {
    path += "?labelSelector=" + util::percent_encode(label_selector);
  }
  co_return co_await get(std::move(path));
}

const std::string& Client::context() const {
  return m_state->connection.context;
}
const std::string& Client::user() const {
  return m_state->connection.user.name;
}
const std::string& Client::server() const {
  return m_state->connection.cluster.server;
}
const std::string& Client::namespace_name() const {
  return m_state->connection.namespace_name;
}

std::string resource_path(std::string_view group, std::string_view version,
                          std::string_view namespace_name, std::string_view plural,
                          std::string_view name) {
  std::string path =
      group.empty() ? "/api/" + util::percent_encode(version)
                    : "/apis/" + util::percent_encode(group) + "/" + util::percent_encode(version);
  if (!namespace_name.empty()) {
    path += "/namespaces/" + util::percent_encode(namespace_name);
  }
  path += "/" + util::percent_encode(plural);
  if (!name.empty()) {
    path += "/" + util::percent_encode(name);
  }
  return path;
}

bool worth_retrying(const Error& error) {
  if (!http::worth_retrying(error)) {
    return false;
  }
  // "GET URL: NNN ...": a URL holds no ": ", so the first one is before the status.
  const std::string& text = error.message;
  const auto colon = text.find(": ");
  if (colon == std::string::npos || colon + 6 > text.size()) {
    return true;
  }
  const std::string_view status = std::string_view(text).substr(colon + 2, 4);
  const bool digits = status[0] == '4' && std::isdigit(static_cast<unsigned char>(status[1])) &&
                      std::isdigit(static_cast<unsigned char>(status[2])) &&
                      (status[3] == ' ' || status[3] == ':');
  return !digits || status.starts_with("408") || status.starts_with("429");
}

Result<Client> connect(std::string_view context, ClientOptions options) {
  auto connection = find_connection(context);
  if (!connection) {
    return connection.error();
  }
  return Client::make(std::move(*connection), options);
}

}  // namespace promote::kube
