// SPDX-License-Identifier: Apache-2.0
// crumble/vm/protocol/layout.hpp — how the host and the guest's init talk: the one definition.
//
// Two regions of guest-physical memory that host and guest both map (docs/protocol.md):
//
//   mailbox (4 KiB)   small fields: the guest's signals (ready, done, failed, output chunk) with a
//                     sequence number, results, and the host's acknowledgement
//   config  (4 MiB)   bulk data: a payload (code + relocations), a command, the boot clock, and the
//                     chunks of a command's output on their way to the host
//
// The guest's init is RTG (rtg/init/init.go); it gets every address, offset, magic and signal
// below as a compile-time Config value (config_values()), so nothing is written twice. All fields
// are little-endian. The guest signals by filling the fields, writing `signal`, then bumping
// `seq` last; the host watches `seq`, so it sees every signal, also one repeated, with its fields.
// The host hands over a payload or a command by writing it whole, then its magic last.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace crumble::vm::protocol {

// ---- where (QEMU engine: RAM reserved with memmap=, reached through /dev/mem) ---------------
// A fixed guest-physical window: the init is compiled with these addresses. 128 MiB is above
// where the kernel decompresses itself and below where QEMU puts the initrd (the top of RAM).
inline constexpr std::uint64_t window_base = 0x08000000;
inline constexpr std::uint64_t window_size = 0x00800000;  // 8 MiB reserved: memmap=8M$0x08000000
inline constexpr std::uint64_t mailbox_phys = window_base;
inline constexpr std::uint64_t mailbox_size = 0x1000;
inline constexpr std::uint64_t config_phys = window_base + 0x100000;
inline constexpr std::uint64_t config_size = 0x400000;
static_assert(config_phys + config_size <= window_base + window_size);

// ---- mailbox fields (byte offsets) -------------------------------------------------------
namespace mailbox {
inline constexpr std::uint32_t signal = 0;        // u32: the guest's last signal (below)
inline constexpr std::uint32_t seq = 4;           // u32: bumped by the guest before each signal
inline constexpr std::uint32_t phase = 8;         // u32: the init phase that failed (1-7)
inline constexpr std::uint32_t error = 12;        // u32: its errno (positive)
inline constexpr std::uint32_t result = 16;       // i64: a payload's return value
inline constexpr std::uint32_t exit_kind = 24;    // u32: how a command ended (exit_kind_*)
inline constexpr std::uint32_t exit_code = 28;    // u32: exit status, or the signal number
inline constexpr std::uint32_t exec_errno = 32;   // u32: execve's errno when the command did not start
inline constexpr std::uint32_t chunk_stream = 36; // u32: 1 stdout, 2 stderr
inline constexpr std::uint32_t chunk_length = 40; // u32: bytes of output at config::output
inline constexpr std::uint32_t host_ack = 48;     // u32: written by the host: the seq it has consumed
}  // namespace mailbox

// Signals (guest -> host).
inline constexpr std::uint32_t signal_ready = 0xdeadbeef;         // init is in its main loop
inline constexpr std::uint32_t signal_payload_done = 0x600dca11;  // mailbox::result is set
inline constexpr std::uint32_t signal_output = 0x0c4a9c00;        // a chunk waits at config::output; ack it
inline constexpr std::uint32_t signal_command_done = 0xc0dedbad;  // exit_kind/code/exec_errno are set
inline constexpr std::uint32_t signal_failed = 0xfa11ed00;        // phase/error are set; init powers off
inline constexpr std::uint32_t signal_reseeded = 0x5eed5eed;
inline constexpr std::uint32_t signal_holding = 0x401d0006;       // init holds after phase 6 (config::hold)      // the entropy and clock at config::reseed are taken

inline constexpr std::uint32_t exit_kind_exited = 0;      // exit_code is the exit status
inline constexpr std::uint32_t exit_kind_signaled = 1;    // exit_code is the signal number
inline constexpr std::uint32_t exit_kind_not_started = 2; // execve failed: exec_errno says why

// ---- config region (byte offsets) ----------------------------------------------------------
namespace config {
// A payload: header, then code_size bytes of code (a code::Image's bytes), then reloc_count u32
// offsets of 64-bit fields to which the load address is added. The guest clears `magic` when done.
inline constexpr std::uint32_t payload = 0;
inline constexpr std::uint32_t payload_magic_at = 0;   // u32 payload_magic
inline constexpr std::uint32_t payload_code_size = 4;  // u32
inline constexpr std::uint32_t payload_relocs = 8;     // u32 count
inline constexpr std::uint32_t payload_entry = 12;     // u32 offset of the entry point
inline constexpr std::uint32_t payload_bss_size = 16;  // u32 bytes zeroed after the code
inline constexpr std::uint32_t payload_code = 32;      // the code starts here
inline constexpr std::uint32_t payload_max = 0x100000; // header + code + relocations
// A command (the spec's CMDR format): magic, path_len, argc, envc, then path\0, argc args\0
// (argv[0] first), envc "K=V"\0. The guest clears the magic when the command has finished.
inline constexpr std::uint32_t command = 0x100000;
inline constexpr std::uint32_t command_max = 0x100000;
// Output chunks of a running command travel here, one at a time (signal_output, host_ack).
inline constexpr std::uint32_t output = 0x200000;
inline constexpr std::uint32_t output_max = 0x1ff000;
// The wall clock at boot, written by the host before the guest starts: magic, seconds, nanoseconds.
inline constexpr std::uint32_t clock = 0x3ff000;
inline constexpr std::uint32_t clock_magic_at = 0;  // u32 clock_magic (relative to `clock`)
inline constexpr std::uint32_t clock_sec = 8;       // i64
inline constexpr std::uint32_t clock_nsec = 16;     // i64
// After a restore, so clones differ: magic, 64 bytes of entropy, the wall clock. Init adds the
// entropy (RNDADDENTROPY), reseeds its CRNG (RNDRESEEDCRNG), sets the clock, clears the magic and
// signals reseeded.
inline constexpr std::uint32_t reseed = 0x3ff100;
inline constexpr std::uint32_t reseed_entropy = 8;   // 64 bytes
inline constexpr std::uint32_t reseed_sec = 72;      // i64
inline constexpr std::uint32_t reseed_nsec = 80;     // i64
// Early snapshots: the host sets hold_magic here before boot; init, after phase 6 and before it
// signals ready, signals holding and waits while the magic stays. The host snapshots it there and
// clears the magic to let it go on (also after every restore of such a snapshot).
inline constexpr std::uint32_t hold = 0x3ff200;
}  // namespace config
static_assert(config::output + config::output_max <= config::clock);

inline constexpr std::uint32_t payload_magic = 0xcafebabe;
inline constexpr std::uint32_t command_magic = 0x434d4452;   // "CMDR"
inline constexpr std::uint32_t poweroff_magic = 0x52574f50;  // "POWR" at config::command: sync, power off
inline constexpr std::uint32_t clock_magic = 0x4b434c43;     // "CLCK"
inline constexpr std::uint32_t reseed_magic = 0x44454553;    // "SEED"
inline constexpr std::uint32_t hold_magic = 0x444c4f48;      // "HOLD"

// Where each init phase is, for messages ("init phase 5 (map mailbox) failed: EPERM").
inline constexpr const char* phase_names[] = {
    "", "create /dev", "mount filesystems", "load kernel modules", "console", "map mailbox and config",
    "set the clock", "main loop"};

// The Config values the init program is translated with (crumble-rtg -c key=value).
inline std::vector<std::pair<std::string, std::string>> config_values() {
  auto hex = [](std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  std::vector<std::pair<std::string, std::string>> v{
      {"mailbox_phys", hex(mailbox_phys)}, {"mailbox_size", hex(mailbox_size)},
      {"config_phys", hex(config_phys)}, {"config_size", hex(config_size)},
      {"mb_signal", hex(mailbox::signal)}, {"mb_seq", hex(mailbox::seq)}, {"mb_phase", hex(mailbox::phase)},
      {"mb_error", hex(mailbox::error)}, {"mb_result", hex(mailbox::result)},
      {"mb_exit_kind", hex(mailbox::exit_kind)}, {"mb_exit_code", hex(mailbox::exit_code)},
      {"mb_exec_errno", hex(mailbox::exec_errno)}, {"mb_chunk_stream", hex(mailbox::chunk_stream)},
      {"mb_chunk_length", hex(mailbox::chunk_length)}, {"mb_host_ack", hex(mailbox::host_ack)},
      {"signal_ready", hex(signal_ready)}, {"signal_payload_done", hex(signal_payload_done)},
      {"signal_output", hex(signal_output)}, {"signal_command_done", hex(signal_command_done)},
      {"signal_failed", hex(signal_failed)}, {"signal_reseeded", hex(signal_reseeded)},
      {"signal_holding", hex(signal_holding)}, {"cfg_hold", hex(config::hold)}, {"hold_magic", hex(hold_magic)},
      {"exit_kind_exited", hex(exit_kind_exited)}, {"exit_kind_signaled", hex(exit_kind_signaled)},
      {"exit_kind_not_started", hex(exit_kind_not_started)},
      {"cfg_payload", hex(config::payload)}, {"cfg_payload_code_size", hex(config::payload_code_size)},
      {"cfg_payload_relocs", hex(config::payload_relocs)}, {"cfg_payload_entry", hex(config::payload_entry)},
      {"cfg_payload_bss_size", hex(config::payload_bss_size)}, {"cfg_payload_code", hex(config::payload_code)},
      {"cfg_payload_max", hex(config::payload_max)},
      {"cfg_command", hex(config::command)}, {"cfg_command_max", hex(config::command_max)},
      {"cfg_output", hex(config::output)}, {"cfg_output_max", hex(config::output_max)},
      {"cfg_clock", hex(config::clock)}, {"cfg_clock_sec", hex(config::clock_sec)}, {"cfg_clock_nsec", hex(config::clock_nsec)},
      {"payload_magic", hex(payload_magic)}, {"command_magic", hex(command_magic)},
      {"poweroff_magic", hex(poweroff_magic)}, {"clock_magic", hex(clock_magic)}, {"reseed_magic", hex(reseed_magic)},
      {"cfg_reseed", hex(config::reseed)}, {"cfg_reseed_entropy", hex(config::reseed_entropy)},
      {"cfg_reseed_sec", hex(config::reseed_sec)}, {"cfg_reseed_nsec", hex(config::reseed_nsec)},
  };
  return v;
}

}  // namespace crumble::vm::protocol
