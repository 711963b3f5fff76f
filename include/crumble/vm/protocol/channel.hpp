// SPDX-License-Identifier: Apache-2.0
// crumble/vm/protocol/channel.hpp — the host's side of the init protocol (protocol.hpp), over the two
// shared regions as the host maps them. Engine-independent: an engine gives the two pointers and
// a way to tell whether the guest is still alive.
//
// Everything read from the guest is checked before use (signal values, lengths, stream numbers,
// exit kinds): a confused or hostile guest gets a GuestProtocolError, never an out-of-bounds read.
// Every wait has a deadline; on timeout the caller stops the VM.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../code/buffer.hpp"
#include "../errors.hpp"
#include "../engine/options.hpp"
#include "layout.hpp"

namespace crumble::vm {

using Clock = std::chrono::steady_clock;

// How a command ended, and what it wrote.
struct CommandResult {
  enum class End { exited, signaled, not_started };
  End end = End::exited;
  int code = 0;        // exit status (exited) or signal number (signaled); 0 when not started
  int exec_errno = 0;  // why execve failed (not_started): ENOENT, EACCES, ENOEXEC, ...
  std::string out, err;

  // The status a shell would give: the exit status; 128+N for signal N; 127 when the command was
  // not found, 126 when it could not be executed.
  int status() const {
    switch (end) {
      case End::exited: return code;
      case End::signaled: return 128 + code;
      default: return exec_errno == ENOENT ? 127 : 126;
    }
  }
  std::string describe() const {
    switch (end) {
      case End::exited: return "exited with status " + std::to_string(code);
      case End::signaled: return std::string("killed by signal ") + std::to_string(code) + " (" + ::strsignal(code) + ")";
      default:
        return exec_errno == ENOENT ? "command not found" : std::string("command could not be executed: ") + std::strerror(exec_errno);
    }
  }
};

class Channel {
 public:
  // `alive` is called while waiting; it throws (BootError, ...) when the guest is gone.
  Channel(std::uint8_t* mailbox, std::uint8_t* config, std::function<void()> alive)
      : mb_(mailbox), cfg_(config), alive_(std::move(alive)) {}

  // Before boot: the wall clock the guest sets in init phase 6.
  void write_clock() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    std::uint8_t* c = cfg_ + protocol::config::clock;
    put64(c + protocol::config::clock_sec, static_cast<std::uint64_t>(now.tv_sec));
    put64(c + protocol::config::clock_nsec, static_cast<std::uint64_t>(now.tv_nsec));
    store32(c + protocol::config::clock_magic_at, protocol::clock_magic);
  }

  // Waits for init's ready signal; a failed phase becomes InitFailed.
  void wait_ready(Clock::time_point deadline) { expect(protocol::signal_ready, deadline, "boot (waiting for init to be ready)"); }

  // Early snapshots (protocol::config::hold): before boot, ask init to hold after phase 6; wait
  // until it does; let it go on.
  void request_hold() { store32(cfg_ + protocol::config::hold, protocol::hold_magic); }
  // True when init holds; false when it signalled ready instead (an init that does not know the
  // hold request: it is ready, and there is no early point to snapshot).
  bool wait_holding(Clock::time_point deadline) {
    const std::uint32_t s = next_signal(deadline, "boot (waiting for init to hold after phase 6)");
    if (s == protocol::signal_failed) throw init_failed();
    if (s == protocol::signal_ready) return false;
    if (s != protocol::signal_holding) throw GuestProtocolError("init sent signal " + hex(s) + " while the host waited for it to hold");
    return true;
  }
  void release_hold() { store32(cfg_ + protocol::config::hold, 0); }

  // If the guest reported a failed phase (read after it stopped), the error for it.
  bool failed(InitFailed* out) const {
    if (load32(mb_ + protocol::mailbox::signal) != protocol::signal_failed) return false;
    if (out) *out = init_failed();
    return true;
  }

  // Runs argv (argv[0] is the program: a path, or a name looked up in /bin, /sbin, /usr/bin,
  // /usr/sbin) with exactly the environment `env` ("K=V" strings).
  CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env, Clock::time_point deadline) {
    if (argv.empty() || argv[0].empty()) throw ConfigError("no command to run");
    std::string strings = argv[0] + '\0';
    auto add = [&](const std::string& s, const char* what, std::size_t i) {
      if (s.find('\0') != std::string::npos)
        throw ConfigError(std::string(what) + " " + std::to_string(i) + " contains a NUL byte, which execve cannot pass");
      strings += s;
      strings += '\0';
    };
    for (std::size_t i = 0; i < argv.size(); ++i) add(argv[i], "argument", i);
    for (std::size_t i = 0; i < env.size(); ++i) add(env[i], "environment entry", i);
    if (16 + strings.size() > protocol::config::command_max)
      throw ConfigError("command and environment take " + std::to_string(strings.size()) + " bytes; at most " +
                        std::to_string(protocol::config::command_max - 16) + " fit the config region");
    std::uint8_t* c = cfg_ + protocol::config::command;
    std::memcpy(c + 16, strings.data(), strings.size());
    put32(c + 4, static_cast<std::uint32_t>(argv[0].size()));
    put32(c + 8, static_cast<std::uint32_t>(argv.size()));
    put32(c + 12, static_cast<std::uint32_t>(env.size()));
    store32(c, protocol::command_magic);  // last: the guest may start now

    CommandResult r;
    while (true) {
      const std::uint32_t s = next_signal(deadline, "command " + argv[0]);
      if (s == protocol::signal_output) {
        const std::uint32_t stream = load32(mb_ + protocol::mailbox::chunk_stream);
        const std::uint32_t len = load32(mb_ + protocol::mailbox::chunk_length);
        if ((stream != 1 && stream != 2) || len > protocol::config::output_max)
          throw GuestProtocolError("guest sent an output chunk of " + std::to_string(len) + " bytes for stream " +
                                   std::to_string(stream));
        (stream == 1 ? r.out : r.err).append(reinterpret_cast<const char*>(cfg_ + protocol::config::output), len);
        store32(mb_ + protocol::mailbox::host_ack, seq_);
      } else if (s == protocol::signal_command_done) {
        const std::uint32_t kind = load32(mb_ + protocol::mailbox::exit_kind);
        const std::uint32_t code = load32(mb_ + protocol::mailbox::exit_code);
        const std::uint32_t err = load32(mb_ + protocol::mailbox::exec_errno);
        if (kind > protocol::exit_kind_not_started || code > 255 || err > 4095)
          throw GuestProtocolError("guest reported an impossible command end (kind " + std::to_string(kind) + ", code " +
                                   std::to_string(code) + ")");
        r.end = static_cast<CommandResult::End>(kind);
        r.code = kind == protocol::exit_kind_not_started ? 0 : static_cast<int>(code);
        r.exec_errno = static_cast<int>(err);
        return r;
      } else if (s == protocol::signal_failed) {
        throw init_failed();
      } else {
        throw GuestProtocolError("unexpected signal " + hex(s) + " while running a command");
      }
    }
  }

  // Copies a payload into the guest, which relocates and calls it; its return value.
  std::int64_t call(const code::Image& img, Clock::time_point deadline) {
    const std::size_t total = protocol::config::payload_code + img.bytes.size() + 4 * img.relocs.size();
    if (total > protocol::config::payload_max)
      throw ConfigError("payload of " + std::to_string(img.bytes.size()) + " bytes and " + std::to_string(img.relocs.size()) +
                        " relocations does not fit the config region's payload area (" +
                        std::to_string(protocol::config::payload_max) + " bytes)");
    if (img.bss_offset + img.bss_size > 0x400000) throw ConfigError("payload code and bss exceed the guest's 4 MiB executable region");
    if (img.entry >= img.bytes.size()) throw ConfigError("payload entry point lies outside its code");
    std::uint8_t* c = cfg_ + protocol::config::payload;
    std::memcpy(c + protocol::config::payload_code, img.bytes.data(), img.bytes.size());
    std::memcpy(c + protocol::config::payload_code + img.bytes.size(), img.relocs.data(), 4 * img.relocs.size());
    // the guest zeroes bss after the code: cover the gap between code end and bss start too
    const std::uint64_t bss = img.bss_size ? img.bss_offset + img.bss_size - img.bytes.size() : 0;
    put32(c + protocol::config::payload_code_size, static_cast<std::uint32_t>(img.bytes.size()));
    put32(c + protocol::config::payload_relocs, static_cast<std::uint32_t>(img.relocs.size()));
    put32(c + protocol::config::payload_entry, static_cast<std::uint32_t>(img.entry));
    put32(c + protocol::config::payload_bss_size, static_cast<std::uint32_t>(bss));
    store32(c + protocol::config::payload_magic_at, protocol::payload_magic);
    const std::uint32_t s = next_signal(deadline, "payload");
    if (s == protocol::signal_failed) throw init_failed();
    if (s != protocol::signal_payload_done) throw GuestProtocolError("unexpected signal " + hex(s) + " after a payload");
    return static_cast<std::int64_t>(load64(mb_ + protocol::mailbox::result));
  }

  // After a restore, for every engine: the guest's signals so far are history (go on from its
  // count); an early snapshot's init still holds after phase 6 (release it, wait for ready);
  // then fresh entropy and the time.
  void go_on_after_restore(SnapshotMode saved_at, Clock::time_point deadline) {
    seq_ = load32(mb_ + protocol::mailbox::seq);
    if (saved_at == SnapshotMode::early) {
      release_hold();
      wait_ready(deadline);
    }
    reseed(deadline);
  }

  // After a restore: fresh entropy and the wall clock for the guest, so clones of one snapshot
  // differ (their CRNG state was copied with the memory) and know the time.
  void reseed(Clock::time_point deadline) {
    std::uint8_t* r = cfg_ + protocol::config::reseed;
    std::random_device random;
    for (int i = 0; i < 64; i += 4) {
      const std::uint32_t v = random();
      std::memcpy(r + protocol::config::reseed_entropy + i, &v, 4);
    }
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    put64(r + protocol::config::reseed_sec, static_cast<std::uint64_t>(now.tv_sec));
    put64(r + protocol::config::reseed_nsec, static_cast<std::uint64_t>(now.tv_nsec));
    store32(r, protocol::reseed_magic);
    const std::uint32_t s = next_signal(deadline, "reseed after restore");
    if (s == protocol::signal_failed) throw init_failed();
    if (s != protocol::signal_reseeded) throw GuestProtocolError("unexpected signal " + hex(s) + " after a reseed");
  }

  // Asks init to sync and power off.
  void poweroff() { store32(cfg_ + protocol::config::command, protocol::poweroff_magic); }

 private:
  static std::uint32_t load32(const std::uint8_t* p) {
    return std::atomic_ref<const std::uint32_t>(*reinterpret_cast<const std::uint32_t*>(p)).load(std::memory_order_acquire);
  }
  static std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static void store32(std::uint8_t* p, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(p)).store(v, std::memory_order_release);
  }
  static void put32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
  static void put64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
  static std::string hex(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
  }

  void expect(std::uint32_t wanted, Clock::time_point deadline, const char* what) {
    const std::uint32_t s = next_signal(deadline, what);
    if (s == protocol::signal_failed) throw init_failed();
    if (s != wanted) throw GuestProtocolError("init sent signal " + hex(s) + " while the host waited for " + hex(wanted) + ": " + what);
  }

  InitFailed init_failed() const {
    const std::uint32_t phase = load32(mb_ + protocol::mailbox::phase);
    const std::uint32_t err = load32(mb_ + protocol::mailbox::error);
    std::string name = phase >= 1 && phase <= 7 ? protocol::phase_names[phase] : "unknown phase";
    std::string e = err > 0 && err < 4096 ? std::string(::strerrorname_np(static_cast<int>(err)) ? ::strerrorname_np(static_cast<int>(err)) : "?") +
                                                " (" + std::strerror(static_cast<int>(err)) + ")"
                                          : "errno " + std::to_string(err);
    return InitFailed(static_cast<int>(phase), static_cast<int>(err),
                      "init phase " + std::to_string(phase) + " (" + name + ") failed: " + e);
  }

  // Waits for the guest's next signal: polls `seq`, briefly spinning, then sleeping.
  std::uint32_t next_signal(Clock::time_point deadline, const std::string& what) {
    for (unsigned spins = 0;; ++spins) {
      const std::uint32_t seq = load32(mb_ + protocol::mailbox::seq);
      if (seq != seq_) {
        if (seq != seq_ + 1) throw GuestProtocolError("guest signal sequence jumped from " + std::to_string(seq_) + " to " + std::to_string(seq));
        seq_ = seq;
        return load32(mb_ + protocol::mailbox::signal);
      }
      if ((spins & 63) == 0) {
        alive_();
        if (Clock::now() >= deadline) throw GuestTimeout("guest did not answer in time: " + what);
      }
      if (spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::uint8_t* mb_;
  std::uint8_t* cfg_;
  std::function<void()> alive_;
  std::uint32_t seq_ = 0;
};

}  // namespace crumble::vm
