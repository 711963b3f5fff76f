// SPDX-License-Identifier: Apache-2.0
// tests/vm/fuzzer/fuzz_one.hpp — the bodies of the host-input fuzz targets, shared by the
// libFuzzer targets (fuzz_host.cpp, scripts/fuzz-host.sh) and the replay test (tests/vm/fuzz_replay.cpp).
//
// One body per reader of untrusted files; each returns normally for an input the reader accepts
// or refuses with its documented error type. Anything else — another exception, a crash, a
// sanitizer report, a hang — is a finding.
//
//   kernel    LinuxImage::parse (the checker, kernel_image.hpp, and the loader's parse): then
//             every byte of every segment the loader would copy is read, so a segment outside
//             the file is an ASan report, as in the loader.
//   snapshot  snapshot::read on the input as a state file (with a memory file of 8 KiB + trailer
//             beside it), through the real file-opening path.
//   modinfo   read_modinfo on the input as a .ko.
//   cpio      Cpio's writer driven by the input: a little program of add-entry operations with
//             names, targets, modes and data taken from the bytes.
//   channel   the host's side of the init protocol against a guest played by the input: each
//             time the host waits, the input writes bytes into the shared mailbox and config
//             region as a hostile init could (fields anywhere; a process slot's ring positions,
//             output, state, exit fields, signal acks and stdin tail; signals and sequence
//             numbers), while the host boots, runs commands, runs one interactively (stdin, a
//             signal, a resize), calls a payload and asks for a container.
#pragma once

#include <crumble/vm/engine/kvm/linux_x86.hpp>
#include <crumble/vm/protocol/channel.hpp>
#include <crumble/vm/guest/initramfs.hpp>
#include <crumble/vm/guest/modules.hpp>
#include <crumble/vm/snapshot/format.hpp>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crumble::vm::fuzz {

// A directory of this process's own for the file-reading targets (removed at exit).
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/crumble-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    static struct Remove {
      std::string dir;
      ~Remove() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } remove{tmpl};
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

inline void put(const std::filesystem::path& p, const std::uint8_t* data, std::size_t size) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

inline int kernel(const std::uint8_t* data, std::size_t size) {
  try {
    const LinuxImage k = LinuxImage::parse(std::vector<std::uint8_t>(data, data + size), "fuzz");
    volatile std::uint8_t sum = 0;
    for (const ElfSegment& s : k.segments)
      for (std::uint64_t i = 0; i < s.filesz; ++i) sum = sum + k.file[s.offset + i];
    if (k.format == LinuxImage::Format::bzimage && k.setup_bytes > k.file.size()) std::abort();  // place_bzimage subtracts
  } catch (const ConfigError&) {
  }
  return 0;
}

inline int snapshot(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path state = scratch() / "state";
  static const bool made = [] {
    std::vector<std::uint8_t> mem(8192 + snapshot::memory_trailer, 0);
    std::memcpy(mem.data() + 8192, snapshot::memory_magic, 8);
    put(snapshot::memory_path(state), mem.data(), mem.size());
    return true;
  }();
  (void)made;
  put(state, data, size);
  try {
    snapshot::Loaded l = snapshot::read(state, "fuzz");
    ::close(l.memory_fd);
  } catch (const SnapshotError&) {
  }
  return 0;
}

inline int modinfo(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path ko = scratch() / "m.ko";
  put(ko, data, size);
  try {
    (void)read_modinfo(ko);
  } catch (const std::runtime_error&) {
  }
  return 0;
}

// Operations, one byte each, then their arguments: a length-prefixed (1 byte) name, and for a
// symlink a target, for a file 2 bytes of length and the data, for a device major and minor.
inline int cpio(const std::uint8_t* data, std::size_t size) {
  std::size_t at = 0;
  auto byte = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
  auto text = [&]() {
    const std::size_t n = std::min<std::size_t>(byte(), size - std::min(at, size));
    std::string s(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return s;
  };
  Cpio out;
  try {
    while (at < size) {
      const std::uint8_t op = byte();
      const std::uint32_t mode = (std::uint32_t{byte()} << 8 | byte()) & 07777;
      const std::string name = text();
      switch (op % 5) {
        case 0: out.directory(name, mode); break;
        case 1: {
          const std::size_t n = std::min<std::size_t>(std::size_t{byte()} << 8 | byte(), size - std::min(at, size));
          out.file(name, std::span(data + at, n), mode);
          at += n;
          break;
        }
        case 2: out.symlink(name, text()); break;
        case 3: out.char_device(name, mode, byte(), byte()); break;
        case 4: out.block_device(name, mode, byte(), byte()); break;
      }
    }
    const std::vector<std::uint8_t> archive = out.finish();
    if (archive.size() % 4) std::abort();  // newc pads every record to 4 bytes
  } catch (const std::runtime_error&) {
  }
  return 0;
}

// A guest played by the bytes. The host calls `alive` while it waits (for a signal, or for a
// process's output or end); each call is one turn of the guest: operations (one byte each, then
// their arguments) until one that signals or acts on a process slot (4, 5, 6, 9), or the input's
// end. The host must refuse what it
// cannot accept with a VmError, hold at most its output limit, and read output only inside the
// rings. A process slot's fields are written as init writes them (start: its fields reset, state
// running; output: bytes at the head, the head moved; end: exit fields, then the state), each
// also with values no init would write.
inline int channel(const std::uint8_t* data, std::size_t size) {
  namespace p = protocol;
  namespace cfg = protocol::config;
  static std::vector<std::uint8_t> mailbox(p::mailbox_size), config(p::config_size);
  std::fill(mailbox.begin(), mailbox.end(), 0);
  std::fill(config.begin(), config.end(), 0);
  std::size_t at = 0;
  auto byte = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
  // (each byte in its own statement: the operands of | and a call's arguments are unsequenced, and
  // an input must mean the same to clang's libFuzzer build and GCC's replay)
  auto u32 = [&] {
    std::uint32_t v = byte();
    v |= std::uint32_t{byte()} << 8;
    v |= std::uint32_t{byte()} << 16;
    return v | std::uint32_t{byte()} << 24;
  };
  // often a small value, sometimes any
  auto small_or_any = [&] { return byte() & 1 ? u32() : std::uint32_t{byte()}; };
  constexpr std::uint32_t signals[] = {p::signal_ready,    p::signal_payload_done,    p::signal_started,        p::signal_failed,
                                       p::signal_reseeded, p::signal_holding, p::signal_container_ready, p::signal_container_failed};
  auto signal = [&](std::uint32_t s, std::uint32_t step) {
    le::store<std::uint32_t>(mailbox.data() + p::mailbox::signal, s);
    const std::uint32_t seq = le::load<std::uint32_t>(mailbox.data() + p::mailbox::seq);
    le::store<std::uint32_t>(mailbox.data() + p::mailbox::seq, seq + step);
  };
  auto slot = [&](std::uint32_t k) { return config.data() + cfg::io + (k % cfg::process_max) * cfg::process_stride; };
  auto put = [&](std::uint32_t k, std::uint32_t field, std::uint32_t v) { le::store<std::uint32_t>(slot(k) + field, v); };
  auto get = [&](std::uint32_t k, std::uint32_t field) { return le::load<std::uint32_t>(slot(k) + field); };
  // A turn that does not signal costs the host up to 64 looks at the guest, sleeping 50 us each
  // once it has waited a while (Channel::wait, next_signal): a real guest is not asked between
  // them, the played one is. So an input gets at most max_turns (under a second), not one per byte.
  constexpr std::size_t max_turns = 128;
  std::size_t turns = 0;
  auto turn = [&] {
    if (at >= size) throw BootError("the played guest is out of input");
    if (++turns > max_turns) throw BootError("the played guest has had its turns");
    while (at < size) {
      switch (byte() % 12) {
        case 0: {
          const std::uint32_t to = (byte() * 4u) % p::mailbox_size;
          le::store<std::uint32_t>(mailbox.data() + to, u32());
          break;
        }
        case 1: {
          const std::uint64_t high = u32();
          le::store<std::uint64_t>(mailbox.data() + p::mailbox::result, high << 32 | u32());
          break;
        }
        case 2: {  // bytes into the config region (rings, control blocks, magics, anywhere)
          const std::uint32_t to = u32() % p::config_size;
          const std::size_t n = std::min<std::size_t>({byte(), size - std::min(at, size), p::config_size - to});
          std::copy(data + at, data + at + n, config.begin() + to);
          at += n;
          break;
        }
        case 3: {
          const std::uint32_t to = (u32() % (p::config_size / 4)) * 4;
          le::store<std::uint32_t>(config.data() + to, u32());
          break;
        }
        case 4: {  // one control field of a slot
          const std::uint32_t k = byte();
          const p::Field& f = cfg::process_control_fields[byte() % std::size(cfg::process_control_fields)];
          put(k, static_cast<std::uint32_t>(f.at), small_or_any());
          return;
        }
        case 5: {  // output, as fill() writes it: bytes at the head (across the ring's end), then the head;
                   // with an odd mode byte at most the room the host's tail leaves, else any length
          const std::uint32_t k = byte(), mode = byte();
          const bool out = mode & 2;
          const std::uint32_t ring = out ? cfg::stdout_ring : cfg::stderr_ring, head_at = out ? cfg::proc_out_head : cfg::proc_err_head;
          std::uint8_t* bytes = slot(k) + (out ? cfg::process_stdout : cfg::process_stderr);
          std::uint32_t n = byte();
          n |= std::uint32_t{byte()} << 8;
          const std::uint32_t head = get(k, head_at);
          if (mode & 1) n = std::min<std::uint32_t>(n, ring - std::min<std::uint32_t>(ring, head - get(k, head_at + 4)));
          for (std::uint32_t done = 0; done < n;) {
            const std::uint32_t off = (head + done) & (ring - 1), part = std::min(n - done, ring - off);
            const std::size_t from_input = std::min<std::size_t>(part, size - std::min(at, size));
            std::copy(data + at, data + at + from_input, bytes + off);
            at += from_input;
            done += part;
          }
          put(k, head_at, head + n);
          return;
        }
        case 6: {  // a process ends, as pump() ends it: the exit fields, then the state (mostly ended)
          const std::uint32_t k = byte();
          put(k, cfg::proc_exit_kind, byte() % 4);
          put(k, cfg::proc_exit_code, small_or_any());
          put(k, cfg::proc_exec_errno, small_or_any());
          put(k, cfg::proc_exec_stage, byte() % 8);
          put(k, cfg::proc_state, byte() % 4 ? p::process_ended : small_or_any());
          return;
        }
        case 7: {  // a command started, as startCommand does, in the slot the request names (or another)
          std::uint32_t k = le::load<std::uint32_t>(config.data() + cfg::command + cfg::command_process);
          if (byte() % 4 == 0) k = byte();
          if (k < cfg::process_max || byte() & 1) {
            for (std::uint32_t f : {cfg::proc_out_head, cfg::proc_err_head, cfg::proc_in_tail, cfg::proc_signal_ack, cfg::proc_exit_kind,
                                    cfg::proc_exit_code, cfg::proc_exec_errno, cfg::proc_exec_stage})
              put(k, f, 0);
            put(k, cfg::proc_pid, byte() + 1u);
            put(k, cfg::proc_state, byte() % 8 ? p::process_running : p::process_ended);
          }
          le::store<std::uint32_t>(config.data() + cfg::command, 0);
          return signal(p::signal_started, 1);
        }
        case 8: {  // a payload done, as the init ends one: its magic cleared first
          le::store<std::uint32_t>(config.data() + cfg::payload, 0);
          return signal(p::signal_payload_done, 1);
        }
        case 9: {  // what pump() and feed() take: the signal acked, stdin taken (all, or any position)
          const std::uint32_t k = byte(), mode = byte();
          if (mode & 1) put(k, cfg::proc_signal_ack, get(k, cfg::proc_signal_seq));
          if (mode & 2) put(k, cfg::proc_in_tail, mode & 4 ? u32() : get(k, cfg::proc_in_head));
          return;
        }
        case 10: return signal(signals[byte() % std::size(signals)], 1);
        case 11: {  // any signal; the sequence may stand still or jump
          const std::uint32_t value = u32();
          return signal(value, byte() % 3);
        }
      }
    }
  };
  Channel ch(mailbox.data(), config.data(), turn);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  static const code::Image payload = [] {  // mov eax, 7; ret (never run: the guest is played)
    code::Image img;
    img.bytes = {0xb8, 7, 0, 0, 0, 0xc3};
    img.code_size = img.bytes.size();
    return img;
  }();
  // Output handed out must lie inside its ring: a view outside is a finding even where ASan would
  // not see it (the rings are inside the config buffer).
  auto check_inside = [&](int id, Stream s, std::string_view b) {
    const auto* ring = reinterpret_cast<const char*>(slot(static_cast<std::uint32_t>(id)) + (s == Stream::out ? cfg::process_stdout : cfg::process_stderr));
    const std::size_t ring_size = s == Stream::out ? cfg::stdout_ring : cfg::stderr_ring;
    if (b.data() < ring || b.data() + b.size() > ring + ring_size) std::abort();
  };
  try {
    ch.wait_ready(deadline);
    for (int i = 0; i < 3; ++i) {
      const CommandResult r = ch.run({"sh", "-c", "true"}, {"A=B"}, deadline, 1 << 16);
      if (r.out.size() > (1 << 16) || r.err.size() > (1 << 16)) std::abort();  // the limit holds
      // interactively: stdin written and closed, a signal, a resize, the output taken as it comes
      const int id = ch.start({"sh"}, {"TERM=xterm"}, deadline, {}, Stdio{true, TerminalSize{24, 80}});
      ProcessSlot& s = ch.slot(id);
      // stdin in pieces of 100 bytes, one a turn of the guest (which may take it, or lie about it)
      static const std::string input(300, 'i');
      std::size_t sent = 0, written_at = ~std::size_t{0};
      Channel::Waiter idle;
      for (int step = 0;; ++step) {
        bool moved = false;
        if (sent < input.size() && turns != written_at) {
          written_at = turns;
          const std::size_t n = s.write_stdin(std::string_view(input).substr(sent, 100));
          if (n > p::config::stdin_ring) std::abort();
          sent += n;
          moved = n > 0;
        } else if (sent == input.size() && !s.stdin_closed()) {
          s.close_stdin();
        }
        if (step == 0) s.signal(SIGINT);
        if (step == 1) s.signal(SIGTERM);
        if (step == 2) s.resize({25, 81});
        for (Stream st : {Stream::out, Stream::err})
          for (std::string_view b = s.pending(st); !b.empty(); b = s.pending(st)) {
            check_inside(id, st, b);
            s.consume(st, b.size());
            moved = true;
          }
        if (ch.finish(id)) break;
        ch.wait(idle, moved, deadline, "interactive command");
      }
      (void)ch.call(payload, deadline);
    }
    ContainerRequest q;
    q.root_source = "/ctr";
    q.volumes = {{"v", "/data", true}};
    q.binfmt = {":x:E::x::/x:"};
    ch.setup_container(q, deadline);
  } catch (const VmError& e) {
    if (std::getenv("CRUMBLE_FUZZ_VERBOSE")) std::fprintf(stderr, "channel: refused: %s\n", e.what());  // where an input ends
  }
  return 0;
}

// The body named `target`, or null.
using Body = int (*)(const std::uint8_t*, std::size_t);
inline Body body(std::string_view target) {
  if (target == "kernel") return kernel;
  if (target == "snapshot") return snapshot;
  if (target == "modinfo") return modinfo;
  if (target == "cpio") return cpio;
  if (target == "channel") return channel;
  return nullptr;
}

}  // namespace crumble::vm::fuzz
