#include "tests/support/servers/https_api.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace promote::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace {

constexpr auto k_use = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    segments.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

// --- certificates, with the OpenSSL API ---------------------------------------------------

void check(bool ok, const std::string& what) {
  if (!ok) {
    throw std::runtime_error("https_api: " + what + " failed");
  }
}

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;

Key make_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  check(key != nullptr, "generating an EC key");
  return Key(key, EVP_PKEY_free);
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  check(extension != nullptr, "making the extension " + value);
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (self-signed when
// `issuer` is null), valid from an hour ago for a day.
Certificate make_certificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                             EVP_PKEY* issuer_key, long serial,
                             const std::vector<std::pair<int, std::string>>& extensions) {
  Certificate certificate(X509_new(), X509_free);
  check(certificate != nullptr, "X509_new");
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24 * 3600);
  X509_set_pubkey(certificate.get(), key);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("promote tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer != nullptr ? issuer : certificate.get();
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(signer));
  for (const auto& [nid, value] : extensions) {
    add_extension(certificate.get(), signer, nid, value);
  }
  check(X509_sign(certificate.get(), issuer_key, EVP_sha256()) > 0, "signing " + common_name);
  return certificate;
}

std::string to_pem(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, certificate);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string to_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

struct Route {
  std::string method;
  std::vector<std::string> pattern;
  HttpsApi::Handler handler;
};

}  // namespace

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string ApiRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return {};
}

std::string ApiRequest::query_value(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) {
      return value;
    }
  }
  return {};
}

bool ApiRequest::has_query(std::string_view name) const {
  for (const auto& entry : query) {
    if (entry.first == name) {
      return true;
    }
  }
  return false;
}

ApiReply json_reply(unsigned status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("Content-Type", "application/json");
  return ApiReply{status, std::move(body), std::move(headers)};
}

struct HttpsApi::State {
  // Declared before the io_context, so that it outlives the sessions the io_context ends.
  ssl::context context{ssl::context::tls_server};
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  fs::path dir;
  std::string ca_file;
  Key ca_key{nullptr, EVP_PKEY_free};
  Certificate ca{nullptr, X509_free};
  std::atomic<long> serial{10};
  mutable std::mutex mutex;
  std::vector<Route> routes;
  std::vector<ApiRequest> log;
  std::atomic<int> connections{0};
  std::thread thread;

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(k_use);
      if (ec) {
        co_return;
      }
      ++connections;
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  ApiReply answer(ApiRequest& request) {
    Handler handler;
    {
      std::lock_guard lock(mutex);
      const auto segments = split_path(request.path);
      for (const Route& route : routes) {
        if (route.method != request.method || route.pattern.size() != segments.size()) {
          continue;
        }
        std::vector<std::string> params;
        bool match = true;
        for (std::size_t i = 0; i < segments.size() && match; ++i) {
          if (route.pattern[i] == "*") {
            params.push_back(segments[i]);
          } else {
            match = route.pattern[i] == segments[i];
          }
        }
        if (match) {
          request.params = std::move(params);
          handler = route.handler;
          break;
        }
      }
      log.push_back(request);
    }
    if (!handler) {
      return json_reply(404, R"({"message":"Not Found"})");
    }
    return handler(request);
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), context);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [handshake_error] = co_await stream.async_handshake(ssl::stream_base::server, k_use);
    if (handshake_error) {
      co_return;
    }
    std::string client_name;
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
      char name[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof name);
      client_name = name;
      X509_free(peer);
    }
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> message;
    auto [read_error, read] = co_await bhttp::async_read(stream, buffer, message, k_use);
    if (read_error) {
      co_return;
    }
    ApiRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    const auto question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) {
      const std::string query = request.target.substr(question + 1);
      std::size_t start = 0;
      while (start < query.size()) {
        const std::size_t end = std::min(query.find('&', start), query.size());
        const std::string pair = query.substr(start, end - start);
        const auto equals = pair.find('=');
        request.query.emplace_back(
            percent_decode(pair.substr(0, equals)),
            equals == std::string::npos ? std::string() : percent_decode(pair.substr(equals + 1)));
        start = end + 1;
      }
    }
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.client_name = std::move(client_name);

    const ApiReply reply = answer(request);
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(reply.status), 11};
    for (const auto& [name, value] : reply.headers) {
      response.set(name, value);
    }
    response.keep_alive(false);
    response.body() = reply.body;
    response.prepare_payload();
    auto [write_error, written] = co_await bhttp::async_write(stream, response, k_use);
    if (!write_error) {
      co_await stream.async_shutdown(k_use);
    }
  }
};

HttpsApi::HttpsApi(const std::vector<std::string>& names) : m_state(std::make_unique<State>()) {
  Key ca_key = make_key();
  Certificate ca = make_certificate(ca_key.get(), "promote test CA", nullptr, ca_key.get(), 1,
                                    {{NID_basic_constraints, "critical,CA:TRUE"},
                                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                     {NID_subject_key_identifier, "hash"}});
  std::string alt_names = "IP:127.0.0.1,DNS:localhost";
  for (const auto& name : names) {
    alt_names += ",DNS:" + name;
  }
  const Key key = make_key();
  const Certificate certificate =
      make_certificate(key.get(), "localhost", ca.get(), ca_key.get(), 2,
                       {{NID_basic_constraints, "critical,CA:FALSE"},
                        {NID_key_usage, "critical,digitalSignature"},
                        {NID_ext_key_usage, "serverAuth"},
                        {NID_subject_key_identifier, "hash"},
                        {NID_authority_key_identifier, "keyid:always"},
                        {NID_subject_alt_name, alt_names}});

  std::string pattern = (fs::temp_directory_path() / "promote-https-XXXXXX").string();
  check(mkdtemp(pattern.data()) != nullptr, "making a temp dir");
  m_state->dir = pattern;
  m_state->ca_file = (m_state->dir / "ca.pem").string();
  std::ofstream(m_state->ca_file) << to_pem(ca.get());

  const std::string certificate_pem = to_pem(certificate.get());
  const std::string key_pem = to_pem(key.get());
  m_state->context.use_certificate_chain(asio::buffer(certificate_pem));
  m_state->context.use_private_key(asio::buffer(key_pem), ssl::context::pem);

  m_state->ca_key = std::move(ca_key);
  m_state->ca = std::move(ca);

  asio::co_spawn(m_state->io, m_state->serve(), asio::detached);
  m_state->thread = std::thread([state = m_state.get()] { state->io.run(); });
}

void HttpsApi::require_client_certificate() {
  const std::string ca_pem = to_pem(m_state->ca.get());
  m_state->context.add_certificate_authority(asio::buffer(ca_pem));
  m_state->context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
}

std::pair<std::string, std::string> HttpsApi::client_certificate(
    const std::string& common_name) const {
  const Key key = make_key();
  const Certificate certificate = make_certificate(
      key.get(), common_name, m_state->ca.get(), m_state->ca_key.get(), m_state->serial++,
      {{NID_basic_constraints, "critical,CA:FALSE"},
       {NID_key_usage, "critical,digitalSignature"},
       {NID_ext_key_usage, "clientAuth"},
       {NID_authority_key_identifier, "keyid:always"}});
  return {to_pem(certificate.get()), to_pem(key.get())};
}

HttpsApi::~HttpsApi() {
  m_state->io.stop();
  m_state->thread.join();
  std::error_code ignored;
  fs::remove_all(m_state->dir, ignored);
}

void HttpsApi::route(const std::string& method, const std::string& pattern, Handler handler) {
  std::lock_guard lock(m_state->mutex);
  auto segments = split_path(pattern);
  for (Route& route : m_state->routes) {
    if (route.method == method && route.pattern == segments) {
      route.handler = std::move(handler);
      return;
    }
  }
  m_state->routes.push_back(Route{method, std::move(segments), std::move(handler)});
}

unsigned short HttpsApi::port() const {
  return m_state->acceptor.local_endpoint().port();
}

std::string HttpsApi::url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(port()) + path;
}

const std::string& HttpsApi::ca_file() const {
  return m_state->ca_file;
}

std::vector<ApiRequest> HttpsApi::log() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->log;
}

std::vector<ApiRequest> HttpsApi::requests(const std::string& method,
                                           const std::string& path) const {
  std::lock_guard lock(m_state->mutex);
  std::vector<ApiRequest> out;
  for (const auto& request : m_state->log) {
    if (request.method == method && request.path == path) {
      out.push_back(request);
    }
  }
  return out;
}

void HttpsApi::clear_log() {
  std::lock_guard lock(m_state->mutex);
  m_state->log.clear();
}

int HttpsApi::connections() const {
  return m_state->connections;
}

}  // namespace promote::test
