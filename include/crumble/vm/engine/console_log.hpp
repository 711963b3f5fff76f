// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/console_log.hpp — a guest's console output kept within a fixed size: its first
// bytes (how the boot went) and its last bytes (what happened lately), with a count of what was
// dropped between them.
//
// A guest can write to its serial console for as long as it runs, as fast as the engine takes the
// bytes; a host that kept all of it would grow without bound. Both engines keep their console as
// a ConsoleLog: the KVM engine appends what its UART transmits (a fixed head buffer and a ring for
// the tail); the QEMU engine, whose console is a file QEMU writes, reads only that file's head and
// tail (read_file). text() is what kernel_log() returns: head, a line that says how many bytes
// were dropped, tail.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace crumble::vm {

class ConsoleLog {
 public:
  static constexpr std::size_t default_head = std::size_t{64} << 10, default_tail = std::size_t{256} << 10;

  explicit ConsoleLog(std::size_t head = default_head, std::size_t tail = default_tail) : head_max_(head), tail_max_(tail) {}

  // Takes what the guest wrote: the head fills first, then the tail keeps the last bytes.
  void append(std::string_view s) {
    total_ += s.size();
    const std::size_t to_head = std::min(s.size(), head_max_ - head_.size());
    head_.append(s.substr(0, to_head));
    s.remove_prefix(to_head);
    if (s.empty() || tail_max_ == 0) return;
    if (s.size() >= tail_max_) s = s.substr(s.size() - tail_max_);  // only the last tail_max_ bytes can stay
    if (ring_.size() < tail_max_) {  // the ring grows to its size once, then wraps
      const std::size_t grow = std::min(s.size(), tail_max_ - ring_.size());
      ring_.append(s.substr(0, grow));
      s.remove_prefix(grow);
    }
    while (!s.empty()) {
      const std::size_t n = std::min(s.size(), tail_max_ - at_);
      ring_.replace(at_, n, s.substr(0, n));
      at_ = (at_ + n) % tail_max_;
      s.remove_prefix(n);
    }
  }

  // Every byte the guest wrote, kept or not.
  std::uint64_t total() const { return total_; }
  // The bytes between head and tail that were not kept.
  std::uint64_t dropped() const { return total_ - head_.size() - ring_.size(); }
  // What the host holds at most, whatever the guest writes.
  std::size_t capacity() const { return head_max_ + tail_max_; }

  // The last `n` bytes kept (all of them when fewer): enough to look for the kernel's last words.
  std::string tail(std::size_t n) const {
    const std::string kept = dropped() ? tail_text() : head_ + tail_text();
    return kept.size() <= n ? kept : kept.substr(kept.size() - n);
  }

  // The log as kept: the head, then (where bytes were dropped) a line saying how many, the tail.
  std::string text() const {
    if (!dropped()) return head_ + tail_text();
    return head_ + "\n[crumble: " + std::to_string(dropped()) + " bytes of console output dropped here; the log keeps the first " +
           std::to_string(head_max_) + " and the last " + std::to_string(tail_max_) + "]\n" + tail_text();
  }

  // The head and tail of a console log file that another process writes (QEMU's serial.log),
  // read without reading the rest: memory and time bounded whatever the file's size. A file that
  // is not there reads as empty.
  static ConsoleLog read_file(const std::filesystem::path& p, std::size_t head = default_head, std::size_t tail = default_tail) {
    ConsoleLog log(head, tail);
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return log;
    struct stat st {};
    const std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    std::string buf;
    auto read_at = [&](std::uint64_t from, std::size_t n) {
      buf.resize(n);
      std::size_t got = 0;
      while (got < n) {
        const ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(from + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;  // the file shrank, or cannot be read: keep what came
        got += static_cast<std::size_t>(r);
      }
      buf.resize(got);
    };
    const std::size_t head_n = static_cast<std::size_t>(std::min<std::uint64_t>(size, head));
    read_at(0, head_n);
    log.append(buf);
    const std::uint64_t tail_from = std::max<std::uint64_t>(head_n, size > tail ? size - tail : 0);
    log.total_ += tail_from - head_n;  // what lies between, unread (only ever when the head is full)
    read_at(tail_from, static_cast<std::size_t>(size - tail_from));
    log.append(buf);
    ::close(fd);
    return log;
  }

 private:
  // The ring in order: oldest byte first.
  std::string tail_text() const { return ring_.substr(at_) + ring_.substr(0, at_); }

  std::size_t head_max_, tail_max_;
  std::string head_, ring_;  // ring_ grows to tail_max_, then the byte at at_ is the oldest
  std::size_t at_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace crumble::vm
