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
//             region (fields, output chunks, signals, sequence numbers) as a hostile init could,
//             while the host boots, runs commands and calls a payload.
#pragma once

#include <crumble/vm/engine/kvm/linux_x86.hpp>
#include <crumble/vm/protocol/channel.hpp>
#include <crumble/vm/guest/initramfs.hpp>
#include <crumble/vm/guest/modules.hpp>
#include <crumble/vm/snapshot/format.hpp>

#include <unistd.h>

#include <cstdint>
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

// A guest played by the bytes. The host calls `alive` while it waits for a signal; each call is one
// turn of the guest: operations (one byte each, then their arguments) until one that signals. The
// host must refuse what it cannot accept with a VmError, and hold at most its output limit.
inline int channel(const std::uint8_t* data, std::size_t size) {
  namespace p = protocol;
  static std::vector<std::uint8_t> mailbox(p::mailbox_size), config(p::config_size);
  std::fill(mailbox.begin(), mailbox.end(), 0);
  std::fill(config.begin(), config.end(), 0);
  std::size_t at = 0;
  auto byte = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
  auto u32 = [&] { return std::uint32_t{byte()} | std::uint32_t{byte()} << 8 | std::uint32_t{byte()} << 16 | std::uint32_t{byte()} << 24; };
  constexpr std::uint32_t signals[] = {p::signal_ready, p::signal_payload_done, p::signal_output, p::signal_command_done,
                                       p::signal_failed, p::signal_reseeded, p::signal_holding};
  auto signal = [&](std::uint32_t s, std::uint32_t step) {
    le::store<std::uint32_t>(mailbox.data() + p::mailbox::signal, s);
    const std::uint32_t seq = le::load<std::uint32_t>(mailbox.data() + p::mailbox::seq);
    le::store<std::uint32_t>(mailbox.data() + p::mailbox::seq, seq + step);
  };
  auto turn = [&] {
    if (at >= size) throw BootError("the played guest is out of input");
    while (at < size) {
      switch (byte() % 8) {
        case 0: le::store<std::uint32_t>(mailbox.data() + (byte() * 4u) % p::mailbox_size, u32()); break;
        case 1: le::store<std::uint64_t>(mailbox.data() + p::mailbox::result, std::uint64_t{u32()} << 32 | u32()); break;
        case 2: {  // bytes into the config region (output area, magics, anywhere)
          const std::uint32_t to = u32() % p::config_size;
          const std::size_t n = std::min<std::size_t>({byte(), size - std::min(at, size), p::config_size - to});
          std::copy(data + at, data + at + n, config.begin() + to);
          at += n;
          break;
        }
        case 3: le::store<std::uint32_t>(config.data() + (u32() % (p::config_size / 4)) * 4, u32()); break;
        case 4: {  // an output chunk: stream, length (often sane, sometimes not), then the signal
          le::store<std::uint32_t>(mailbox.data() + p::mailbox::chunk_stream, byte() % 4);
          const std::uint32_t n = byte() & 1 ? u32() : std::uint32_t{byte()} << 12;
          le::store<std::uint32_t>(mailbox.data() + p::mailbox::chunk_length, n);
          return signal(p::signal_output, 1);
        }
        case 5: {  // a command or payload done, as the init ends one: its magic cleared first
          le::store<std::uint32_t>(config.data() + p::config::command, 0);
          le::store<std::uint32_t>(config.data() + p::config::payload, 0);
          le::store<std::uint32_t>(mailbox.data() + p::mailbox::exit_kind, byte() % 4);
          le::store<std::uint32_t>(mailbox.data() + p::mailbox::exit_code, u32());
          return signal(byte() & 1 ? p::signal_command_done : p::signal_payload_done, 1);
        }
        case 6: return signal(signals[byte() % std::size(signals)], 1);
        case 7: return signal(u32(), byte() % 3);  // any signal; the sequence may stand still or jump
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
  try {
    ch.wait_ready(deadline);
    for (int i = 0; i < 3; ++i) {
      const CommandResult r = ch.run({"sh", "-c", "true"}, {"A=B"}, deadline, 1 << 16);
      if (r.out.size() > (1 << 16) || r.err.size() > (1 << 16)) std::abort();  // the limit holds
      (void)ch.call(payload, deadline);
    }
  } catch (const VmError&) {
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
