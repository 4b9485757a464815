#include "engine/git/signing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <variant>
#include <vector>

#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/process.hpp"
#include "engine/util/secrets.hpp"
#include "engine/util/text.hpp"

namespace promote::git {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_literal_prefix = "key::";
constexpr std::string_view k_begin = "-----BEGIN SSH SIGNATURE-----";
constexpr std::string_view k_end = "-----END SSH SIGNATURE-----";
constexpr std::size_t k_max_signature = 64 << 10;  // an ed25519 one is 300 bytes, RSA 4096 2 KiB
constexpr std::size_t k_max_principals = 32;       // names of one key tried, each a run

/// The bytes of standard base64 `text` (padding required, no other characters), or nullopt.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') {
      return std::nullopt;  // "x=y=" and the like
    }
    unsigned n = 0;
    for (int j = 0; j < 4 - pad; ++j) {
      const int v = value(text[i + j]);
      if (v < 0) {
        return std::nullopt;
      }
      n = (n << 6) | static_cast<unsigned>(v);
    }
    n <<= 6 * pad;
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) {
      out += static_cast<char>((n >> 8) & 0xff);
    }
    if (pad < 1) {
      out += static_cast<char>(n & 0xff);
    }
  }
  return out;
}

/// "SHA256:" and the unpadded base64 of the SHA-256 of a public key blob, as ssh-keygen -l
/// shows a key.
std::string fingerprint(std::string_view key_blob) {
  const std::string hex = util::sha256_hex(key_blob);
  std::string raw;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  std::string encoded = util::base64(raw);
  while (!encoded.empty() && encoded.back() == '=') {
    encoded.pop_back();
  }
  return "SHA256:" + encoded;
}

/// Reads the fields of the SSH wire format (RFC 4251: uint32, string).
struct WireReader {
  std::string_view rest;
  bool u32(std::uint32_t& value) {
    if (rest.size() < 4) {
      return false;
    }
    value = 0;
    for (int i = 0; i < 4; ++i) {
      value = (value << 8) | static_cast<unsigned char>(rest[i]);
    }
    rest.remove_prefix(4);
    return true;
  }
  bool string(std::string_view& value) {
    std::uint32_t size = 0;
    if (!u32(size) || rest.size() < size) {
      return false;
    }
    value = rest.substr(0, size);
    rest.remove_prefix(size);
    return true;
  }
};

/// What an armored SSH signature says of itself (PROTOCOL.sshsig): who claims to have made it,
/// in what namespace. Only for the reasons of a verification; ssh-keygen judges it.
struct Parsed {
  std::string key_type;
  std::string fingerprint;
  std::string name_space;
};

/// The parts of an armored signature, or why it is not one.
std::variant<Parsed, std::string> parse_signature(std::string_view text) {
  if (text.size() > k_max_signature) {
    return "it is larger than " + std::to_string(k_max_signature >> 10) + " KiB";
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (!text.starts_with(k_begin) || !text.ends_with(k_end)) {
    return std::string("it is not enclosed in \"") + std::string(k_begin) + "\" and \"" +
           std::string(k_end) + "\"";
  }
  std::string body;
  for (const char c : text.substr(k_begin.size(), text.size() - k_begin.size() - k_end.size())) {
    if (c != '\n' && c != '\r') {
      body += c;
    }
  }
  const auto blob = base64_decode(body);
  if (!blob) {
    return std::string("its body is not base64");
  }
  WireReader reader{*blob};
  std::uint32_t version = 0;
  std::string_view key;
  std::string_view name_space;
  std::string_view reserved;
  std::string_view hash;
  std::string_view signature;
  if (!reader.rest.starts_with("SSHSIG")) {
    return std::string("it does not start with \"SSHSIG\"");
  }
  reader.rest.remove_prefix(6);
  if (!reader.u32(version) || !reader.string(key) || !reader.string(name_space) ||
      !reader.string(reserved) || !reader.string(hash) || !reader.string(signature) ||
      !reader.rest.empty()) {
    return std::string("its fields are cut short or followed by more bytes");
  }
  if (version != 1) {
    return "its version is " + std::to_string(version) + ", not 1";
  }
  WireReader key_reader{key};
  std::string_view key_type;
  if (!key_reader.string(key_type)) {
    return std::string("its public key is cut short");
  }
  return Parsed{util::one_line(key_type), fingerprint(key), std::string(name_space)};
}

/// A directory of our own (mode 0700) under the temp directory, removed with what it holds.
class PrivateDir {
 public:
  static Result<PrivateDir> make() {
    std::error_code ec;
    std::string pattern = (fs::temp_directory_path(ec) / "promote-ssh-XXXXXX").string();
    if (ec || ::mkdtemp(pattern.data()) == nullptr) {
      return make_error(ErrorKind::input, "cannot create a private temporary directory: " +
                                              std::string(std::strerror(errno)));
    }
    return PrivateDir(pattern);
  }
  PrivateDir(PrivateDir&& other) noexcept : m_path(std::exchange(other.m_path, {})) {}
  PrivateDir& operator=(PrivateDir&&) = delete;
  ~PrivateDir() {
    if (!m_path.empty()) {
      std::error_code ignored;
      fs::remove_all(m_path, ignored);
    }
  }
  const fs::path& path() const { return m_path; }

  /// Writes a new file `name` (mode 0600) holding `data`; returns its path.
  Result<fs::path> write(const std::string& name, std::string_view data) const {
    const fs::path file = m_path / name;
    const util::UniqueFd fd(
        ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    std::size_t written = 0;
    while (fd.valid() && written < data.size()) {
      const ssize_t n = ::write(fd.get(), data.data() + written, data.size() - written);
      if (n < 0 && errno != EINTR) {
        break;
      }
      written += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    if (!fd.valid() || written < data.size()) {
      return make_error(ErrorKind::input,
                        "cannot write " + file.string() + ": " + std::strerror(errno));
    }
    return file;
  }

 private:
  explicit PrivateDir(fs::path path) : m_path(std::move(path)) {}
  fs::path m_path;
};

/// Why `file` cannot be read as a regular file, or "" when it can.
std::string unreadable(const fs::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) {
    return std::strerror(errno);
  }
  if (!S_ISREG(info.st_mode)) {
    return "not a regular file";
  }
  return ::access(file.c_str(), R_OK) != 0 ? std::strerror(errno) : "";
}

/// The ssh-keygen on PATH, or an error saying where to get it.
Result<fs::path> ssh_keygen() {
  if (auto found = util::find_program("ssh-keygen", util::path_variable())) {
    return *found;
  }
  return make_error(ErrorKind::input,
                    "ssh-keygen is not installed (not found on PATH): SSH signatures need "
                    "OpenSSH's ssh-keygen (Debian package openssh-client)");
}

/// The last non-empty line ssh-keygen wrote on stderr, made printable; "" when none.
std::string last_error_line(const util::ProcessOutput& output) {
  std::string_view text = output.err_tail;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  const std::size_t start = text.rfind('\n');
  return util::one_line(start == std::string_view::npos ? text : text.substr(start + 1));
}

/// Runs ssh-keygen with `arguments` in `dir`, `input` on its stdin. Fails (input) when it
/// cannot be started or takes too long; `doing` starts the message.
Result<util::ProcessOutput> run_ssh_keygen(const fs::path& program,
                                           const std::vector<std::string>& arguments,
                                           std::string input, const PrivateDir& dir,
                                           const std::string& doing) {
  util::ProcessSpec spec;
  spec.argv.push_back(program.string());
  spec.argv.insert(spec.argv.end(), arguments.begin(), arguments.end());
  spec.environment.push_back("PATH=" + util::path_variable());
  for (const char* name : {"HOME", "SSH_AUTH_SOCK"}) {
    if (const char* value = std::getenv(name); value != nullptr) {
      spec.environment.push_back(std::string(name) + "=" + value);
    }
  }
  spec.cwd = dir.path();
  spec.input = std::move(input);
  spec.shown = program.string();
  util::ProcessLimits limits;
  limits.max_stdout = 64 << 10;
  limits.max_stderr = 4 << 10;
  limits.timeout = k_ssh_keygen_timeout;
  limits.new_session = true;
  auto output = util::run_process(spec, limits);
  if (!output) {
    return make_error(ErrorKind::input, doing + ": " + output.error().message);
  }
  if (output->timed_out || output->cancelled) {
    return make_error(
        ErrorKind::input,
        doing + ": ssh-keygen " +
            (output->timed_out
                 ? "took longer than " + std::to_string(k_ssh_keygen_timeout.count()) + "s"
                 : std::string("was stopped")));
  }
  return output;
}

/// How a failed run of ssh-keygen ended, for a message: "exited with status 255: LAST LINE".
std::string how_it_failed(const util::ProcessOutput& output) {
  std::string how = output.out_too_large ? "printed too much"
                    : output.exit_code   ? "exited with status " + std::to_string(*output.exit_code)
                    : output.signal      ? "was killed by signal " + std::to_string(*output.signal)
                                         : "failed";
  const std::string line = last_error_line(output);
  return line.empty() ? how : how + ": " + line;
}

}  // namespace

Result<Signer> Signer::from_key(const std::string& key) {
  if (key.starts_with(k_literal_prefix)) {
    std::string literal = key.substr(k_literal_prefix.size());
    const std::size_t space = literal.find(' ');
    const auto type_ok = [&] {
      return space != 0 && space != std::string::npos &&
             literal.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-@.") >= space;
    };
    const std::size_t blob_end = std::min(literal.find(' ', space + 1), literal.size());
    const auto blob =
        type_ok() ? base64_decode(literal.substr(space + 1, blob_end - space - 1)) : std::nullopt;
    if (!blob || blob->empty() || util::one_line(literal) != literal) {
      return make_error(ErrorKind::input,
                        "a \"key::\" signing key is a public key on one line, as "
                        "\"key::ssh-ed25519 AAAA... [comment]\"");
    }
    return Signer(std::move(literal), true);
  }
  std::error_code ec;
  const fs::path file = fs::absolute(key, ec);
  if (const std::string why = key.empty() ? "no path given"
                              : ec        ? ec.message()
                                          : unreadable(file);
      !why.empty()) {
    return make_error(ErrorKind::input,
                      "cannot read the signing key " + util::one_line(key) + ": " + why);
  }
  return Signer(file.string(), false);
}

Result<std::optional<Signer>> Signer::from_environment() {
  const char* value = std::getenv(k_signing_key_variable);
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  auto signer = from_key(value);
  if (!signer) {
    return make_error(signer.error().kind,
                      std::string(k_signing_key_variable) + ": " + signer.error().message);
  }
  return std::optional<Signer>(std::move(*signer));
}

std::string Signer::shown() const {
  if (!m_literal) {
    return m_key;
  }
  const std::size_t space = m_key.find(' ');
  const std::size_t end = std::min(m_key.find(' ', space + 1), m_key.size());
  const auto blob = base64_decode(m_key.substr(space + 1, end - space - 1));
  return "key::" + m_key.substr(0, space) + " " + fingerprint(blob.value_or(""));
}

Result<std::string> Signer::sign(std::string_view data, std::string_view name_space) const {
  const std::string doing = "cannot sign with " + shown();
  auto program = ssh_keygen();
  if (!program) {
    return make_error(ErrorKind::input, doing + ": " + program.error().message);
  }
  auto dir = PrivateDir::make();
  if (!dir) {
    return make_error(ErrorKind::input, doing + ": " + dir.error().message);
  }
  auto data_file = dir->write("data", data);
  if (!data_file) {
    return make_error(ErrorKind::input, doing + ": " + data_file.error().message);
  }
  std::vector<std::string> arguments = {"-Y", "sign", "-n", std::string(name_space), "-f"};
  if (m_literal) {
    // As git does with a literal key: the public key in a file, and -U (the private half is
    // in the agent, and only there).
    auto key_file = dir->write("key.pub", m_key + "\n");
    if (!key_file) {
      return make_error(ErrorKind::input, doing + ": " + key_file.error().message);
    }
    arguments.push_back(key_file->string());
    arguments.push_back("-U");
  } else {
    arguments.push_back(m_key);
  }
  // The data as a file, as git passes it: ssh-keygen reads a passphrase from stdin when it
  // has no terminal, and must find none there rather than the data.
  arguments.push_back(data_file->string());
  auto output = run_ssh_keygen(*program, arguments, {}, *dir, doing);
  if (!output) {
    return output.error();
  }
  if (!output->succeeded()) {
    return make_error(ErrorKind::input, doing + ": ssh-keygen " + how_it_failed(*output));
  }
  auto signature = util::read_file(dir->path() / "data.sig", k_max_signature);
  if (!signature || !signature->starts_with(k_begin)) {
    return make_error(ErrorKind::input, doing + ": ssh-keygen wrote no signature");
  }
  if (!signature->ends_with('\n')) {
    *signature += '\n';
  }
  return *signature;
}

const char* to_string(Verification::Status status) {
  switch (status) {
    case Verification::Status::good:
      return "good";
    case Verification::Status::bad:
      return "bad";
    case Verification::Status::unknown_key:
      return "unknown key";
    case Verification::Status::malformed:
      return "malformed";
  }
  return "malformed";
}

Result<Verification> verify(std::string_view data, std::string_view signature,
                            const fs::path& allowed_signers, std::string_view name_space) {
  using Status = Verification::Status;
  const std::string doing = "cannot check a signature";
  Verification result;
  auto parsed = parse_signature(signature);
  if (const auto* why = std::get_if<std::string>(&parsed)) {
    result.reason = "not an SSH signature: " + *why;
    return result;
  }
  const Parsed& claims = std::get<Parsed>(parsed);
  result.fingerprint = claims.fingerprint;

  std::error_code ec;
  const fs::path allowed = fs::absolute(allowed_signers, ec);
  if (const std::string why = ec ? ec.message() : unreadable(allowed); !why.empty()) {
    return make_error(ErrorKind::input, doing + ": cannot read allowed signers " +
                                            util::one_line(allowed_signers.string()) + ": " + why);
  }
  auto program = ssh_keygen();
  if (!program) {
    return make_error(ErrorKind::input, doing + ": " + program.error().message);
  }
  auto dir = PrivateDir::make();
  if (!dir) {
    return make_error(ErrorKind::input, doing + ": " + dir.error().message);
  }
  std::string text(signature);
  if (!text.ends_with('\n')) {
    text += '\n';
  }
  auto signature_file = dir->write("signature", text);
  if (!signature_file) {
    return make_error(ErrorKind::input, doing + ": " + signature_file.error().message);
  }
  const std::string ns(name_space);
  auto found = run_ssh_keygen(
      *program,
      {"-Y", "find-principals", "-s", signature_file->string(), "-f", allowed.string(), "-n", ns},
      {}, *dir, doing);
  if (!found) {
    return found.error();
  }
  std::vector<std::string> principals;
  for (std::size_t start = 0; found->succeeded() && start < found->out.size();) {
    const std::size_t end = std::min(found->out.find('\n', start), found->out.size());
    if (end > start) {
      principals.push_back(found->out.substr(start, end - start));
    }
    start = end + 1;
  }
  if (principals.empty()) {
    result.status = Status::unknown_key;
    result.reason = claims.key_type + " key " + claims.fingerprint + " is not in " +
                    util::one_line(allowed_signers.string());
    return result;
  }
  if (principals.size() > k_max_principals) {
    principals.resize(k_max_principals);
  }
  std::string refused;
  for (const auto& principal : principals) {
    auto checked = run_ssh_keygen(*program,
                                  {"-Y", "verify", "-f", allowed.string(), "-I", principal, "-n",
                                   ns, "-s", signature_file->string()},
                                  std::string(data), *dir, doing);
    if (!checked) {
      return checked.error();
    }
    if (checked->succeeded()) {
      result.status = Status::good;
      result.principal = util::one_line(principal);
      return result;
    }
    if (refused.empty()) {
      refused = last_error_line(*checked);
    }
  }
  result.status = Status::bad;
  if (claims.name_space != name_space) {
    result.reason = "signed in namespace \"" + util::one_line(claims.name_space) + "\", not \"" +
                    util::one_line(name_space) + "\"";
  } else {
    result.reason = "ssh-keygen -Y verify refuses it" + (refused.empty() ? "" : ": " + refused);
  }
  return result;
}

}  // namespace promote::git
