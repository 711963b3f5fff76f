// SPDX-License-Identifier: Apache-2.0
// crumble/container/sha256.hpp — SHA-256 for content-addressed images: a streaming hasher over
// OpenSSL's EVP (Sha256), the digest of a file (sha256_file), and the "sha256:<64 hex>" digest
// strings of OCI descriptors (digest_hex, is_sha256_digest, sha256_digest), and quote_untrusted for
// showing such strings in messages.
//
// A digest is an image's promise about a blob, and it also names the blob's file
// (`blobs/sha256/<hex>`): a digest string from an image is therefore untrusted input that becomes
// a path. digest_hex() is the one gate: only "sha256:" followed by exactly 64 lowercase hex
// digits passes (the OCI image spec's form for sha256), so no digest can carry a '/', a "..", or
// another algorithm we would not check.
#pragma once

#include <crumble/container/errors.hpp>
#include <crumble/vm/host/fd.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace crumble::container {

// A running SHA-256: update() with the bytes in order, then hex() once.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw ImageError("sha256: OpenSSL cannot start a digest");
  }
  void update(std::span<const std::byte> bytes) { update(bytes.data(), bytes.size()); }
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  void update(const void* data, std::size_t size) {
    if (size != 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw ImageError("sha256: OpenSSL digest update failed");
  }
  // The digest of everything given so far, as 64 lowercase hex digits. Ends the hash.
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &n) != 1) throw ImageError("sha256: OpenSSL digest final failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(2 * n);
    for (unsigned int i = 0; i < n; ++i) {
      s += digits[md[i] >> 4];
      s += digits[md[i] & 15];
    }
    return s;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

inline std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex();
}

// The hex SHA-256 of a file's contents, read in 1 MiB blocks. `size`, when given, receives the
// number of bytes hashed (the blob's size, to check against its descriptor in the same read).
inline std::string sha256_file(const std::filesystem::path& path, std::uint64_t* size = nullptr) {
  const vm::Fd owned(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  const int fd = owned.get();
  if (fd < 0) throw ImageError("cannot read " + path.string() + ": " + std::strerror(errno));
  Sha256 h;
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.get(), 1 << 20);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ImageError("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    h.update(buf.get(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
  }
  if (size) *size = total;
  return h.hex();
}

// A string from an image (a digest, an entry's name) as it may be shown in a message: quoted,
// control bytes escaped, long ones cut (it comes from an untrusted file and could be anything).
inline std::string quote_untrusted(std::string_view digest) {
  std::string s = "\"";
  const std::size_t shown = digest.size() > 100 ? 100 : digest.size();
  for (std::size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(digest[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      static constexpr char digits[] = "0123456789abcdef";
      s += "\\x";
      s += digits[c >> 4];
      s += digits[c & 15];
    } else {
      s += static_cast<char>(c);
    }
  }
  if (shown < digest.size()) s += "...";
  return s + "\"";
}

inline bool is_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

inline bool is_sha256_digest(std::string_view digest) {
  return digest.starts_with("sha256:") && is_sha256_hex(digest.substr(7));
}

// The 64 hex digits of a "sha256:<hex>" digest; anything else (another algorithm, wrong length,
// uppercase or non-hex digits) is an ImageError naming the digest. `what` says whose digest it is
// ("the manifest of /img.tar") for the message.
inline std::string_view digest_hex(std::string_view digest, std::string_view what = {}) {
  if (is_sha256_digest(digest)) return digest.substr(7);
  std::string why;
  const auto colon = digest.find(':');
  if (colon == std::string_view::npos) why = "no algorithm (expected sha256:<64 hex digits>)";
  else if (digest.substr(0, colon) != "sha256") why = "algorithm " + quote_untrusted(digest.substr(0, colon)) + " is not supported (only sha256)";
  else why = "expected 64 lowercase hex digits after sha256:";
  std::string m = "invalid digest " + quote_untrusted(digest);
  if (!what.empty()) m += " in " + std::string(what);
  throw ImageError(m + ": " + why);
}

inline std::string sha256_digest(std::string_view hex) { return "sha256:" + std::string(hex); }

}  // namespace crumble::container
