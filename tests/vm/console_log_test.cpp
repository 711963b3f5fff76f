// SPDX-License-Identifier: Apache-2.0
// tests/vm/console_log_test.cpp — the bounded console log both engines keep (engine/console_log.hpp):
// what it keeps, checked against the whole text as an oracle; the KVM engine's UART fed far more
// than it keeps; and QEMU's serial.log read from a huge sparse file. No VM.
#include <catch2/catch.hpp>
#include <crumble/vm/engine/console_log.hpp>

#include "guest_skip.hpp"
#include <crumble/vm/engine/kvm/uart.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using crumble::vm::ConsoleLog;

namespace {

using crumble::test::resident_bytes;

// What a log of (head, tail) must keep of `all`, written independently of the ring: the first
// `head` bytes, the last `tail` of the rest, and whether anything between was dropped.
struct Kept {
  std::string head, tail;
  std::uint64_t dropped;
};
Kept oracle(const std::string& all, std::size_t head, std::size_t tail) {
  Kept k;
  k.head = all.substr(0, std::min(head, all.size()));
  const std::string rest = all.substr(k.head.size());
  k.tail = rest.size() > tail ? rest.substr(rest.size() - tail) : rest;
  k.dropped = rest.size() - k.tail.size();
  return k;
}

std::string marker(std::uint64_t dropped, std::size_t head, std::size_t tail) {
  return "\n[crumble: " + std::to_string(dropped) + " bytes of console output dropped here; the log keeps the first " +
         std::to_string(head) + " and the last " + std::to_string(tail) + "]\n";
}

}  // namespace

TEST_CASE("console log: keeps the head and the tail, and says how much it dropped between", "[vm][console]") {
  struct Case {
    std::string what;
    std::size_t head, tail;
    std::vector<std::string> pieces;
    std::string text;  // text() with the marker written as @
    std::uint64_t dropped;
  };
  const std::vector<Case> cases = {
      {"nothing", 4, 4, {}, "", 0},
      {"less than the head", 4, 4, {"ab"}, "ab", 0},
      {"head and tail exactly full", 2, 3, {"ab", "cde"}, "abcde", 0},
      {"one byte dropped", 2, 3, {"abcdef"}, "ab@def", 1},
      {"the ring wraps, byte by byte", 1, 3, {"a", "b", "c", "d", "e", "f", "g"}, "a@efg", 3},
      {"a piece longer than the tail", 2, 3, {"ab", "0123456789"}, "ab@789", 7},
      {"pieces across the wrap point", 0, 4, {"abc", "def", "gh"}, "@efgh", 4},
      {"no head", 0, 2, {"xyz"}, "@yz", 1},
      {"no tail", 2, 0, {"xyz"}, "xy@", 1},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    ConsoleLog log(k.head, k.tail);
    std::string all;
    for (const std::string& p : k.pieces) {
      log.append(p);
      all += p;
    }
    std::string want = k.text;
    if (auto at = want.find('@'); at != std::string::npos) want.replace(at, 1, marker(k.dropped, k.head, k.tail));
    CHECK(log.text() == want);
    CHECK(log.dropped() == k.dropped);
    CHECK(log.total() == all.size());
  }
}

TEST_CASE("console log: random pieces keep what the whole text says they should", "[vm][console]") {
  std::mt19937 rng(13);
  for (int round = 0; round < 300; ++round) {
    const std::size_t head = rng() % 40, tail = rng() % 40;
    ConsoleLog log(head, tail);
    std::string all;
    for (int n = rng() % 12; n > 0; --n) {
      std::string piece(rng() % 50, ' ');
      for (char& c : piece) c = static_cast<char>('a' + rng() % 26);
      log.append(piece);
      all += piece;
    }
    const Kept k = oracle(all, head, tail);
    INFO("round " << round << ": head " << head << ", tail " << tail << ", text " << all);
    CHECK(log.dropped() == k.dropped);
    CHECK(log.text() == k.head + (k.dropped ? marker(k.dropped, head, tail) : "") + k.tail);
    CHECK(log.tail(10) == (k.dropped ? k.tail : k.head + k.tail).substr((k.dropped ? k.tail : k.head + k.tail).size() -
                                                                         std::min<std::size_t>(10, (k.dropped ? k.tail : k.head + k.tail).size())));
  }
}

TEST_CASE("console log: the KVM engine's UART fed gigabytes keeps its memory bounded", "[vm][console]") {
  // The engine's console is a ConsoleLog fed by the UART, one byte per port write (KvmLinuxMachine).
  // It used to be a std::string that grew by every byte the guest wrote. 64 MiB go through the UART
  // itself (one call per byte), then 4 GiB straight into the log in 1 MiB pieces.
  ConsoleLog log;
  crumble::vm::Uart16550 uart([&](std::string_view s) { log.append(s); });
  const std::size_t before = resident_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  std::uint8_t byte = 0;
  crumble::vm::kvm::IoExit io{0x3f8, true, 1, &byte};
  const std::uint64_t through_uart = std::uint64_t{64} << 20;
  std::uint64_t refused = 0;
  for (std::uint64_t i = 0; i < through_uart; ++i) {
    byte = static_cast<std::uint8_t>('a' + i % 26);
    refused += !uart.handle(io);
  }
  CHECK(refused == 0);
  const std::string piece(1 << 20, 'z');
  const std::uint64_t direct = std::uint64_t{4} << 30;
  for (std::uint64_t fed = 0; fed < direct; fed += piece.size()) log.append(piece);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::size_t grew = resident_bytes() - std::min(before, resident_bytes());
  std::printf("console log: %llu MiB through the UART and %llu MiB appended in %.2f s; resident set grew by %zu KiB\n",
              static_cast<unsigned long long>(through_uart >> 20), static_cast<unsigned long long>(direct >> 20), seconds, grew >> 10);
  CHECK(log.total() == through_uart + direct);
  CHECK(log.dropped() == log.total() - log.capacity());
  CHECK(log.text().substr(0, 26) == "abcdefghijklmnopqrstuvwxyz");  // the boot's first bytes stay
  CHECK(log.tail(5) == "zzzzz");
  CHECK(grew < 16u << 20);
}

TEST_CASE("console log: QEMU's serial.log is read by its head and tail, whatever its size", "[vm][console]") {
  // A sparse file of 64 GiB with text at its start and end stands for a log a flooding guest made:
  // reading it whole (as kernel_log() used to) would need 64 GiB; the head and tail are read.
  namespace fs = std::filesystem;
  const fs::path p = fs::temp_directory_path() / ("console-log-test-" + std::to_string(::getpid()));
  const std::uint64_t size = std::uint64_t{64} << 30;
  struct Remove {
    fs::path p;
    ~Remove() { ::unlink(p.c_str()); }
  } remove{p};
  {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    REQUIRE(::pwrite(fd, "Linux version", 13, 0) == 13);
    REQUIRE(::pwrite(fd, "reboot: Power down\n", 19, static_cast<off_t>(size - 19)) == 19);
    ::close(fd);
  }
  struct Case {
    std::string what;
    std::size_t head, tail;
    std::string starts, ends;
    std::uint64_t dropped;
  };
  const std::vector<Case> cases = {
      {"the default head and tail", ConsoleLog::default_head, ConsoleLog::default_tail, "Linux version", "reboot: Power down\n",
       size - ConsoleLog::default_head - ConsoleLog::default_tail},
      {"a small head and tail", 5, 6, "Linux", "down\n", size - 11},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    const std::size_t before = resident_bytes();
    const auto t0 = std::chrono::steady_clock::now();
    const ConsoleLog log = ConsoleLog::read_file(p, k.head, k.tail);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string text = log.text();
    CHECK(log.total() == size);
    CHECK(log.dropped() == k.dropped);
    CHECK(text.substr(0, k.starts.size()) == k.starts);
    CHECK(text.substr(text.size() - k.ends.size()) == k.ends);
    CHECK(text.size() < k.head + k.tail + 200);
    CHECK(resident_bytes() - std::min(before, resident_bytes()) < 16u << 20);
    CHECK(seconds < 1.0);
  }
  CHECK(ConsoleLog::read_file(p.string() + ".not-there").text().empty());
}
