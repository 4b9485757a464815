// The helpers that repository.cpp, clone.cpp, commit.cpp, push.cpp and notes.cpp share
// (declared in libgit2.hpp): libgit2 set-up, errors, paths, remote callbacks, lookups.
#include "engine/git/libgit2.hpp"

#include <git2/sys/stream.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/git/repository.hpp"

namespace promote::git::detail {

namespace fs = std::filesystem;

#if PROMOTE_DEFERRED_TLS
// libgit2 1.5, as Debian builds it, sets up mbedTLS in git_libgit2_init: it seeds a random
// generator and parses the system's whole CA bundle (a few milliseconds), which a command that
// reads a local repository never uses. Linked statically, its calls into its own TLS stream are
// wrapped (the linker's --wrap, CMakeLists.txt): the set-up runs, once and whole, as libgit2
// wrote it, before the first TLS stream is made or a CA location set. The certificate checks
// are libgit2's own, unchanged.
extern "C" {
int __real_git_mbedtls_stream_global_init(void);
int __real_git_mbedtls_stream_new(git_stream** out, const char* host, const char* port);
int __real_git_mbedtls_stream_wrap(git_stream** out, git_stream* in, const char* host);
int __real_git_mbedtls__set_cert_location(const char* file, const char* path);
}

namespace {


/// Runs libgit2's TLS set-up the first time it is needed; its result, every time.
int set_up_tls() {
  static std::mutex mutex;
  static std::optional<int> result;
  std::lock_guard lock(mutex);
  if (!result) {
    result = __real_git_mbedtls_stream_global_init();
  }
  return *result;
}

}  // namespace

extern "C" {
int __wrap_git_mbedtls_stream_global_init(void) {
  return 0;
}
int __wrap_git_mbedtls_stream_new(git_stream** out, const char* host, const char* port) {
  const int ready = set_up_tls();
  return ready < 0 ? ready : __real_git_mbedtls_stream_new(out, host, port);
}
int __wrap_git_mbedtls_stream_wrap(git_stream** out, git_stream* in, const char* host) {
  const int ready = set_up_tls();
  return ready < 0 ? ready : __real_git_mbedtls_stream_wrap(out, in, host);
}
int __wrap_git_mbedtls__set_cert_location(const char* file, const char* path) {
  const int ready = set_up_tls();
  return ready < 0 ? ready : __real_git_mbedtls__set_cert_location(file, path);
}
}

#endif

void ensure_init() {
  static const int k_init = [] {
    const int count = git_libgit2_init();
    // Trees up to 1 MiB stay in the object cache (libgit2 keeps those up to 4 KiB): a
    // directory of 500 services is a 17 KiB tree, looked up once per file below it.
    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, std::size_t{1} << 20);
    return count;
  }();
  (void)k_init;
}

std::string last_error() {
  const git_error* error = git_error_last();
  std::string message =
      error != nullptr && error->message != nullptr ? error->message : "unknown libgit2 error";
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) {
    message.pop_back();
  }
  return message.empty() ? "unknown libgit2 error" : message;
}

Error failure(const std::string& doing) {
  return make_error(ErrorKind::git, redact(doing + ": " + last_error()));
}

Error problem(const std::string& doing, const std::string& what) {
  return make_error(ErrorKind::git, redact(doing + ": " + what));
}

std::string to_hex(const git_oid* id) {
  char buffer[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(buffer, sizeof buffer, id);
  return buffer;
}

bool is_missing(int code) { return code == GIT_ENOTFOUND || code == GIT_EUNBORNBRANCH; }

Result<std::string> repository_path(const std::string& path, const std::string& doing,
                                    bool allow_root) {
  const fs::path given(path);
  if (given.is_absolute()) {
    return problem(doing, "path '" + path + "' is absolute; give it relative to the repository");
  }
  std::string normal = given.lexically_normal().generic_string();
  while (!normal.empty() && normal.back() == '/') {
    normal.pop_back();
  }
  if (normal == ".") {
    normal.clear();
  }
  if (normal == ".." || normal.starts_with("../")) {
    return problem(doing, "path '" + path + "' is outside the repository");
  }
  if (normal == ".git" || normal.starts_with(".git/")) {
    return problem(doing, "path '" + path + "' is inside .git");
  }
  if (normal.empty() && !allow_root) {
    return problem(doing, "path '" + path + "' is the repository root, not a file");
  }
  return normal;
}

Result<std::vector<std::string>> repository_paths(const std::vector<std::string>& paths,
                                                  const std::string& doing, bool allow_root) {
  std::vector<std::string> out;
  for (const auto& path : paths) {
    auto normal = repository_path(path, doing, allow_root);
    if (!normal) {
      return normal.error();
    }
    out.push_back(*normal);
  }
  return out;
}

namespace {

int record_push_status(const char* refname, const char* status, void* payload) {
  if (status != nullptr) {
    static_cast<RemoteContext*>(payload)->rejected.emplace_back(refname, status);
  }
  return 0;
}

/// https remotes are verified against the CA file the HTTP client takes, when one is set. It is
/// read before the first remote across the network is reached, not at start: parsing a bundle
/// of CA certificates takes 10 ms, which a promotion that pushes to a path does not need.
void ensure_ca_file() {
  static const bool k_set = [] {
    for (const char* variable : {"PROMOTE_CA_FILE", "SSL_CERT_FILE"}) {
      if (const char* file = std::getenv(variable); file != nullptr && *file != '\0') {
        git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, static_cast<const char*>(nullptr));
        break;
      }
    }
    return true;
  }();
  (void)k_set;
}

}  // namespace

git_remote_callbacks remote_callbacks(RemoteContext& context) {
  if (context.url.find("://") != std::string::npos && !context.url.starts_with("file://")) {
    ensure_ca_file();
  }
  git_remote_callbacks callbacks;
  git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
  callbacks.credentials = detail::acquire_credentials;
  callbacks.certificate_check = detail::check_certificate;
  callbacks.push_update_reference = record_push_status;
  callbacks.payload = &context;
  return callbacks;
}

Error remote_failure(const std::string& doing, const RemoteContext& context) {
  if (!context.failure.empty()) {
    return problem(doing, context.failure);
  }
  const std::string said = last_error();
  const std::string hint = detail::ssh_hint(context, said);
  return problem(doing, hint.empty() ? said : said + "; " + hint);
}

int index_pack(git_odb* odb, std::string_view bytes) {
  git_odb_writepack* raw = nullptr;
  if (const int code = git_odb_write_pack(&raw, odb, nullptr, nullptr); code < 0) {
    return code;
  }
  const std::unique_ptr<git_odb_writepack, void (*)(git_odb_writepack*)> writer(
      raw, [](git_odb_writepack* open) { open->free(open); });
  git_indexer_progress progress{};
  if (const int code = writer->append(writer.get(), bytes.data(), bytes.size(), &progress);
      code < 0) {
    return code;
  }
  if (const int code = writer->commit(writer.get(), &progress); code < 0) {
    return code;
  }
  return git_odb_refresh(odb);
}

Result<IndexPtr> current_index(git_repository* repository, const std::string& doing) {
  git_index* raw_index = nullptr;
  if (git_repository_index(&raw_index, repository) < 0) {
    return failure(doing);
  }
  IndexPtr index(raw_index);
  if (git_index_read(index.get(), 0) < 0) {
    return failure(doing);
  }
  return index;
}

Result<std::string> head_branch(git_repository* repository, const std::string& doing) {
  git_reference* raw = nullptr;
  if (git_reference_lookup(&raw, repository, "HEAD") < 0) {
    return failure(doing);
  }
  const ReferencePtr head(raw);
  if (git_reference_type(head.get()) != GIT_REFERENCE_SYMBOLIC) {
    return problem(doing, "HEAD is detached at " +
                              to_hex(git_reference_target(head.get())).substr(0, 12) +
                              "; check out a branch first");
  }
  const std::string target = git_reference_symbolic_target(head.get());
  constexpr std::string_view k_heads = "refs/heads/";
  if (!target.starts_with(k_heads)) {
    return problem(doing, "HEAD points at " + target + ", which is not a branch");
  }
  return target.substr(k_heads.size());
}

Result<std::pair<git_oid, ObjectPtr>> commit_object(git_repository* repository,
                                                    const std::string& commit_id,
                                                    const std::string& doing) {
  git_oid id;
  if (git_oid_fromstr(&id, commit_id.c_str()) < 0) {
    return failure(doing);
  }
  git_object* raw = nullptr;
  if (git_object_lookup(&raw, repository, &id, GIT_OBJECT_COMMIT) < 0) {
    return failure(doing);
  }
  return std::pair<git_oid, ObjectPtr>{id, ObjectPtr(raw)};
}

namespace {

// url.BASE.insteadOf and url.BASE.pushInsteadOf of a configuration: (prefix, base) pairs.
struct Rewrites {
  std::vector<std::pair<std::string, std::string>> fetch;
  std::vector<std::pair<std::string, std::string>> push;
};

// `url` with the longest prefix of `rules` replaced by its base; as it is when none matches.
std::string rewritten(const std::string& url,
                      const std::vector<std::pair<std::string, std::string>>& rules,
                      bool* matched = nullptr) {
  const std::pair<std::string, std::string>* best = nullptr;
  for (const auto& rule : rules) {
    if (url.starts_with(rule.first) &&
        (best == nullptr || rule.first.size() > best->first.size())) {
      best = &rule;
    }
  }
  if (matched != nullptr) {
    *matched = best != nullptr;
  }
  return best == nullptr ? url : best->second + url.substr(best->first.size());
}

// The configuration value `key`, or nullopt when it is not set.
std::optional<std::string> config_text(git_config* config, const std::string& key) {
  git_buf value = GIT_BUF_INIT;
  if (git_config_get_string_buf(&value, config, key.c_str()) < 0) {
    git_error_clear();
    return std::nullopt;
  }
  std::string out(value.ptr, value.size);
  git_buf_dispose(&value);
  return out;
}

}  // namespace

int lookup_remote(git_remote** out, git_repository* repository, const std::string& name) {
  git_config* raw = nullptr;
  if (const int code = git_repository_config_snapshot(&raw, repository); code < 0) {
    return code;
  }
  const Owned<git_config, git_config_free> config(raw);
  const auto url = config_text(config.get(), "remote." + name + ".url");
  if (!url) {
    git_error_set_str(GIT_ERROR_CONFIG, ("remote '" + name + "' does not exist").c_str());
    return GIT_ENOTFOUND;
  }
  // Every entry, walked without a pattern (git_config_foreach compiles none).
  Rewrites rewrites;
  const int walked = git_config_foreach(
      config.get(),
      [](const git_config_entry* entry, void* payload) {
        const std::string_view key = entry->name;
        auto& found = *static_cast<Rewrites*>(payload);
        // Keys come lower-cased but for their middle part: "url.BASE.insteadof".
        for (const auto& [suffix, list] :
             {std::pair{std::string_view(".insteadof"), &found.fetch},
              std::pair{std::string_view(".pushinsteadof"), &found.push}}) {
          if (key.starts_with("url.") && key.ends_with(suffix) && key.size() > 4 + suffix.size()) {
            list->emplace_back(entry->value,
                               std::string(key.substr(4, key.size() - 4 - suffix.size())));
          }
        }
        return 0;
      },
      &rewrites);
  if (walked < 0) {
    return walked;
  }
  const auto pushurl = config_text(config.get(), "remote." + name + ".pushurl");
  git_remote_create_options options;
  git_remote_create_options_init(&options, GIT_REMOTE_CREATE_OPTIONS_VERSION);
  options.repository = repository;
  options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  const std::string fetch_url = rewritten(*url, rewrites.fetch);
  if (const int code = git_remote_create_with_opts(out, fetch_url.c_str(), &options); code < 0) {
    return code;
  }
  std::string push_url;
  if (pushurl) {
    push_url = rewritten(*pushurl, rewrites.fetch);
  } else {
    bool matched = false;
    push_url = rewritten(*url, rewrites.push, &matched);
    if (!matched) {
      return 0;  // the url serves both
    }
  }
  if (const int code = git_remote_set_instance_pushurl(*out, push_url.c_str()); code < 0) {
    git_remote_free(*out);
    *out = nullptr;
    return code;
  }
  return 0;
}

}  // namespace promote::git::detail
