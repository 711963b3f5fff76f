// SPDX-License-Identifier: Apache-2.0
// crumble/vm/snapshot/content_hash.hpp — the hash that names a snapshot after everything that made
// its guest (SnapshotCache::key, Session's key over kernel and initramfs contents).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../../bytes.hpp"
#include "../errors.hpp"
#include "../host/input_file.hpp"

namespace crumble::vm {

// A fast 128-bit hash for cache keys: four independent 64-bit lanes over 32-byte blocks. Not
// cryptographic — it keys a cache of the user's own inputs — but every byte counts, and a kernel
// of 14 MB hashes in a few milliseconds (FNV-1a, byte by byte, takes about 25).
class ContentHash {
 public:
  void add(std::string_view bytes) {
    begin(bytes.size());
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    for (; left >= 32; p += 32, left -= 32) block(p);
    end(p, left);
  }
  void add(std::span<const std::uint8_t> bytes) { add(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())); }
  // A whole file's contents, the same as add() of them, read in large chunks (a 14 MB kernel:
  // ~5 ms; through an istream iterator it took ~50). Throws ConfigError when it cannot be read, or
  // is not a regular file (host/input_file.hpp: a FIFO would block here forever).
  void add_file(const std::filesystem::path& file) {
    InputFile in = open_input<ConfigError>(file, "file");
    const std::uint64_t size = in.size();
    const int fd = in.release();
    begin(size);
    std::vector<char> buf(1 << 20);
    std::size_t have = 0;  // bytes in buf not hashed yet (fewer than 32 after each pass)
    std::uint64_t total = 0;
    while (true) {
      const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        throw ConfigError("cannot read " + file.string() + ": " + std::strerror(errno));
      }
      if (n == 0) break;
      have += static_cast<std::size_t>(n);
      total += static_cast<std::uint64_t>(n);
      std::size_t at = 0;
      for (; have - at >= 32; at += 32) block(buf.data() + at);
      std::memmove(buf.data(), buf.data() + at, have - at);
      have -= at;
    }
    ::close(fd);
    if (total != size) throw ConfigError(file.string() + " changed while it was read");
    end(buf.data(), have);
  }
  std::string hex() const {
    const std::uint64_t x = fold(lane_[0], lane_[1]), y = fold(lane_[2], lane_[3]) ^ x;
    char s[33];
    std::snprintf(s, sizeof s, "%016llx%016llx", static_cast<unsigned long long>(x), static_cast<unsigned long long>(y));
    return s;
  }

 private:
  static std::uint64_t word(const char* p) { return le::load<std::uint64_t>(reinterpret_cast<const std::uint8_t*>(p)); }
  static std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
    h ^= v * 0x9e3779b97f4a7c15ull;
    return std::rotl(h, 29) * 0xbf58476d1ce4e5b9ull;
  }
  static std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
    std::uint64_t h = a ^ std::rotl(b, 32);
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
  }
  void begin(std::uint64_t n) { block(n, n ^ 0x5bd1e995, 0, 0); }  // the length first: parts are self-delimiting
  void block(const char* p) { block(word(p), word(p + 8), word(p + 16), word(p + 24)); }
  void end(const char* p, std::size_t left) {
    char tail[32] = {};
    std::memcpy(tail, p, left);
    block(tail);
  }
  void block(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
    lane_[0] = mix(lane_[0], a), lane_[1] = mix(lane_[1], b), lane_[2] = mix(lane_[2], c), lane_[3] = mix(lane_[3], d);
  }
  std::uint64_t lane_[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull};
};

}  // namespace crumble::vm
