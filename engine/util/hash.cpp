#include "engine/util/hash.hpp"

#include <openssl/evp.h>

#include <array>
#include <fstream>
#include <memory>

namespace promote::util {
namespace {

struct DigestContext {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  DigestContext() { EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr); }
  void update(const char* data, std::size_t size) { EVP_DigestUpdate(ctx.get(), data, size); }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx.get(), digest.data(), &size);
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (unsigned int i = 0; i < size; ++i) {
      out += k_hex[digest[i] >> 4];
      out += k_hex[digest[i] & 0xf];
    }
    return out;
  }
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  DigestContext digest;
  digest.update(data.data(), data.size());
  return digest.hex();
}

Result<std::string> sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorKind::input, path.string() + ": cannot open file");
  }
  DigestContext digest;
  std::array<char, 1 << 16> buffer{};
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    digest.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) {
    return make_error(ErrorKind::input, path.string() + ": read error");
  }
  return digest.hex();
}

}  // namespace promote::util
