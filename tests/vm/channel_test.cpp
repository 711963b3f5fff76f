// SPDX-License-Identifier: Apache-2.0
// tests/vm/channel_test.cpp — the protocol's one list (layout.hpp) and the host's side of the init
// protocol (channel.hpp) against a guest played by the test: the two regions are plain memory
// here, and a "guest" thread writes what an init — well-behaved, confused or hostile — would, and
// reads what the host wrote as rtg/init/init.go parses it. No VM: what is tested is that the host
// writes what the init reads, takes what it answers, and gives a typed error, never a wrong answer
// or a hang, for the rest. A command is played as init's startCommand, fill, feed and pump do:
// the request read from the command area, then the process's rings and fields in its slot.
// (ProcessSlot alone, without a Channel or a thread: process_slot_test.cpp.)
#include <catch2/catch.hpp>
#include <crumble/vm/protocol/channel.hpp>

#include "guest_skip.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace crumble::vm;
namespace p = crumble::vm::protocol;

namespace {

struct Regions {
  std::vector<std::uint8_t> mailbox = std::vector<std::uint8_t>(p::mailbox_size);
  std::vector<std::uint8_t> config = std::vector<std::uint8_t>(p::config_size);
  std::uint32_t seq = 0;
  std::chrono::milliseconds room_wait{5000};  // how long the played init waits for room in a ring (or stdin)

  void put32(std::vector<std::uint8_t>& r, std::uint32_t at, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(r.data() + at)).store(v, std::memory_order_release);
  }
  static std::uint32_t get32(const std::vector<std::uint8_t>& r, std::uint32_t at) {
    return std::atomic_ref<const std::uint32_t>(*reinterpret_cast<const std::uint32_t*>(r.data() + at)).load(std::memory_order_acquire);
  }
  // A field of process slot k (layout.hpp, PROCESS_CONTROL), where init's slotAt puts it.
  static std::uint32_t at(std::uint32_t k, std::uint32_t field) { return p::config::io + k * p::config::process_stride + field; }
  void put_slot(std::uint32_t k, std::uint32_t field, std::uint32_t v) { put32(config, at(k, field), v); }
  std::uint32_t get_slot(std::uint32_t k, std::uint32_t field) const { return get32(config, at(k, field)); }
  // As init's main loop does: waits until the host has written `magic` at `at` (false after 5 s,
  // so a host that never asks fails the test instead of hanging it).
  static bool wait_for(const std::vector<std::uint8_t>& r, std::uint32_t at, std::uint32_t magic) {
    for (auto end = Clock::now() + std::chrono::seconds(5); Clock::now() < end;) {
      if (get32(r, at) == magic) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return false;
  }
  // As init does: fields first, the signal, then seq last.
  void signal(std::uint32_t value, std::uint32_t seq_step = 1) {
    put32(mailbox, p::mailbox::signal, value);
    seq += seq_step;
    put32(mailbox, p::mailbox::seq, seq);
  }
};

// Runs `host` against a guest thread that plays `guest`; the guest starts after a short delay,
// so the host is already waiting.
template <class Host>
void play(Regions& r, const std::function<void(Regions&)>& guest, Host&& host) {
  std::thread g([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    guest(r);
  });
  try {
    host();
  } catch (...) {
    g.join();
    throw;
  }
  g.join();
}

auto soon() { return Clock::now() + std::chrono::seconds(5); }

// ---- the played init's side of a command (rtg/init/init.go: startCommand, fill, feed, pump) ----

// What the played init read from a command the host wrote, as startCommand parses it: the header,
// then the path, argc arguments and envc environment strings, the working directory, each
// NUL-terminated, from command_strings on.
struct SeenCommand {
  std::string path;
  std::uint32_t path_len = 0;
  std::vector<std::string> argv, env;
  std::string cwd;  // the string after the environment
  std::uint32_t uid = 0, gid = 0, flags = 0;
  std::vector<std::uint32_t> groups;
  std::uint32_t slot = ~0u, rows = 0, cols = 0;
  crumble::vm::Capabilities caps;
  std::int32_t oom_score_adj = 0;
  std::vector<crumble::vm::ResourceLimit> rlimits;
};

// A piece of output on stream 1 (stdout) or 2 (stderr).
struct Chunk {
  std::uint32_t stream;
  std::string bytes;
};

// How the played command ends: the exit fields init writes before state ended.
struct End {
  std::uint32_t kind, code, exec_errno, exec_stage = 0;
};

// Waits for the command magic and reads the request; false when none came.
bool take_command(Regions& r, SeenCommand& seen) {
  namespace cfg = p::config;
  if (!Regions::wait_for(r.config, cfg::command + cfg::command_magic_at, p::command_magic)) return false;
  const std::uint8_t* base = r.config.data() + cfg::command;
  const std::uint32_t argc = crumble::le::load<std::uint32_t>(base + cfg::command_argc);
  const std::uint32_t envc = crumble::le::load<std::uint32_t>(base + cfg::command_envc);
  seen.path_len = crumble::le::load<std::uint32_t>(base + cfg::command_path_len);
  const char* s = reinterpret_cast<const char*>(base + cfg::command_strings);
  auto next = [&] {
    std::string v(s);
    s += v.size() + 1;
    return v;
  };
  seen.path = next();
  for (std::uint32_t i = 0; i < argc; ++i) seen.argv.push_back(next());
  for (std::uint32_t i = 0; i < envc; ++i) seen.env.push_back(next());
  seen.cwd = next();
  seen.uid = crumble::le::load<std::uint32_t>(base + cfg::command_uid);
  seen.gid = crumble::le::load<std::uint32_t>(base + cfg::command_gid);
  seen.flags = crumble::le::load<std::uint32_t>(base + cfg::command_flags);
  const std::uint32_t ngroups = crumble::le::load<std::uint32_t>(base + cfg::command_ngroups);
  for (std::uint32_t i = 0; i < ngroups && i < cfg::command_groups_max; ++i)
    seen.groups.push_back(crumble::le::load<std::uint32_t>(base + cfg::command_groups + 4 * i));
  seen.slot = crumble::le::load<std::uint32_t>(base + cfg::command_process);
  seen.rows = crumble::le::load<std::uint32_t>(base + cfg::command_rows);
  seen.cols = crumble::le::load<std::uint32_t>(base + cfg::command_cols);
  seen.caps = {crumble::le::load<std::uint64_t>(base + cfg::command_cap_bounding), crumble::le::load<std::uint64_t>(base + cfg::command_cap_effective),
               crumble::le::load<std::uint64_t>(base + cfg::command_cap_permitted), crumble::le::load<std::uint64_t>(base + cfg::command_cap_inheritable),
               crumble::le::load<std::uint64_t>(base + cfg::command_cap_ambient)};
  seen.oom_score_adj = static_cast<std::int32_t>(crumble::le::load<std::uint32_t>(base + cfg::command_oom_score_adj));
  const std::uint32_t nrlimits = crumble::le::load<std::uint32_t>(base + cfg::command_nrlimits);
  for (std::uint32_t i = 0; i < nrlimits && i < cfg::command_rlimits_max; ++i) {
    const std::uint8_t* l = base + cfg::command_rlimits + 24 * i;
    seen.rlimits.push_back({static_cast<int>(crumble::le::load<std::uint32_t>(l)), crumble::le::load<std::uint64_t>(l + 8),
                            crumble::le::load<std::uint64_t>(l + 16)});
  }
  return true;
}

// startCommand's first step in slot k: the guest's fields back to 0, and its pid.
void reset_guest_fields(Regions& r, std::uint32_t k, std::uint32_t pid) {
  namespace cfg = p::config;
  for (std::uint32_t f : {cfg::proc_out_head, cfg::proc_err_head, cfg::proc_in_tail, cfg::proc_signal_ack, cfg::proc_exit_kind,
                          cfg::proc_exit_code, cfg::proc_exec_errno, cfg::proc_exec_stage})
    r.put_slot(k, f, 0);
  r.put_slot(k, cfg::proc_pid, pid);
}

// The rest of startCommand for a process that runs: state running, the magic cleared, started.
void start_process(Regions& r, std::uint32_t k, std::uint32_t pid = 100) {
  reset_guest_fields(r, k, pid);
  r.put_slot(k, p::config::proc_state, p::process_running);
  r.put32(r.config, p::config::command + p::config::command_magic_at, 0);
  r.signal(p::signal_started);
}

// Pump's end of a process: the exit fields, then state ended, last (the heads are final).
void end_process(Regions& r, std::uint32_t k, End end) {
  namespace cfg = p::config;
  r.put_slot(k, cfg::proc_exit_kind, end.kind);
  r.put_slot(k, cfg::proc_exit_code, end.code);
  r.put_slot(k, cfg::proc_exec_errno, end.exec_errno);
  r.put_slot(k, cfg::proc_exec_stage, end.exec_stage);
  r.put_slot(k, cfg::proc_state, p::process_ended);
}

// Plays fill: writes `bytes` into the stdout (1) or stderr (2) ring of slot k as room allows, at
// most `piece` bytes at a time, waiting for the host's tail when the ring is full. False when the
// host made no room within room_wait, or its tail is not one the guest wrote.
bool write_ring(Regions& r, std::uint32_t k, std::uint32_t stream, std::string_view bytes, std::size_t piece = ~std::size_t{0}) {
  namespace cfg = p::config;
  const std::uint32_t head_at = stream == 1 ? cfg::proc_out_head : cfg::proc_err_head;
  const std::uint32_t data = stream == 1 ? cfg::process_stdout : cfg::process_stderr;
  const std::uint32_t size = stream == 1 ? cfg::stdout_ring : cfg::stderr_ring;
  auto waited = Clock::now();
  while (!bytes.empty()) {
    const std::uint32_t head = r.get_slot(k, head_at);
    const std::uint32_t used = head - r.get_slot(k, head_at + 4);  // the tail follows its head
    if (used > size) return false;
    const std::uint32_t off = head & (size - 1);
    const std::size_t n = std::min({std::size_t{size - used}, std::size_t{size - off}, bytes.size(), piece});
    if (n == 0) {
      if (Clock::now() - waited > r.room_wait) return false;
      std::this_thread::yield();
      continue;
    }
    std::memcpy(r.config.data() + Regions::at(k, data) + off, bytes.data(), n);
    r.put_slot(k, head_at, head + static_cast<std::uint32_t>(n));  // after the bytes
    bytes.remove_prefix(n);
    waited = Clock::now();
  }
  return true;
}

// Plays feed for a `cat`: takes what the host wrote to the stdin ring (at most `piece` at a
// time) into `got`, until the host closed stdin and everything is taken. False on a timeout.
bool read_stdin(Regions& r, std::uint32_t k, std::string& got, std::size_t piece = ~std::size_t{0},
                const std::function<void(std::string_view)>& echo = {}) {
  namespace cfg = p::config;
  auto waited = Clock::now();
  for (;;) {
    const std::uint32_t tail = r.get_slot(k, cfg::proc_in_tail);
    const bool closed = r.get_slot(k, cfg::proc_in_closed) != 0;  // before the head: a close after the last bytes
    const std::uint32_t head = r.get_slot(k, cfg::proc_in_head);
    if (head - tail > cfg::stdin_ring) return false;
    const std::uint32_t off = tail & (cfg::stdin_ring - 1);
    const std::size_t n = std::min({std::size_t{head - tail}, std::size_t{cfg::stdin_ring - off}, piece});
    if (n == 0) {
      if (closed) return true;
      if (Clock::now() - waited > r.room_wait) return false;
      std::this_thread::yield();
      continue;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(r.config.data() + Regions::at(k, cfg::process_stdin) + off), n);
    got.append(bytes);
    if (echo) echo(bytes);  // before the tail moves: then the host may write over them
    r.put_slot(k, cfg::proc_in_tail, tail + static_cast<std::uint32_t>(n));
    waited = Clock::now();
  }
}

// Plays one whole command: the request, the process started in the slot it names, the chunks in
// order (each in pieces of at most `piece` bytes), the end.
void play_command(Regions& r, SeenCommand& seen, const std::vector<Chunk>& chunks, End end, std::size_t piece = ~std::size_t{0}) {
  if (!take_command(r, seen) || seen.slot >= p::config::process_max) return;
  start_process(r, seen.slot);
  for (const Chunk& c : chunks)
    if (!write_ring(r, seen.slot, c.stream, c.bytes, piece)) return;
  end_process(r, seen.slot, end);
}

// Plays a process that could not start (startCommand's failed pipe2, openpty or clone): it has
// ended in its slot before init signals started.
void play_not_started(Regions& r, SeenCommand& seen, std::uint32_t err) {
  if (!take_command(r, seen) || seen.slot >= p::config::process_max) return;
  reset_guest_fields(r, seen.slot, 0);
  end_process(r, seen.slot, {p::exit_kind_not_started, 0, err});
  r.put32(r.config, p::config::command + p::config::command_magic_at, 0);
  r.signal(p::signal_started);
}

}  // namespace

TEST_CASE("channel: waiting for init, what the guest signals decides the answer", "[vm][channel]") {
  struct Case {
    std::string what;
    std::function<void(Regions&)> guest;
    std::function<void(Channel&)> host;
    std::string error;  // empty: no error; else a piece of the message
  };
  // A command whose process the played init starts in slot 0, then does `then` to.
  auto started = [](std::function<void(Regions&)> then) {
    return [then](Regions& r) {
      SeenCommand seen;
      if (!take_command(r, seen)) return;
      start_process(r, 0);
      then(r);
    };
  };
  namespace cfg = p::config;
  const std::vector<Case> cases = {
      {"ready", [](Regions& r) { r.signal(p::signal_ready); }, [](Channel& c) { c.wait_ready(soon()); }, ""},
      {"a failed phase", [](Regions& r) {
         r.put32(r.mailbox, p::mailbox::phase, 5);
         r.put32(r.mailbox, p::mailbox::error, EPERM);
         r.signal(p::signal_failed);
       }, [](Channel& c) { c.wait_ready(soon()); }, "init phase 5 (map mailbox and config) failed: EPERM"},
      {"an unknown signal before ready", [](Regions& r) { r.signal(0x12345678); }, [](Channel& c) { c.wait_ready(soon()); },
       "init sent signal 0x12345678"},
      {"a sequence that jumps", [](Regions& r) { r.signal(p::signal_ready, 2); }, [](Channel& c) { c.wait_ready(soon()); },
       "sequence jumped from 0 to 2"},
      {"silence", [](Regions&) {}, [](Channel& c) { c.wait_ready(Clock::now() + std::chrono::milliseconds(100)); },
       "did not answer in time"},
      {"holding, as asked", [](Regions& r) { r.signal(p::signal_holding); }, [](Channel& c) { CHECK(c.wait_holding(soon())); }, ""},
      {"ready instead of holding: an init without early snapshots", [](Regions& r) { r.signal(p::signal_ready); },
       [](Channel& c) { CHECK_FALSE(c.wait_holding(soon())); }, ""},
      {"a stdout head a byte past the ring's size", started([](Regions& r) { r.put_slot(0, cfg::proc_out_head, cfg::stdout_ring + 1); }),
       [](Channel& c) { c.run({"true"}, {}, soon()); }, "guest's stdout ring claims 262145 bytes; it holds 262144"},
      {"a stderr head behind the host's tail", started([](Regions& r) { r.put_slot(0, cfg::proc_err_head, 0xffffffff); }),
       [](Channel& c) { c.run({"true"}, {}, soon()); }, "guest's stderr ring claims 4294967295 bytes"},
      {"an impossible command end", started([](Regions& r) { end_process(r, 0, {7, 0, 0}); }),
       [](Channel& c) { c.run({"true"}, {}, soon()); }, "impossible command end (kind 7"},
      {"ready after a command", [](Regions& r) {
         SeenCommand seen;
         if (take_command(r, seen)) r.signal(p::signal_ready);
       }, [](Channel& c) { c.run({"true"}, {}, soon()); }, "unexpected signal 0xdeadbeef after a command"},
      {"a payload's end after a command", [](Regions& r) {
         SeenCommand seen;
         if (take_command(r, seen)) r.signal(p::signal_payload_done);
       }, [](Channel& c) { c.run({"true"}, {}, soon()); }, "unexpected signal 0x600dca11 after a command"},
      {"a failed phase after a command", [](Regions& r) {
         SeenCommand seen;
         if (!take_command(r, seen)) return;
         r.put32(r.mailbox, p::mailbox::phase, 7);
         r.put32(r.mailbox, p::mailbox::error, ENOMEM);
         r.signal(p::signal_failed);
       }, [](Channel& c) { c.run({"true"}, {}, soon()); }, "init phase 7 (main loop) failed: ENOMEM"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    if (k.error.empty()) {
      CHECK_NOTHROW(play(r, k.guest, [&] { k.host(c); }));
    } else {
      try {
        play(r, k.guest, [&] { k.host(c); });
        FAIL("accepted");
      } catch (const VmError& e) {
        CHECK_THAT(e.what(), Catch::Contains(k.error));
      }
    }
  }
}

TEST_CASE("channel: the hold request is set before boot and cleared to let init go on", "[vm][channel]") {
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  auto hold = [&] { return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(r.config.data() + p::config::hold)).load(); };
  CHECK(hold() == 0);
  c.request_hold();
  CHECK(hold() == p::hold_magic);
  c.release_hold();
  CHECK(hold() == 0);
}

// ---- the one list (layout.hpp) ---------------------------------------------------------------

TEST_CASE("layout: every C++ constant and the Config value the init gets for it agree", "[vm][channel][layout]") {
  std::map<std::string, std::uint64_t> config;
  for (const auto& [name, text] : p::config_values()) {
    INFO(name << "=" << text);
    CHECK(config.count(name) == 0);  // two rows with one Config name: the init would see only one
    char* end = nullptr;
    config[name] = std::strtoull(text.c_str(), &end, 0);
    CHECK((end != text.c_str() && *end == '\0'));
  }
  // Each row once more, its C++ constant named in full: a row whose Config value is missing or
  // differs, or a Config value without a row, fails here.
  std::vector<std::pair<std::string, std::uint64_t>> rows;
#define ROW(name, value, bytes) rows.emplace_back(#name, p::name);
  CRUMBLE_PROTOCOL_WHERE(ROW) CRUMBLE_PROTOCOL_SIGNALS(ROW) CRUMBLE_PROTOCOL_MAGICS(ROW) CRUMBLE_PROTOCOL_STEPS(ROW)
#undef ROW
#define ROW(name, value, bytes) rows.emplace_back("mb_" #name, p::mailbox::name);
  CRUMBLE_PROTOCOL_MAILBOX(ROW)
#undef ROW
#define ROW(name, value, bytes) rows.emplace_back("cfg_" #name, p::config::name);
  CRUMBLE_PROTOCOL_CONFIG(ROW)
#undef ROW
  CHECK(rows.size() == config.size());
  for (const auto& [name, value] : rows) {
    INFO(name);
    REQUIRE(config.count(name) == 1);
    CHECK(config[name] == value);
  }
  // The Field tables (the places as data, which the host and these tests walk) say the same:
  // each row's Config name is a Config value, at the row's offset.
  auto v = [](const auto& a) { return std::vector<p::Field>(std::begin(a), std::end(a)); };
  const std::vector<std::pair<const char*, std::vector<p::Field>>> tables = {
      {"mailbox", v(p::mailbox::fields)},
      {"config areas", v(p::config::areas)},
      {"payload header", v(p::config::payload_header)},
      {"command header", v(p::config::command_header)},
      {"container header", v(p::config::container_header)},
      {"container file record", v(p::config::container_file_fields)},
      {"process slot", v(p::config::process_slot)},
      {"process control", v(p::config::process_control_fields)},
      {"clock", v(p::config::clock_fields)},
      {"reseed", v(p::config::reseed_fields)},
      {"network", v(p::config::network_fields)},
  };
  std::size_t places = 0;
  for (const auto& [what, fields] : tables) {
    CHECK(!fields.empty());
    for (const p::Field& f : fields) {
      INFO(what << ": " << f.name);
      REQUIRE(config.count(f.name) == 1);
      CHECK(config[f.name] == f.at);
      ++places;
    }
  }
  // every mailbox and config row is in a table
  std::size_t prefixed = 0;
  for (const auto& [name, value] : config) prefixed += name.rfind("mb_", 0) == 0 || name.rfind("cfg_", 0) == 0;
  CHECK(places == prefixed);
}

TEST_CASE("layout: the wire values stay what the init and docs/protocol.md have", "[vm][channel][layout]") {
  // An independent record of the protocol's bytes: changing one is a protocol change, to be made
  // here, in docs/protocol.md and in every guest at once.
  const std::vector<std::pair<const char*, std::uint64_t>> wire = {
      {"window_base", 0x08000000},     {"window_size", 0x00800000},        {"mailbox_size", 0x1000},
      {"mailbox_phys", 0x08000000},    {"config_phys", 0x08100000},        {"config_size", 0x400000},
      {"mb_signal", 0},                {"mb_seq", 4},                      {"mb_phase", 8},
      {"mb_error", 12},                {"mb_result", 16},                  {"mb_index", 24},
      {"signal_ready", 0xdeadbeef},    {"signal_payload_done", 0x600dca11}, {"signal_started", 0x57a27ed0},
      {"signal_failed", 0xfa11ed00},   {"signal_reseeded", 0x5eed5eed},    {"signal_holding", 0x401d0006},
      {"exit_kind_exited", 0},         {"exit_kind_signaled", 1},          {"exit_kind_not_started", 2},
      {"process_free", 0},             {"process_running", 1},             {"process_ended", 2},
      {"signal_to_process_only", 0x100},
      {"signal_container_ready", 0xc7a1ead7}, {"signal_container_failed", 0xc7afa11d},
      {"payload_magic", 0xcafebabe},   {"command_magic", 0x434d4452},     {"poweroff_magic", 0x52574f50},
      {"clock_magic", 0x4b434c43},     {"reseed_magic", 0x44454553},      {"hold_magic", 0x444c4f48},
      {"container_magic", 0x524e5443},
      {"container_step_devices", 1},   {"container_step_root", 2},        {"container_step_overlay", 3},
      {"container_step_volume", 4},    {"container_step_mounts", 5},      {"container_step_switch_root", 6},
      {"container_step_hostname", 7},  {"container_step_binfmt", 8},      {"container_step_request", 9},
      {"container_step_file", 10},     {"container_file_copy", 1},        {"container_file_tmpfs", 2},
      {"container_file_mount_flags", 0xf}, {"container_file_mount", 3},     {"container_file_device", 4},
      {"container_file_symlink", 5},   {"container_file_masked", 6},      {"container_file_read_only", 7},
      {"container_file_sysctl", 8},    {"container_flag_own_mounts", 1}, {"container_flag_user_namespace", 2}, {"container_step_user_namespace", 11},
      {"exec_stage_execve", 0},        {"exec_stage_chdir", 1},           {"exec_stage_setgroups", 2},
      {"exec_stage_setgid", 3},        {"exec_stage_setuid", 4},          {"exec_stage_no_new_privs", 5},
      {"exec_stage_capabilities", 6},  {"exec_stage_rlimits", 7},         {"exec_stage_oom_score_adj", 8}, {"exec_stage_user_namespace", 9},
      {"container_root_dir", 1},       {"container_root_block", 2},
      {"container_root_virtiofs", 3},  {"command_flag_set_ids", 1},       {"command_flag_no_new_privs", 2},
      {"command_flag_chdir", 4},       {"command_flag_stdin", 8},         {"command_flag_tty", 16},
      {"command_flag_root_writes", 32}, {"command_flag_capabilities", 64}, {"command_flag_oom_score_adj", 128},
      {"volume_flag_read_only", 1},
      {"cfg_payload_magic_at", 0},     {"cfg_command_magic_at", 0},       {"cfg_clock_magic_at", 0},
      {"cfg_reseed_magic_at", 0},      {"cfg_reseed_entropy_bytes", 64},
      {"cfg_payload", 0},              {"cfg_payload_code_size", 4},      {"cfg_payload_relocs", 8},
      {"cfg_payload_entry", 12},       {"cfg_payload_bss_size", 16},      {"cfg_payload_code", 32},
      {"cfg_payload_max", 0x100000},   {"exec_size", 0x400000},
      {"cfg_command", 0x100000},       {"cfg_command_path_len", 4},       {"cfg_command_argc", 8},
      {"cfg_command_envc", 12},        {"cfg_command_uid", 16},           {"cfg_command_gid", 20},
      {"cfg_command_flags", 24},       {"cfg_command_ngroups", 28},       {"cfg_command_groups_max", 32},
      {"cfg_command_groups", 32},      {"cfg_command_process", 160},      {"cfg_command_rows", 164},
      {"cfg_command_cols", 168},       {"cfg_command_cap_bounding", 176}, {"cfg_command_cap_effective", 184},
      {"cfg_command_cap_permitted", 192}, {"cfg_command_cap_inheritable", 200}, {"cfg_command_cap_ambient", 208},
      {"cfg_command_oom_score_adj", 216}, {"cfg_command_nrlimits", 220},   {"cfg_command_rlimits_max", 16},
      {"cfg_command_rlimits", 224},    {"cfg_command_strings", 640},      {"cfg_command_max", 0x100000},
      {"cfg_container_magic_at", 0},   {"cfg_container_root_kind", 4},    {"cfg_container_flags", 8},
      {"cfg_container_volumes", 12},   {"cfg_container_binfmts", 16},     {"cfg_container_volumes_max", 32},
      {"cfg_container_binfmts_max", 16}, {"cfg_container_volume_flags", 32}, {"cfg_container_strings", 160},
      {"cfg_container_files", 20},     {"cfg_container_files_at", 24},    {"cfg_container_prefetch_mib", 28},    {"cfg_container_files_max", 128}, {"cfg_container_user_map_max", 4095},
      {"cfg_container_file_kind", 0},  {"cfg_container_file_mode", 4},    {"cfg_container_file_uid", 8},
      {"cfg_container_file_gid", 12},  {"cfg_container_file_flags", 16},  {"cfg_container_file_path_len", 20},
      {"cfg_container_file_size", 24}, {"cfg_container_file_header", 32},
      {"cfg_io", 0x200000},            {"cfg_io_max", 0x1ff000},
      // a process slot: the control block, then the rings
      {"cfg_process_max", 4},          {"cfg_process_stride", 0x61000},   {"cfg_process_control", 0},
      {"cfg_process_stdout", 0x1000},  {"cfg_stdout_ring", 0x40000},      {"cfg_process_stderr", 0x41000},
      {"cfg_stderr_ring", 0x10000},    {"cfg_process_stdin", 0x51000},    {"cfg_stdin_ring", 0x10000},
      // its control block
      {"cfg_proc_state", 0},           {"cfg_proc_exit_kind", 4},         {"cfg_proc_exit_code", 8},
      {"cfg_proc_exec_errno", 12},     {"cfg_proc_exec_stage", 16},       {"cfg_proc_pid", 20},
      {"cfg_proc_out_head", 32},       {"cfg_proc_out_tail", 36},         {"cfg_proc_err_head", 40},
      {"cfg_proc_err_tail", 44},       {"cfg_proc_in_head", 48},          {"cfg_proc_in_tail", 52},
      {"cfg_proc_in_closed", 56},      {"cfg_proc_signal", 60},           {"cfg_proc_signal_seq", 64},
      {"cfg_proc_signal_ack", 68},     {"cfg_proc_rows", 72},             {"cfg_proc_cols", 76},
      {"cfg_proc_winsize_seq", 80},
      {"cfg_clock", 0x3ff000},         {"cfg_clock_sec", 8},              {"cfg_clock_nsec", 16},
      {"cfg_reseed", 0x3ff100},        {"cfg_reseed_entropy", 8},         {"cfg_reseed_sec", 72},
      {"cfg_reseed_nsec", 80},         {"cfg_hold", 0x3ff200},
      {"cfg_reseed_hostname_len", 88}, {"cfg_reseed_hostname", 96},       {"cfg_reseed_hostname_max", 64},
      {"cfg_network", 0x3ff300},       {"cfg_network_magic_at", 0},       {"cfg_network_address", 4},
      {"cfg_network_netmask", 8},      {"cfg_network_gateway", 12},       {"cfg_network_dns", 16},
      {"cfg_network_magic", 0x5754454e}, {"cfg_slirp_network", 0x0a000200}, {"cfg_slirp_prefix", 24},
      {"cfg_slirp_guest", 0x0a00020f}, {"cfg_slirp_gateway", 0x0a000202}, {"cfg_slirp_dns", 0x0a000203},
  };
  const auto values = p::config_values();
  std::map<std::string, std::string> config(values.begin(), values.end());
  CHECK(wire.size() == config.size());  // every value the init gets is recorded here
  for (const auto& [name, value] : wire) {
    INFO(name);
    REQUIRE(config.count(name) == 1);
    CHECK(std::strtoull(config[name].c_str(), nullptr, 0) == value);
  }
}

TEST_CASE("layout: the fields of each region and area lie inside it, apart and aligned", "[vm][channel][layout]") {
  // The tables the header checks with static_assert, once more where a failure names the field.
  struct Region {
    const char* what;
    std::vector<p::Field> fields;
    std::uint64_t size;
  };
  auto v = [](const auto& a) { return std::vector<p::Field>(std::begin(a), std::end(a)); };
  const std::vector<Region> regions = {
      {"mailbox", v(p::mailbox::fields), p::mailbox_size},
      {"config region", v(p::config::areas), p::config_size},
      {"payload header", v(p::config::payload_header), p::area_bytes("cfg_payload")},
      {"command header", v(p::config::command_header), p::area_bytes("cfg_command")},
      {"container header", v(p::config::container_header), p::area_bytes("cfg_command")},
      {"container file record", v(p::config::container_file_fields), p::config::container_file_header},
      {"process slot", v(p::config::process_slot), p::config::process_stride},
      {"process control block", v(p::config::process_control_fields), p::config::process_stdout - p::config::process_control},
      {"clock", v(p::config::clock_fields), p::area_bytes("cfg_clock")},
      {"reseed", v(p::config::reseed_fields), p::area_bytes("cfg_reseed")},
      {"network", v(p::config::network_fields), p::area_bytes("cfg_network")},
  };
  for (const Region& r : regions) {
    INFO(r.what);
    CHECK(r.size > 0);
    for (std::size_t i = 0; i < r.fields.size(); ++i) {
      const p::Field& a = r.fields[i];
      if (a.bytes == 0) continue;
      INFO(a.name << " at " << a.at << ", " << a.bytes << " bytes");
      CHECK(a.at + a.bytes <= r.size);
      if (a.bytes == 4 || a.bytes == 8) CHECK(a.at % a.bytes == 0);
      for (std::size_t j = i + 1; j < r.fields.size(); ++j) {
        const p::Field& b = r.fields[j];
        INFO("against " << b.name);
        CHECK((b.bytes == 0 || a.at + a.bytes <= b.at || b.at + b.bytes <= a.at));
      }
    }
  }
  // The areas' sizes the host checks against are those of the rows.
  CHECK(p::area_bytes("cfg_payload") == p::config::payload_max);
  CHECK(p::area_bytes("cfg_command") == p::config::command_max);
  CHECK(p::area_bytes("cfg_io") == p::config::io_max);
  // The slots fit the io area, each ring's place is as big as its size row, and the sizes are
  // powers of two (positions are free-running u32s: a ring's offset is position % size).
  CHECK(p::config::process_max * p::config::process_stride <= p::config::io_max);
  const std::pair<const char*, std::uint32_t> rings[] = {
      {"cfg_stdout_ring", p::config::stdout_ring}, {"cfg_stderr_ring", p::config::stderr_ring}, {"cfg_stdin_ring", p::config::stdin_ring}};
  const std::pair<const char*, std::uint64_t> places[] = {
      {"cfg_process_stdout", p::config::stdout_ring}, {"cfg_process_stderr", p::config::stderr_ring}, {"cfg_process_stdin", p::config::stdin_ring}};
  for (const auto& [name, size] : rings) {
    INFO(name);
    CHECK(std::has_single_bit(size));
    CHECK(size >= 4096);
  }
  for (const auto& [name, size] : places) {
    INFO(name);
    bool found = false;
    for (const p::Field& f : p::config::process_slot)
      if (std::string_view(f.name) == name) found = f.bytes == size;
    CHECK(found);
  }
  // the control block's fields (offsets in the block) stay inside it
  std::uint64_t control = 0;
  for (const p::Field& f : p::config::process_slot)
    if (std::string_view(f.name) == "cfg_process_control") control = f.bytes;
  CHECK(control == p::config::process_stdout - p::config::process_control);
  for (const p::Field& f : p::config::process_control_fields) CHECK(f.at + f.bytes <= control);
}

TEST_CASE("layout: laid_out refuses what breaks a layout", "[vm][channel][layout]") {
  struct Case {
    const char* what;
    p::Field fields[2];
    std::uint64_t size;
    bool ok;
  };
  const Case cases[] = {
      {"two fields side by side", {{"a", 0, 4}, {"b", 4, 4}}, 8, true},
      {"a size row is no place", {{"a", 0, 8}, {"a_max", 4, 0}}, 8, true},
      {"overlapping by a byte", {{"a", 0, 8}, {"b", 4, 4}}, 16, false},
      {"one inside the other", {{"a", 0, 64}, {"b", 8, 8}}, 64, false},
      {"past the end of the region", {{"a", 0, 4}, {"b", 8, 8}}, 12, false},
      {"a u32 not aligned", {{"a", 0, 2}, {"b", 2, 4}}, 8, false},
      {"a u64 on a 4-byte boundary", {{"a", 0, 4}, {"b", 4, 8}}, 16, false},
      {"wrapping around", {{"a", 0, 4}, {"b", ~std::uint64_t{0} - 3, 8}}, 16, false},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    CHECK(p::laid_out(k.fields, k.size) == k.ok);
  }
}

// ---- a successful command and payload, with a guest that plays rtg/init/init.go ----------------

TEST_CASE("channel: a command runs, and the host gets its output in order and how it ended", "[vm][channel]") {
  using E = CommandResult::End;
  const std::uint32_t ring = p::config::stdout_ring;
  std::string wraps;  // more than the stdout ring holds, no byte like its neighbour's: a misplaced piece shows
  for (std::size_t i = 0; i < 3 * std::size_t{ring} + 12345; ++i) wraps += static_cast<char>('!' + (i * 7 + i / 251) % 90);
  const std::string err_wraps = wraps.substr(0, p::config::stderr_ring * 2 + 77);
  const std::size_t all = ~std::size_t{0};
  struct Case {
    std::string what;
    std::vector<std::string> argv, env;
    std::vector<Chunk> chunks;
    std::size_t piece;  // the most the played init writes at once
    End end;
    // what run() returns
    std::string out, err;
    E kind;
    int code, exec_errno, status;
  };
  const std::vector<Case> cases = {
      {"exits 0 with output", {"echo", "hi"}, {"PATH=/bin"}, {{1, "hi\n"}}, all, {0, 0, 0}, "hi\n", "", E::exited, 0, 0, 0},
      {"no output, no environment", {"/bin/true"}, {}, {}, all, {0, 0, 0}, "", "", E::exited, 0, 0, 0},
      {"an exit status", {"sh", "-c", "exit 3"}, {}, {}, all, {0, 3, 0}, "", "", E::exited, 3, 0, 3},
      {"the largest exit status", {"sh", "-c", "exit 255"}, {}, {}, all, {0, 255, 0}, "", "", E::exited, 255, 0, 255},
      {"stdout then stderr, in several pieces", {"sh", "-c", "x"}, {"A=1", "B="},
       {{1, "ab"}, {1, "c"}, {2, "oops\n"}}, all, {0, 1, 0}, "abc", "oops\n", E::exited, 1, 0, 1},
      {"both streams interleaved, a byte at a time", {"x"}, {}, {{2, "e1"}, {1, "o1"}, {2, "e2"}, {1, "o2"}, {2, "e3"}}, 1, {0, 0, 0},
       "o1o2", "e1e2e3", E::exited, 0, 0, 0},
      {"exactly the stdout ring", {"cat", "f"}, {}, {{1, wraps.substr(0, ring)}}, all, {0, 0, 0}, wraps.substr(0, ring), "", E::exited, 0, 0, 0},
      {"three times round the stdout ring, whole", {"cat", "f"}, {}, {{1, wraps}}, all, {0, 0, 0}, wraps, "", E::exited, 0, 0, 0},
      {"round the stdout ring in odd pieces", {"cat", "f"}, {}, {{1, wraps}}, 4093, {0, 0, 0}, wraps, "", E::exited, 0, 0, 0},
      {"round both rings at once, interleaved", {"cat", "f"}, {},
       {{1, wraps.substr(0, 300000)}, {2, err_wraps.substr(0, 100000)}, {1, wraps.substr(300000)}, {2, err_wraps.substr(100000)}}, 65521,
       {0, 0, 0}, wraps, err_wraps, E::exited, 0, 0, 0},
      {"killed by a signal", {"sleep", "9"}, {}, {{2, "bye"}}, all, {1, SIGKILL, 0}, "", "bye", E::signaled, SIGKILL, 0, 128 + SIGKILL},
      {"not found", {"nosuch"}, {}, {}, all, {2, 127, ENOENT}, "", "", E::not_started, 0, ENOENT, 127},
      {"not executable", {"/etc/passwd"}, {}, {}, all, {2, 127, EACCES}, "", "", E::not_started, 0, EACCES, 126},
      {"empty arguments and an argument with spaces", {"printf", "", "a b"}, {"X=y z"}, {}, all, {0, 0, 0}, "", "", E::exited, 0, 0, 0},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    CommandResult got;
    play(r, [&](Regions& g) { play_command(g, seen, k.chunks, k.end, k.piece); }, [&] { got = c.run(k.argv, k.env, soon()); });
    // what the init read
    CHECK(seen.path == k.argv[0]);
    CHECK(seen.path_len == k.argv[0].size());
    CHECK(seen.argv == k.argv);
    CHECK(seen.env == k.env);
    CHECK(seen.cwd.empty());  // no options: none asked for
    CHECK(seen.flags == 0);   // no stdin, no terminal
    CHECK(seen.slot == 0);    // the first free slot
    // what the host made of the answer
    CHECK(got.out.size() == k.out.size());
    CHECK(got.out == k.out);
    CHECK(got.err == k.err);
    CHECK(got.end == k.kind);
    CHECK(got.code == k.code);
    CHECK(got.exec_errno == k.exec_errno);
    CHECK(got.status() == k.status);
    CHECK_FALSE(got.out_truncated);
    // the host freed the slot: state free, its own positions back to 0
    CHECK(r.get_slot(0, p::config::proc_state) == p::process_free);
    CHECK(r.get_slot(0, p::config::proc_out_tail) == 0);
    CHECK(r.get_slot(0, p::config::proc_err_tail) == 0);
  }
}

TEST_CASE("channel: a process that could not start has ended before init says started", "[vm][channel]") {
  for (std::uint32_t err : {ENOMEM, EMFILE, EAGAIN}) {
    INFO(err);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    CommandResult got;
    play(r, [&](Regions& g) { play_not_started(g, seen, err); }, [&] { got = c.run({"x"}, {}, soon()); });
    CHECK(got.end == CommandResult::End::not_started);
    CHECK(got.exec_errno == static_cast<int>(err));
    CHECK(got.exec_stage == p::exec_stage_execve);
    CHECK(got.status() == 126);
    CHECK(r.get_slot(0, p::config::proc_state) == p::process_free);
  }
}

TEST_CASE("channel: a payload is called, the init reads its header and code, the host gets its result", "[vm][channel]") {
  struct Seen {
    std::uint32_t code_size = 0, entry = 0, bss = 0;
    std::vector<std::uint8_t> code;
    std::vector<std::uint32_t> relocs;
  };
  struct Case {
    std::string what;
    crumble::code::Image img;
    std::uint32_t bss;      // what init must zero after the code: the gap to bss_offset and bss
    std::int64_t result;    // what the payload returns
  };
  auto image = [](std::vector<std::uint8_t> bytes, std::vector<std::uint32_t> relocs, std::uint64_t entry,
                  std::uint64_t bss_offset, std::uint64_t bss_size) {
    crumble::code::Image i;
    i.bytes = std::move(bytes);
    i.relocs = std::move(relocs);
    i.entry = entry;
    i.code_size = i.bytes.size();
    i.bss_offset = bss_offset;
    i.bss_size = bss_size;
    return i;
  };
  const std::vector<std::uint8_t> two_fields(24, 0x90);
  const std::vector<Case> cases = {
      {"one instruction, returns 42", image({0xc3}, {}, 0, 0, 0), 0, 42},
      {"a negative result", image({0xc3}, {}, 0, 0, 0), 0, -1},
      {"the largest result", image({0x90, 0xc3}, {}, 1, 0, 0), 0, INT64_MAX},
      {"relocations and an entry inside", image(two_fields, {8, 16}, 4, 0, 0), 0, 7},
      {"bss right after the code", image(std::vector<std::uint8_t>(16, 0xcc), {}, 0, 16, 32), 32, 0},
      {"bss a page on: the gap is zeroed too", image(std::vector<std::uint8_t>(100, 0xcc), {}, 0, 4096, 8), 4096 + 8 - 100, 0},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    Seen seen;
    std::int64_t got = 0;
    // Plays init's runPayload: read the header, the code and the relocations after it, return.
    auto guest = [&](Regions& g) {
      namespace cfg = p::config;
      if (!Regions::wait_for(g.config, cfg::payload + cfg::payload_magic_at, p::payload_magic)) return;
      const std::uint8_t* h = g.config.data() + cfg::payload;
      seen.code_size = crumble::le::load<std::uint32_t>(h + cfg::payload_code_size);
      const std::uint32_t relocs = crumble::le::load<std::uint32_t>(h + cfg::payload_relocs);
      seen.entry = crumble::le::load<std::uint32_t>(h + cfg::payload_entry);
      seen.bss = crumble::le::load<std::uint32_t>(h + cfg::payload_bss_size);
      seen.code.assign(h + cfg::payload_code, h + cfg::payload_code + seen.code_size);
      for (std::uint32_t i = 0; i < relocs; ++i)
        seen.relocs.push_back(crumble::le::load<std::uint32_t>(h + cfg::payload_code + seen.code_size + 4 * i));
      crumble::le::store<std::uint64_t>(g.mailbox.data() + p::mailbox::result, static_cast<std::uint64_t>(k.result));
      g.put32(g.config, cfg::payload + cfg::payload_magic_at, 0);
      g.signal(p::signal_payload_done);
    };
    play(r, guest, [&] { got = c.call(k.img, soon()); });
    CHECK(seen.code_size == k.img.bytes.size());
    CHECK(seen.code == k.img.bytes);
    CHECK(seen.relocs == k.img.relocs);
    CHECK(seen.entry == k.img.entry);
    CHECK(seen.bss == k.bss);
    CHECK(got == k.result);
  }
}


// ---- output that does not fit: the limit of the one-shot run(), and the sink -------------------

namespace {

using crumble::test::resident_bytes;

// A guest that floods: `mib` MiB on each stream, in 64 KiB pieces that alternate stdout and
// stderr, each MiB one letter (stdout a, b, ...; stderr A, B, ...), then exit 0. It samples the
// process's resident set every 8 MiB into `peak`.
void play_flood(Regions& r, std::size_t mib, std::size_t& peak) {
  SeenCommand seen;
  if (!take_command(r, seen) || seen.slot >= p::config::process_max) return;
  start_process(r, seen.slot);
  const std::size_t piece = 64 << 10, per_mib = (1 << 20) / piece;
  std::string out(piece, 'a'), err(piece, 'A');
  for (std::size_t i = 0; i < mib * per_mib; ++i) {
    if (i % per_mib == 0) {
      std::fill(out.begin(), out.end(), static_cast<char>('a' + i / per_mib % 26));
      std::fill(err.begin(), err.end(), static_cast<char>('A' + i / per_mib % 26));
    }
    if (!write_ring(r, seen.slot, 1, out) || !write_ring(r, seen.slot, 2, err)) return;
    if (i % (8 * per_mib) == 0) peak = std::max(peak, resident_bytes());
  }
  end_process(r, seen.slot, {0, 0, 0});
}

}  // namespace

TEST_CASE("channel: the one-shot run() keeps at most its limit of each stream, says so, and drains the rest", "[vm][channel]") {
  const std::size_t ring = p::config::stdout_ring;
  struct Case {
    std::string what;
    std::size_t limit;
    std::vector<Chunk> chunks;
    std::string out, err;  // what run() keeps
    bool out_truncated, err_truncated;
  };
  const std::vector<Case> cases = {
      {"under the limit", 10, {{1, "abc"}, {2, "de"}}, "abc", "de", false, false},
      {"exactly the limit", 3, {{1, "abc"}, {2, "def"}}, "abc", "def", false, false},
      {"one byte over, on stdout only", 3, {{1, "ab"}, {1, "cd"}, {2, "x"}}, "abc", "x", true, false},
      {"over on stderr only", 2, {{1, "ok"}, {2, "errors"}}, "ok", "er", false, true},
      {"limit 0 keeps nothing", 0, {{1, "a"}, {2, "b"}}, "", "", true, true},
      {"limit 0 and no output: nothing truncated", 0, {}, "", "", false, false},
      {"output after the limit is still taken", 4, {{1, "abcdef"}, {1, "ghi"}, {1, "jkl"}, {2, "z"}}, "abcd", "z", true, false},
      {"full rings, cut inside the third", 2 * ring + 1, {{1, std::string(ring, 'x')}, {1, std::string(ring, 'y')}, {1, std::string(ring, 'z')}},
       std::string(ring, 'x') + std::string(ring, 'y') + "z", "", true, false},
      {"ten rings' worth past a small limit", 5, {{1, std::string(10 * ring, 'q')}, {2, std::string(10 * p::config::stderr_ring, 'w')}},
       "qqqqq", "wwwww", true, true},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    CommandResult got;
    play(r, [&](Regions& g) { play_command(g, seen, k.chunks, {0, 0, 0}); }, [&] { got = c.run({"x"}, {}, soon(), k.limit); });
    CHECK(got.out == k.out);
    CHECK(got.err == k.err);
    CHECK(got.out_truncated == k.out_truncated);
    CHECK(got.err_truncated == k.err_truncated);
    CHECK(got.status() == 0);
    // the rest was drained: the guest finished, and the channel takes the next command, in the same slot
    SeenCommand next;
    CommandResult again;
    play(r, [&](Regions& g) { play_command(g, next, {{1, "next"}}, {0, 4, 0}); }, [&] { again = c.run({"y"}, {}, soon(), k.limit); });
    CHECK(next.path == "y");
    CHECK(next.slot == 0);
    CHECK(again.status() == 4);
    CHECK(again.out == std::string("next").substr(0, k.limit));
  }
}

TEST_CASE("channel: a guest that floods run() with 512 MiB leaves the host's memory bounded", "[vm][channel]") {
  // 256 MiB on each stream through the 256 KiB and 64 KiB rings; the limit keeps 1 MiB of each.
  const std::size_t mib = 256, limit = 1 << 20;
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  const std::size_t before = resident_bytes();
  std::size_t peak = before;
  CommandResult got;
  const auto t0 = Clock::now();
  play(r, [&](Regions& g) { play_flood(g, mib, peak); }, [&] { got = c.run({"flood"}, {}, Clock::now() + std::chrono::seconds(60), limit); });
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO("resident before " << (before >> 20) << " MiB, peak " << (peak >> 20) << " MiB; " << mib * 2 << " MiB in " << seconds << " s");
  CHECK(got.out == std::string(limit, 'a'));
  CHECK(got.err == std::string(limit, 'A'));
  CHECK(got.out_truncated);
  CHECK(got.err_truncated);
  CHECK(got.status() == 0);
  CHECK(peak - before < (32u << 20));  // the two kept MiB, and allocator slack
  std::printf("flood through the rings: %zu MiB sent in %.2f s; resident set grew by %zu MiB\n", mib * 2, seconds, (peak - before) >> 20);
}

TEST_CASE("channel: run() with a sink hands on every byte in order, while the command runs, and keeps nothing", "[vm][channel]") {
  std::string big;
  for (std::size_t i = 0; i < 5 * std::size_t{p::config::stdout_ring} / 2; ++i) big += static_cast<char>('a' + i % 23);
  const std::vector<Chunk> chunks = {{1, "one "}, {2, "warn\n"}, {1, big}, {1, "two\n"}, {2, std::string(70000, 'e')}, {2, ""}};
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  SeenCommand seen;
  std::string out, err;
  std::size_t calls = 0, empty = 0;
  CommandResult end;
  // pieces of 1000 bytes: the host sees partial output and takes it as it comes
  play(r, [&](Regions& g) { play_command(g, seen, chunks, {0, 2, 0}, 1000); },
       [&] {
         end = c.run({"x"}, {}, soon(), [&](Stream s, std::string_view b) {
           ++calls;
           empty += b.empty();
           (s == Stream::out ? out : err).append(b);
         });
       });
  CHECK(out == "one " + big + "two\n");
  CHECK(err == "warn\n" + std::string(70000, 'e'));
  CHECK(calls > 1);
  CHECK(empty == 0);  // the sink never gets an empty piece
  CHECK(end.out.empty());
  CHECK(end.err.empty());
  CHECK_FALSE(end.out_truncated);
  CHECK(end.status() == 2);
  // a sink that throws stops run() with its exception; no sink at all is refused before the guest sees anything
  Regions r2;
  r2.room_wait = std::chrono::milliseconds(100);  // the room never comes
  Channel c2(r2.mailbox.data(), r2.config.data(), [] {});
  SeenCommand seen2;
  CHECK_THROWS_WITH(play(r2, [&](Regions& g) { play_command(g, seen2, {{1, std::string(p::config::stdout_ring * 2, 'x')}}, {0, 0, 0}); },
                         [&] { c2.run({"x"}, {}, soon(), [](Stream, std::string_view) { throw std::runtime_error("disk full"); }); }),
                    "disk full");
  CHECK(r2.get_slot(0, p::config::proc_out_tail) == 0);  // nothing taken that the sink did not take
  Regions r3;
  Channel c3(r3.mailbox.data(), r3.config.data(), [] {});
  CHECK_THROWS_WITH(c3.run({"x"}, {}, soon(), OutputSink()), Catch::Contains("no output sink"));
  CHECK(Regions::get32(r3.config, p::config::command + p::config::command_magic_at) == 0);
}

// ---- command options: who a command runs as, and where --------------------------------------

namespace {
// What the played init reads of a command run with `options` (it then exits 0).
SeenCommand seen_by_init(const std::vector<std::string>& argv, const std::vector<std::string>& env, const CommandOptions& options) {
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  SeenCommand seen;
  play(r, [&](Regions& g) { play_command(g, seen, {}, {0, 0, 0}); }, [&] { c.run(argv, env, soon(), default_output_limit, options); });
  return seen;
}
}  // namespace

TEST_CASE("channel: a command's options land in the header and after the environment, as init reads them", "[vm][channel][options]") {
  const std::uint32_t ids = p::command_flag_set_ids, nnp = p::command_flag_no_new_privs, cd = p::command_flag_chdir;
  struct Case {
    std::string what;
    CommandOptions options;
    // what the played init read
    std::uint32_t uid, gid, flags;
    std::vector<std::uint32_t> groups;
    std::string cwd;
  };
  std::vector<std::uint32_t> most(p::config::command_groups_max);
  for (std::size_t i = 0; i < most.size(); ++i) most[i] = static_cast<std::uint32_t>(1000 + i);
  const std::vector<Case> cases = {
      {"none", {}, 0, 0, 0, {}, ""},
      {"a user and group", {1000, 1000, {}, "", false}, 1000, 1000, ids, {}, ""},
      {"a user alone: group 0", {1000, std::nullopt, {}, "", false}, 1000, 0, ids, {}, ""},
      {"groups alone: root with them", {std::nullopt, std::nullopt, {27}, "", false}, 0, 0, ids, {27}, ""},
      {"uid 0 asked for explicitly", {0, 0, {}, "", false}, 0, 0, ids, {}, ""},
      {"the largest ids", {4294967294u, 4294967294u, {4294967294u}, "", false}, 4294967294u, 4294967294u, ids, {4294967294u}, ""},
      {"every group that fits", {1000, 1000, most, "", false}, 1000, 1000, ids, most, ""},
      {"a working directory", {std::nullopt, std::nullopt, {}, "/work/dir", false}, 0, 0, cd, {}, "/work/dir"},
      {"no_new_privs", {std::nullopt, std::nullopt, {}, "", true}, 0, 0, nnp, {}, ""},
      {"all of them", {1000, 100, {1000, 27}, "/home/u", true}, 1000, 100, ids | nnp | cd, {1000, 27}, "/home/u"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    const SeenCommand seen = seen_by_init({"id", "-a"}, {"A=1"}, k.options);
    CHECK(seen.argv == std::vector<std::string>{"id", "-a"});
    CHECK(seen.env == std::vector<std::string>{"A=1"});
    CHECK(seen.uid == k.uid);
    CHECK(seen.gid == k.gid);
    CHECK(seen.flags == k.flags);
    CHECK(seen.groups == k.groups);
    CHECK(seen.cwd == k.cwd);
  }
}

TEST_CASE("channel: capabilities, resource limits and oom_score_adj land in the header as init reads them", "[vm][channel][options]") {
  const std::uint32_t caps = p::command_flag_capabilities, oom = p::command_flag_oom_score_adj;
  using crumble::vm::Capabilities;
  using crumble::vm::ResourceLimit;
  std::vector<ResourceLimit> most;
  for (int i = 0; i < 16; ++i) most.push_back({i, 100u + static_cast<unsigned>(i), ~0ull});
  struct Case {
    std::string what;
    CommandOptions options;
    std::uint32_t flags;  // what the played init read
    Capabilities caps;
    std::int32_t oom_score_adj;
    std::vector<ResourceLimit> rlimits;
  };
  auto with = [](std::optional<Capabilities> c, std::vector<ResourceLimit> l, std::optional<int> o) {
    CommandOptions x;
    x.capabilities = c;
    x.rlimits = std::move(l);
    x.oom_score_adj = o;
    return x;
  };
  const Capabilities docker{0xa80425fb, 0xa80425fb, 0xa80425fb, 0, 0}, every{~0ull, 1ull << 63, 1, 1ull << 40, 1ull << 40};
  const std::vector<Case> cases = {
      {"none: the flags stay off", {}, 0, {}, 0, {}},
      {"docker's default set", with(docker, {}, std::nullopt), caps, docker, 0, {}},
      {"no capabilities at all is a set too", with(Capabilities{}, {}, std::nullopt), caps, {}, 0, {}},
      {"every bit of every set", with(every, {}, std::nullopt), caps, every, 0, {}},
      {"oom_score_adj -1000", with(std::nullopt, {}, -1000), oom, {}, -1000, {}},
      {"oom_score_adj 0 asked for", with(std::nullopt, {}, 0), oom, {}, 0, {}},
      {"RLIMIT_NOFILE 1024:4096", with(std::nullopt, {{7, 1024, 4096}}, std::nullopt), 0, {}, 0, {{7, 1024, 4096}}},
      {"all 16 limits, unlimited hard", with(std::nullopt, most, std::nullopt), 0, {}, 0, most},
      {"all of them", with(docker, {{7, 1, 2}}, 500), caps | oom, docker, 500, {{7, 1, 2}}},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    const SeenCommand seen = seen_by_init({"id"}, {}, k.options);
    CHECK(seen.flags == k.flags);
    CHECK(seen.caps == k.caps);
    CHECK(seen.oom_score_adj == k.oom_score_adj);
    CHECK(seen.rlimits == k.rlimits);
  }
}

TEST_CASE("channel: resource limits and oom_score_adj the guest cannot take are refused before anything is sent", "[vm][channel][options]") {
  struct Case {
    std::string what;
    std::vector<crumble::vm::ResourceLimit> rlimits;
    std::optional<int> oom;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"17 limits", std::vector<crumble::vm::ResourceLimit>(17, {7, 1, 1}), std::nullopt, "at most 16 resource limits, not 17"},
      {"resource 16", {{16, 1, 1}}, std::nullopt, "no resource limit number 16"},
      {"resource -1", {{-1, 1, 1}}, std::nullopt, "no resource limit number -1"},
      {"soft above hard", {{7, 10, 5}}, std::nullopt, "the soft value 10 is above the hard value 5"},
      {"oom_score_adj 1001", {}, 1001, "oom_score_adj 1001 is outside -1000..1000"},
      {"oom_score_adj -1001", {}, -1001, "oom_score_adj -1001 is outside -1000..1000"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    CommandOptions o;
    o.rlimits = k.rlimits;
    o.oom_score_adj = k.oom;
    CHECK_THROWS_WITH(c.run({"id"}, {}, soon(), default_output_limit, o), Catch::Contains(k.message));
    CHECK(Regions::get32(r.config, p::config::command + p::config::command_magic_at) == 0);
  }
}

TEST_CASE("channel: a command stopped before execve says which step failed and what it was about", "[vm][channel][options]") {
  struct Case {
    std::uint32_t stage, err;
    CommandOptions options;
    std::string describe;
    int status;
  };
  const std::vector<Case> cases = {
      {p::exec_stage_execve, ENOENT, {}, "command not found", 127},
      {p::exec_stage_execve, EACCES, {1000, 1000, {}, "", false}, "command could not be executed: Permission denied", 126},
      {p::exec_stage_chdir, ENOENT, {std::nullopt, std::nullopt, {}, "/x", false},
       "cannot change to working directory /x: No such file or directory", 127},
      {p::exec_stage_chdir, ENOTDIR, {std::nullopt, std::nullopt, {}, "/etc/passwd", false},
       "cannot change to working directory /etc/passwd: Not a directory", 126},
      {p::exec_stage_setgroups, EPERM, {1, 2, {3, 4}, "", false}, "cannot set supplementary groups [3,4]: Operation not permitted", 126},
      {p::exec_stage_setgid, EPERM, {1, 2, {}, "", false}, "cannot set group id 2: Operation not permitted", 126},
      {p::exec_stage_setuid, EAGAIN, {1000, 1000, {}, "", false}, "cannot set user id 1000: Resource temporarily unavailable", 126},
      {p::exec_stage_no_new_privs, EINVAL, {std::nullopt, std::nullopt, {}, "", true}, "cannot set no_new_privs: Invalid argument", 126},
      {p::exec_stage_capabilities, EPERM, {7, 7, {}, "", false}, "cannot set the capabilities of user 7: Operation not permitted", 126},
      {p::exec_stage_rlimits, EPERM, {}, "cannot set a resource limit: Operation not permitted", 126},
      {p::exec_stage_oom_score_adj, EACCES, {std::nullopt, std::nullopt, {}, "", false, std::nullopt, {}, -5},
       "cannot set oom_score_adj -5: Permission denied", 126},
      {p::exec_stage_user_namespace, EPERM, {}, "cannot join the container's user namespace: Operation not permitted", 126},
      // EINVAL from the ids: in a user namespace, an id its map leaves out
      {p::exec_stage_setuid, EINVAL, {5000, 0, {}, "", false}, "cannot set user id 5000: Invalid argument (not in the container's user namespace's map)", 126},
      {p::exec_stage_setgroups, EINVAL, {0, 0, {0, 50}, "", false},
       "cannot set supplementary groups [0,50]: Invalid argument (not in the container's user namespace's map)", 126},
  };
  for (const Case& k : cases) {
    INFO(k.describe);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    CommandResult got;
    play(r, [&](Regions& g) { play_command(g, seen, {}, {p::exit_kind_not_started, 127, k.err, k.stage}); },
         [&] { got = c.run({"x"}, {}, soon(), default_output_limit, k.options); });
    CHECK(got.end == CommandResult::End::not_started);
    CHECK(got.exec_stage == static_cast<int>(k.stage));
    CHECK(got.exec_errno == static_cast<int>(k.err));
    CHECK(got.describe() == k.describe);
    CHECK(got.status() == k.status);
  }
  // a stage the protocol does not have
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  SeenCommand seen;
  CHECK_THROWS_AS(play(r, [&](Regions& g) { play_command(g, seen, {}, {p::exit_kind_not_started, 127, EPERM, p::exec_stage_user_namespace + 1}); },
                       [&] { c.run({"x"}, {}, soon()); }),
                  GuestProtocolError);
}

TEST_CASE("channel: options init could not apply are refused before the guest sees the command", "[vm][channel][options]") {
  struct Case {
    std::string what;
    CommandOptions options;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a relative working directory", {std::nullopt, std::nullopt, {}, "work", false}, "working directory work is not an absolute path"},
      {"a working directory with ..", {std::nullopt, std::nullopt, {}, "/a/../b", false}, "\"..\" component"},
      {"a working directory with a NUL", {std::nullopt, std::nullopt, {}, std::string("/a\0b", 4), false}, "NUL"},
      {"a working directory too long", {std::nullopt, std::nullopt, {}, "/" + std::string(5000, 'a'), false}, "at most 4000"},
      {"one group too many", {1, 1, std::vector<std::uint32_t>(p::config::command_groups_max + 1, 5), "", false},
       "at most 32 supplementary groups, not 33"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    CHECK_THROWS_WITH(c.run({"x"}, {}, soon(), default_output_limit, k.options), Catch::Contains(k.error));
    CHECK(Regions::get32(r.config, p::config::command + p::config::command_magic_at) == 0);  // nothing handed over
  }
}

// ---- the container request -------------------------------------------------------------------

namespace {

// What the played init read from a container request, as setupContainer parses it.
struct SeenContainer {
  std::uint32_t magic = 0, kind = 0, flags = 0;
  std::string source, fstype, hostname;
  struct Volume {
    std::string tag, path;
    std::uint32_t flags;
    bool operator==(const Volume&) const = default;
  };
  std::vector<Volume> volumes;
  std::vector<std::string> binfmt;
  std::string uid_map, gid_map;  // with container_flag_user_namespace
  struct File {
    std::uint32_t kind, mode, uid, gid, flags;
    std::string path, content;
    bool operator==(const File&) const = default;
  };
  std::vector<File> files;
  std::uint32_t files_at = 0;
};

// Plays setupContainer's parsing, then answers with `answer` (ready, or failed with the mailbox's
// phase, error and index as given).
void play_container(Regions& r, SeenContainer& seen, std::uint32_t answer, std::uint32_t step = 0, std::uint32_t err = 0,
                    std::uint32_t index = 0) {
  namespace cfg = p::config;
  if (!Regions::wait_for(r.config, cfg::command + cfg::container_magic_at, p::container_magic)) return;
  const std::uint8_t* base = r.config.data() + cfg::command;
  seen.magic = crumble::le::load<std::uint32_t>(base + cfg::container_magic_at);
  seen.kind = crumble::le::load<std::uint32_t>(base + cfg::container_root_kind);
  seen.flags = crumble::le::load<std::uint32_t>(base + cfg::container_flags);
  const std::uint32_t volumes = crumble::le::load<std::uint32_t>(base + cfg::container_volumes);
  const std::uint32_t binfmts = crumble::le::load<std::uint32_t>(base + cfg::container_binfmts);
  const char* s = reinterpret_cast<const char*>(base + cfg::container_strings);
  auto next = [&] {
    std::string v(s);
    s += v.size() + 1;
    return v;
  };
  seen.source = next();
  seen.fstype = next();
  seen.hostname = next();
  for (std::uint32_t i = 0; i < volumes && i < cfg::container_volumes_max; ++i) {
    std::string tag = next();
    std::string path = next();
    seen.volumes.push_back({tag, path, crumble::le::load<std::uint32_t>(base + cfg::container_volume_flags + 4 * i)});
  }
  for (std::uint32_t i = 0; i < binfmts; ++i) seen.binfmt.push_back(next());
  if (seen.flags & p::container_flag_user_namespace) {
    seen.uid_map = next();
    seen.gid_map = next();
  }
  const std::uint32_t files = crumble::le::load<std::uint32_t>(base + cfg::container_files);
  seen.files_at = crumble::le::load<std::uint32_t>(base + cfg::container_files_at);
  const std::uint8_t* rec = base + seen.files_at;
  for (std::uint32_t i = 0; i < files && i < cfg::container_files_max; ++i) {
    auto u32 = [&](std::uint32_t at) { return crumble::le::load<std::uint32_t>(rec + at); };
    const std::uint32_t n = u32(cfg::container_file_path_len), size = u32(cfg::container_file_size);
    const char* path = reinterpret_cast<const char*>(rec + cfg::container_file_header);
    seen.files.push_back({u32(cfg::container_file_kind), u32(cfg::container_file_mode), u32(cfg::container_file_uid),
                          u32(cfg::container_file_gid), u32(cfg::container_file_flags), std::string(path, n), std::string(path + n + 1, size)});
    rec += (cfg::container_file_header + n + 1 + size + 7) & ~7u;
  }
  r.put32(r.mailbox, p::mailbox::phase, step);
  r.put32(r.mailbox, p::mailbox::error, err);
  r.put32(r.mailbox, p::mailbox::index, index);
  r.put32(r.config, cfg::command + cfg::command_magic_at, 0);
  r.signal(answer);
}

ContainerRequest request_with_everything() {
  ContainerRequest q;
  q.root_kind = ContainerRequest::RootKind::block;
  q.root_source = "/dev/vda";
  q.root_fstype = "erofs";
  q.hostname = "box";
  q.volumes = {{"vol0", "/data", false, "data dir"}, {"vol1", "/srv/ro", true, ""}};
  q.binfmt = {":qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01:\\xff\\xff\\xff:/crumble/qemu-aarch64:F"};
  using File = ContainerRequest::File;
  q.files = {{File::Kind::copy, "/etc/hosts", "127.0.0.1 localhost\n", 0644, 0, 0, false, false, false, false},
             {File::Kind::tmpfs, "/scratch", "size=10m,mode=1777", 0, 0, 0, false, true, true, false},
             {File::Kind::copy, "/run/secrets/key", std::string("\0binary\xff", 8), 0400, 1000, 100, true, false, false, true}};
  File mqueue{File::Kind::mount, "/dev/mqueue", "", 0, 0, 0, false, true, true, true, "mqueue", "mqueue"};
  File devpts{File::Kind::mount, "/dev/pts", "newinstance,ptmxmode=0666,gid=5", 0, 0, 0, false, true, false, true, "devpts", "devpts"};
  File fuse{File::Kind::device, "/dev/fuse", "", 020640, 1000, 5};
  fuse.major = 10;
  fuse.minor = 229;
  File sda{File::Kind::device, "/dev/sda", "", 060600, 0, 6};
  sda.major = 8;
  sda.minor = 0x12345;  // a minor past 255: Linux's 32-bit dev_t carries its high bits
  File fifo{File::Kind::device, "/dev/queue", "", 010600, 0, 0};
  q.files.insert(q.files.end(), {mqueue, devpts, fuse, sda, fifo, {File::Kind::symlink, "/dev/fd", "/proc/self/fd"},
                                 {File::Kind::sysctl, "/proc/sys/net/ipv4/ip_forward", "1"}, {File::Kind::read_only, "/proc/sys", ""},
                                 {File::Kind::masked, "/proc/kcore", ""}, {File::Kind::read_only, "/", ""}});
  q.own_mounts = true;
  return q;
}

}  // namespace

TEST_CASE("channel: a container request lands where layout.hpp says, as init reads it", "[vm][channel][container]") {
  using Kind = ContainerRequest::RootKind;
  struct Case {
    std::string what;
    ContainerRequest request;
    std::uint32_t kind;
  };
  ContainerRequest dir;
  dir.root_source = "/ctr";
  ContainerRequest fs;
  fs.root_kind = Kind::virtiofs;
  fs.root_source = "rootfs";
  fs.hostname = std::string(64, 'h');
  ContainerRequest many = dir;
  for (std::uint32_t i = 0; i < p::config::container_volumes_max; ++i) many.volumes.push_back({"t" + std::to_string(i), "/v/" + std::to_string(i), i % 2 == 1});
  ContainerRequest userns = request_with_everything();
  userns.uid_map = {{0, 100000, 65536}, {65536, 4294901759u, 65536}};  // the last range ends at 4294967294, the last id
  userns.gid_map = {{0, 3000, 1}};
  const std::vector<Case> cases = {
      {"a directory root, nothing else", dir, p::container_root_dir},
      {"a block root with volumes and a registration", request_with_everything(), p::container_root_block},
      {"a virtio-fs root, the longest hostname", fs, p::container_root_virtiofs},
      {"every volume that fits", many, p::container_root_dir},
      {"a user namespace, its maps after the registrations", userns, p::container_root_block},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenContainer seen;
    play(r, [&](Regions& g) { play_container(g, seen, p::signal_container_ready); }, [&] { c.setup_container(k.request, soon()); });
    CHECK(seen.magic == p::container_magic);
    CHECK(seen.kind == k.kind);
    CHECK(seen.flags == ((k.request.own_mounts ? p::container_flag_own_mounts : 0) |
                         (k.request.uid_map.empty() ? 0 : p::container_flag_user_namespace)));
    CHECK(seen.source == k.request.root_source);
    CHECK(seen.fstype == k.request.root_fstype);
    CHECK(seen.hostname == k.request.hostname);
    REQUIRE(seen.volumes.size() == k.request.volumes.size());
    for (std::size_t i = 0; i < seen.volumes.size(); ++i) {
      // "TAG/NAME" where the share holds the volume as NAME (init splits at the '/')
      const auto& v = k.request.volumes[i];
      CHECK(seen.volumes[i].tag == (v.subdir.empty() ? v.tag : v.tag + "/" + v.subdir));
      CHECK(seen.volumes[i].path == k.request.volumes[i].guest_path);
      CHECK(seen.volumes[i].flags == (k.request.volumes[i].read_only ? p::volume_flag_read_only : 0));
    }
    CHECK(seen.binfmt == k.request.binfmt);
    // each map as /proc/PID/uid_map takes it
    CHECK(seen.uid_map == (k.request.uid_map.empty() ? "" : "0 100000 65536\n65536 4294901759 65536\n"));
    CHECK(seen.gid_map == (k.request.gid_map.empty() ? "" : "0 3000 1\n"));
    // the file records: past the strings, 8-aligned, each as given (a tmpfs's options with their NUL)
    CHECK(seen.files_at % 8 == 0);
    CHECK(seen.files_at >= p::config::container_strings);
    REQUIRE(seen.files.size() == k.request.files.size());
    for (std::size_t i = 0; i < seen.files.size(); ++i) {
      using FK = ContainerRequest::File::Kind;
      const ContainerRequest::File& f = k.request.files[i];
      // each kind's wire value and content, as docs/protocol.md has them
      std::uint32_t kind = 0;
      std::string content = f.content;
      switch (f.kind) {
        case FK::copy: kind = p::container_file_copy; break;
        case FK::tmpfs: kind = p::container_file_tmpfs; content += '\0'; break;
        case FK::mount: kind = p::container_file_mount; content = f.fstype + '\0' + f.source + '\0' + f.content + '\0'; break;
        case FK::device: {
          kind = p::container_file_device;
          content.assign(8, '\0');
          crumble::le::store<std::uint32_t>(reinterpret_cast<std::uint8_t*>(content.data()), f.major);
          crumble::le::store<std::uint32_t>(reinterpret_cast<std::uint8_t*>(content.data()) + 4, f.minor);
          break;
        }
        case FK::symlink: kind = p::container_file_symlink; content += '\0'; break;
        case FK::masked: kind = p::container_file_masked; break;
        case FK::read_only: kind = p::container_file_read_only; break;
        case FK::sysctl: kind = p::container_file_sysctl; break;
      }
      CHECK(seen.files[i] == SeenContainer::File{kind, f.mode, f.uid, f.gid,
                                                 (f.read_only ? 1u : 0u) | (f.nosuid ? 2u : 0u) | (f.nodev ? 4u : 0u) | (f.noexec ? 8u : 0u),
                                                 f.guest_path, content});
    }
  }
}

TEST_CASE("channel: a failed container step becomes ContainerSetupError naming the step, the errno and the volume", "[vm][channel][container]") {
  struct Case {
    std::uint32_t step, err, index;
    std::string message;
  };
  const std::vector<Case> cases = {
      {p::container_step_devices, ENOENT, 0, "cannot bind the virtio devices: ENOENT (No such file or directory)"},
      {p::container_step_root, ENXIO, 0, "cannot mount the root /dev/vda: ENXIO"},
      {p::container_step_overlay, EINVAL, 0, "cannot mount the overlay /dev/vda: EINVAL (Invalid argument)"},
      {p::container_step_volume, ENOENT, 0, "cannot mount a volume /data (virtio-fs tag vol0): ENOENT"},
      {p::container_step_volume, EROFS, 1, "cannot mount a volume /srv/ro (virtio-fs tag vol1): EROFS"},
      {p::container_step_mounts, ENODEV, 0, "cannot mount the container's filesystems: ENODEV"},
      {p::container_step_switch_root, EPERM, 0, "cannot switch to the root: EPERM"},
      {p::container_step_hostname, EINVAL, 0, "cannot set the hostname box: EINVAL"},
      {p::container_step_binfmt, ENOEXEC, 0, "cannot register binfmt_misc interpreters (registration 0): ENOEXEC"},
      {p::container_step_request, EBUSY, 0, "cannot read the request: EBUSY (Device or resource busy)"},
      {p::container_step_file, EISDIR, 0, "cannot copy in the file /etc/hosts: EISDIR"},
      {p::container_step_file, ENODEV, 1, "cannot mount a tmpfs at /scratch: ENODEV"},
      {p::container_step_file, EROFS, 2, "cannot copy in the file /run/secrets/key: EROFS"},
      {p::container_step_file, ENODEV, 3, "cannot mount mqueue at /dev/mqueue: ENODEV"},
      {p::container_step_file, EPERM, 5, "cannot make the device node /dev/fuse: EPERM"},
      {p::container_step_file, EEXIST, 8, "cannot make the symlink /dev/fd -> /proc/self/fd: EEXIST"},
      {p::container_step_file, EACCES, 9, "cannot write the sysctl /proc/sys/net/ipv4/ip_forward: EACCES"},
      {p::container_step_file, EINVAL, 10, "cannot make /proc/sys read-only: EINVAL"},
      {p::container_step_file, ENOENT, 11, "cannot mask /proc/kcore: ENOENT"},
      {p::container_step_file, EBUSY, 12, "cannot make / read-only: EBUSY"},
      {p::container_step_user_namespace, EINVAL, 1, "cannot make the container's user namespace (write its uid_map): EINVAL"},
      {p::container_step_user_namespace, EPERM, 2, "cannot make the container's user namespace (write its gid_map): EPERM"},
      {p::container_step_user_namespace, ENOSPC, 0, "cannot make the container's user namespace (clone it): ENOSPC"},
  };
  for (const Case& k : cases) {
    INFO(k.message);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenContainer seen;
    try {
      play(r, [&](Regions& g) { play_container(g, seen, p::signal_container_failed, k.step, k.err, k.index); },
           [&] { c.setup_container(request_with_everything(), soon()); });
      FAIL("accepted");
    } catch (const ContainerSetupError& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("container setup failed: ") && Catch::Contains(k.message));
      CHECK(e.step == static_cast<int>(k.step));
      CHECK(e.error == static_cast<int>(k.err));
    }
  }
}

TEST_CASE("channel: a guest answering a container request with nonsense gets a GuestProtocolError", "[vm][channel][container]") {
  struct Case {
    std::string what;
    std::uint32_t answer, step, err, index;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"step 0", p::signal_container_failed, 0, EPERM, 0, "impossible container failure (step 0"},
      {"a step past the last", p::signal_container_failed, p::container_step_user_namespace + 1, EPERM, 0, "impossible container failure (step 12"},
      {"a user namespace step past its last", p::signal_container_failed, p::container_step_user_namespace, EPERM, 4, "index 4"},
      {"a huge step", p::signal_container_failed, 0xffffffff, EPERM, 0, "impossible container failure"},
      {"errno 0", p::signal_container_failed, p::container_step_root, 0, 0, "errno 0"},
      {"errno past 4095", p::signal_container_failed, p::container_step_root, 5000, 0, "errno 5000"},
      {"a volume the request does not have", p::signal_container_failed, p::container_step_volume, ENOENT, 2, "index 2"},
      {"a registration the request does not have", p::signal_container_failed, p::container_step_binfmt, ENOENT, 1, "index 1"},
      {"a file the request does not have", p::signal_container_failed, p::container_step_file, ENOENT, 13, "index 13"},
      {"the signal of a command", p::signal_started, 0, 0, 0, "unexpected signal 0x57a27ed0 after a container request"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenContainer seen;
    try {
      play(r, [&](Regions& g) { play_container(g, seen, k.answer, k.step, k.err, k.index); },
           [&] { c.setup_container(request_with_everything(), soon()); });
      FAIL("accepted");
    } catch (const GuestProtocolError& e) {
      CHECK_THAT(e.what(), Catch::Contains(k.error));
    }
  }
  // an init phase that failed meanwhile is InitFailed, as everywhere
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  CHECK_THROWS_AS(play(r, [&](Regions& g) {
                    g.put32(g.mailbox, p::mailbox::phase, 7);
                    g.put32(g.mailbox, p::mailbox::error, EIO);
                    g.signal(p::signal_failed);
                  }, [&] { c.setup_container(request_with_everything(), soon()); }),
                  InitFailed);
}

TEST_CASE("channel: a container request init could not carry out is refused before anything is written", "[vm][channel][container]") {
  using Kind = ContainerRequest::RootKind;
  struct Case {
    std::string what;
    std::function<void(ContainerRequest&)> change;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a relative volume path", [](ContainerRequest& q) { q.volumes[0].guest_path = "data"; }, "volume 0's guest path data is not an absolute path"},
      {"a volume path with ..", [](ContainerRequest& q) { q.volumes[1].guest_path = "/srv/../../etc"; }, "volume 1's guest path /srv/../../etc has a \"..\" component"},
      {"a volume on the root itself", [](ContainerRequest& q) { q.volumes[0].guest_path = "//"; }, "is the root itself"},
      {"a volume path too long", [](ContainerRequest& q) { q.volumes[0].guest_path = "/" + std::string(4000, 'p'); }, "4001 bytes long; at most 4000"},
      {"a volume without a tag", [](ContainerRequest& q) { q.volumes[0].tag = ""; }, "volume 0's virtio-fs tag is empty"},
      {"a tag too long for virtio-fs", [](ContainerRequest& q) { q.volumes[0].tag = std::string(37, 't'); }, "37 bytes long; at most 36"},
      {"too many volumes", [](ContainerRequest& q) { q.volumes.resize(p::config::container_volumes_max + 1, {"t", "/v", false, ""}); }, "33 volumes; at most 32"},
      {"a tag with a '/'", [](ContainerRequest& q) { q.volumes[1].tag = "vol/1"; }, "volume 1's virtio-fs tag vol/1 contains a '/'"},
      {"a volume's directory of two names", [](ContainerRequest& q) { q.volumes[0].subdir = "a/b"; }, "volume 0's directory in its share, \"a/b\", is not one name"},
      {"a volume's directory ..", [](ContainerRequest& q) { q.volumes[0].subdir = ".."; }, "volume 0's directory in its share, \"..\", is not one name"},
      {"a virtio-fs mount climbing out of its share", [](ContainerRequest& q) { q.files[3].fstype = "virtiofs"; q.files[3].source = "vol0/.."; },
       "mount /dev/mqueue's directory in its share, \"..\", is not one name"},
      {"a volume's directory too long", [](ContainerRequest& q) { q.volumes[0].subdir = std::string(256, 'd'); }, "256 bytes long; at most 255"},
      {"a hostname too long", [](ContainerRequest& q) { q.hostname = std::string(65, 'h'); }, "the hostname is 65 bytes long; at most 64"},
      {"a hostname with a NUL", [](ContainerRequest& q) { q.hostname = std::string("a\0b", 3); }, "the hostname contains a NUL byte"},
      {"a block root without a file system type", [](ContainerRequest& q) { q.root_fstype = ""; }, "the root's file system type is empty"},
      {"a relative block device", [](ContainerRequest& q) { q.root_source = "vda"; }, "the root's block device vda is not an absolute path"},
      {"a relative root directory", [](ContainerRequest& q) { q.root_kind = Kind::dir; q.root_source = "ctr"; }, "the root directory ctr is not an absolute path"},
      {"a virtio-fs root without a tag", [](ContainerRequest& q) { q.root_kind = Kind::virtiofs; q.root_source = ""; }, "the root's virtio-fs tag is empty"},
      {"an empty registration", [](ContainerRequest& q) { q.binfmt.push_back(""); }, "binfmt_misc registration 1 is empty"},
      {"a registration too long", [](ContainerRequest& q) { q.binfmt[0] = std::string(1921, ':'); }, "1921 bytes long; at most 1920"},
      {"too many registrations", [](ContainerRequest& q) { q.binfmt.resize(p::config::container_binfmts_max + 1, ":x:E::x::/x:"); }, "17 binfmt_misc registrations; at most 16"},
      {"a relative file path", [](ContainerRequest& q) { q.files[0].guest_path = "etc/hosts"; }, "file etc/hosts: the guest path etc/hosts is not an absolute path"},
      {"a file path with ..", [](ContainerRequest& q) { q.files[2].guest_path = "/run/../../x"; }, "has a \"..\" component"},
      {"a file on the root itself", [](ContainerRequest& q) { q.files[0].guest_path = "/"; }, "file /: the guest path is the root itself"},
      {"a mode past 07777", [](ContainerRequest& q) { q.files[0].mode = 010000; }, "file /etc/hosts: mode 4096 is more than permission bits"},
      {"tmpfs options with a NUL", [](ContainerRequest& q) { q.files[1].content = std::string("a\0b", 3); }, "tmpfs /scratch: the options contains a NUL"},
      {"too many files", [](ContainerRequest& q) { q.files.resize(p::config::container_files_max + 1, q.files[0]); }, "129 files and tmpfs mounts in a container; at most 128"},
      {"a device that is a regular file", [](ContainerRequest& q) { q.files[5].mode = 0100644; }, "device /dev/fuse: mode 33188 is not a character or block device's or a fifo's"},
      {"a device without its type", [](ContainerRequest& q) { q.files[5].mode = 0640; }, "is not a character or block device's"},
      {"a major past 4095", [](ContainerRequest& q) { q.files[5].major = 4096; }, "device /dev/fuse: device 4096:229 is beyond major 4095"},
      {"a minor past 2^20", [](ContainerRequest& q) { q.files[6].minor = 1 << 20; }, "is beyond major 4095, minor 1048575"},
      {"a device's mode past 07777", [](ContainerRequest& q) { q.files[5].mode = 020000 | 010000; }, "is not a character or block device's"},
      {"a device with mount flags", [](ContainerRequest& q) { q.files[5].read_only = true; }, "device /dev/fuse: mount flags on what is not a mount"},
      {"a mount without a type", [](ContainerRequest& q) { q.files[3].fstype = ""; }, "mount /dev/mqueue: the file system type is empty"},
      {"mount options with a NUL", [](ContainerRequest& q) { q.files[4].content = std::string("a\0b", 3); }, "mount /dev/pts: the options contains a NUL"},
      {"a symlink without a target", [](ContainerRequest& q) { q.files[8].content = ""; }, "symlink /dev/fd: the target is empty"},
      {"a sysctl outside /proc/sys", [](ContainerRequest& q) { q.files[9].guest_path = "/etc/passwd"; }, "sysctl /etc/passwd: not a file under /proc/sys/"},
      {"a sysctl that is /proc/sys itself", [](ContainerRequest& q) { q.files[9].guest_path = "/proc/sys/"; }, "not a file under /proc/sys/"},
      {"a sysctl climbing out", [](ContainerRequest& q) { q.files[9].guest_path = "/proc/sys/../../etc/shadow"; }, "has a \"..\" component"},
      {"a masked path with content", [](ContainerRequest& q) { q.files[11].content = "x"; }, "masked path /proc/kcore: has content"},
      {"the root masked", [](ContainerRequest& q) { q.files[11].guest_path = "/"; }, "masked path /: the guest path is the root itself"},
      {"a uid map without a gid map", [](ContainerRequest& q) { q.uid_map = {{0, 1000, 10}}; }, "a user namespace needs both maps: the gid map is empty"},
      {"a gid map without a uid map", [](ContainerRequest& q) { q.gid_map = {{0, 1000, 10}}; }, "the uid map is empty"},
      {"a range of no ids", [](ContainerRequest& q) { q.uid_map = q.gid_map = {{0, 1000, 0}}; }, "uid map range 0 (0 1000 0) maps no id"},
      {"a range past the last id", [](ContainerRequest& q) { q.uid_map = q.gid_map = {{0, 4294967295u, 1}}; }, "uid map range 0 (0 4294967295 1) reaches past id 4294967294"},
      {"ranges overlapping inside", [](ContainerRequest& q) {
         q.uid_map = {{0, 1000, 10}};
         q.gid_map = {{0, 1000, 10}, {9, 5000, 1}};
       }, "gid map range 1 (9 5000 1) overlaps range 0"},
      {"ranges overlapping outside", [](ContainerRequest& q) { q.uid_map = q.gid_map = {{0, 1000, 10}, {100, 995, 10}}; }, "uid map range 1 (100 995 10) overlaps range 0"},
      {"more ranges than Linux takes", [](ContainerRequest& q) {
         for (std::uint32_t i = 0; i < 341; ++i) q.uid_map.push_back({i, 1000 + i, 1});
         q.gid_map = {{0, 1000, 1}};
       }, "the uid map has 341 ranges; Linux takes at most 340"},
      {"a map longer than one write", [](ContainerRequest& q) {
         for (std::uint32_t i = 0; i < 180; ++i) q.uid_map.push_back({1000000000 + i, 2000000000 + i, 1});  // 24 bytes a line
         q.gid_map = {{0, 1000, 1}};
       }, "the uid map takes 4320 bytes; Linux takes at most 4095"},
      {"files that do not fit, the one that overflows named",
       [](ContainerRequest& q) {
         q.files[0].content = std::string(600 << 10, 'a');
         q.files[2].content = std::string(500 << 10, 'b');
       },
       "file /run/secrets/key (512000 bytes) does not fit the container request"},
  };
  // (The largest request the limits allow, 32 volumes and 16 registrations at their longest,
  // takes about 160 KiB: it always fits the area, whose size check is only a guard.)
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    ContainerRequest q = request_with_everything();
    k.change(q);
    try {
      c.setup_container(q, soon());
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains(k.error));
    }
    // nothing was written: no magic, no strings
    CHECK(Regions::get32(r.config, p::config::command + p::config::command_magic_at) == 0);
    CHECK(r.config[p::config::command + p::config::container_strings] == 0);
  }
}

// ---- processes in slots: Channel::start, slot, finish ------------------------------------------

TEST_CASE("channel: start() names the slot, the stdio and the terminal's size in the request", "[vm][channel][process]") {
  const std::uint32_t in = p::command_flag_stdin, tty = p::command_flag_tty;
  struct Case {
    std::string what;
    Stdio stdio;
    CommandOptions options;
    // what the played init read
    std::uint32_t flags, rows, cols;
  };
  const std::vector<Case> cases = {
      {"no stdin, no terminal: the default size still written", {}, {}, 0, 24, 80},
      {"stdin from the host", {true, std::nullopt}, {}, in, 24, 80},
      {"a terminal", {false, TerminalSize{50, 132}}, {}, tty, 50, 132},
      {"a terminal with stdin", {true, TerminalSize{1, 1}}, {}, in | tty, 1, 1},
      {"the largest terminal", {true, TerminalSize{65535, 65535}}, {}, in | tty, 65535, 65535},
      {"stdin and a working directory", {true, std::nullopt}, {std::nullopt, std::nullopt, {}, "/w", false}, in | p::command_flag_chdir, 24, 80},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    int id = -1;
    play(r, [&](Regions& g) {
      if (take_command(g, seen)) start_process(g, seen.slot);
    }, [&] { id = c.start({"sh"}, {"TERM=xterm"}, soon(), k.options, k.stdio); });
    CHECK(id == 0);
    CHECK(seen.slot == 0);
    CHECK(seen.argv == std::vector<std::string>{"sh"});
    CHECK(seen.env == std::vector<std::string>{"TERM=xterm"});
    CHECK(seen.flags == k.flags);
    CHECK(seen.rows == k.rows);
    CHECK(seen.cols == k.cols);
    // the host's fields of the slot, reset before the request
    CHECK(r.get_slot(0, p::config::proc_rows) == k.rows);
    CHECK(r.get_slot(0, p::config::proc_cols) == k.cols);
    CHECK(r.get_slot(0, p::config::proc_winsize_seq) == 0);
    CHECK(r.get_slot(0, p::config::proc_in_closed) == 0);
    CHECK(r.get_slot(0, p::config::proc_signal_seq) == 0);
    CHECK(c.slot(id).guest_pid() == 100);
    CHECK_FALSE(c.finish(id));  // it runs
  }
}

TEST_CASE("channel: requests init could not carry out are refused before the guest sees them", "[vm][channel][process]") {
  struct Case {
    std::string what;
    std::vector<std::string> argv;
    Stdio stdio;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"no command", {}, {}, "no command to run"},
      {"an empty program", {""}, {}, "no command to run"},
      {"a terminal without rows", {"sh"}, {false, TerminalSize{0, 80}}, "at least one row and column"},
      {"a terminal without columns", {"sh"}, {true, TerminalSize{24, 0}}, "at least one row and column"},
      {"an argument with a NUL", {"sh", std::string("a\0b", 3)}, {}, "argument 1 contains a NUL byte"},
      {"more than the command area holds", {"sh", std::string(p::config::command_max, 'a')}, {}, "fit the config region"},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    CHECK_THROWS_WITH(c.start(k.argv, {}, soon(), {}, k.stdio), Catch::Contains(k.error));
    CHECK(Regions::get32(r.config, p::config::command + p::config::command_magic_at) == 0);
    CHECK_THROWS_AS(c.slot(0), ConfigError);  // no slot taken
  }
}

TEST_CASE("channel: process_max processes run at once, one more is refused, and finish() frees a slot for the next", "[vm][channel][process]") {
  const int max = static_cast<int>(p::config::process_max);
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  std::vector<SeenCommand> seen(max);
  std::vector<int> ids;
  play(r, [&](Regions& g) {
    for (int i = 0; i < max; ++i)
      if (take_command(g, seen[i])) start_process(g, seen[i].slot, 200 + i);
  }, [&] {
    for (int i = 0; i < max; ++i) ids.push_back(c.start({"p" + std::to_string(i)}, {}, soon()));
  });
  for (int i = 0; i < max; ++i) {
    INFO("process " << i);
    CHECK(ids[i] == i);
    CHECK(seen[i].slot == static_cast<std::uint32_t>(i));
    CHECK(seen[i].path == "p" + std::to_string(i));
    CHECK(c.slot(i).guest_pid() == static_cast<std::uint32_t>(200 + i));
  }
  // one more: refused before anything is written
  CHECK_THROWS_WITH(c.start({"more"}, {}, soon()), Catch::Contains("at most 4 processes at once"));
  CHECK(Regions::get32(r.config, p::config::command + p::config::command_magic_at) == 0);
  // each slot's output is its own
  for (int i = 0; i < max; ++i) REQUIRE(write_ring(r, i, 1, "out of " + std::to_string(i)));
  for (int i = max - 1; i >= 0; --i) {
    INFO("process " << i);
    CHECK(c.slot(i).pending(Stream::out) == "out of " + std::to_string(i));
  }
  // slot 2 ends: finish() waits for its output to be taken, then frees it
  end_process(r, 2, {0, 9, 0});
  CHECK_FALSE(c.finish(2));
  c.slot(2).consume(Stream::out, c.slot(2).pending(Stream::out).size());
  const std::optional<CommandResult> ended = c.finish(2);
  REQUIRE(ended);
  CHECK(ended->status() == 9);
  CHECK(r.get_slot(2, p::config::proc_state) == p::process_free);
  CHECK(r.get_slot(2, p::config::proc_out_tail) == 0);
  CHECK_THROWS_WITH(c.slot(2), Catch::Contains("no process 2"));
  CHECK_THROWS_AS(c.finish(2), ConfigError);
  CHECK_THROWS_AS(c.slot(-1), ConfigError);
  CHECK_THROWS_AS(c.slot(max), ConfigError);
  // the next command gets slot 2, the others run on
  SeenCommand next;
  int id = -1;
  play(r, [&](Regions& g) {
    if (take_command(g, next)) start_process(g, next.slot);
  }, [&] { id = c.start({"next"}, {}, soon()); });
  CHECK(id == 2);
  CHECK(next.slot == 2);
  CHECK(c.slot(2).pending(Stream::out).empty());  // nothing of the last process's output
  CHECK(c.slot(3).pending(Stream::out) == "out of 3");
}

TEST_CASE("channel: a guest that never says started, or never ends, is a GuestTimeout at the deadline", "[vm][channel][process]") {
  using namespace std::chrono_literals;
  struct Case {
    std::string what;
    std::function<void(Regions&)> guest;
    bool run;  // run() to the end; else start() only
    std::string error;
  };
  const std::vector<Case> cases = {
      {"silence after the request", [](Regions&) {}, false, "did not answer in time: command sh"},
      {"the request taken, never started", [](Regions& r) { SeenCommand s; take_command(r, s); }, false, "did not answer in time: command sh"},
      {"started, never ends", [](Regions& r) {
         SeenCommand s;
         if (take_command(r, s)) start_process(r, s.slot);
       }, true, "did not answer in time: command sh"},
      {"ended with output still waiting: taken, no timeout", [](Regions& r) {
         SeenCommand s;
         if (!take_command(r, s)) return;
         start_process(r, s.slot);
         write_ring(r, s.slot, 1, "x");
         end_process(r, s.slot, {0, 0, 0});
       }, true, ""},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    const auto t0 = Clock::now();
    const auto deadline = t0 + 300ms;
    auto host = [&] {
      if (k.run) c.run({"sh"}, {}, deadline);
      else c.start({"sh"}, {}, deadline);
    };
    if (k.error.empty()) {
      CHECK_NOTHROW(play(r, k.guest, host));
      continue;
    }
    CHECK_THROWS_WITH(play(r, k.guest, host), Catch::Contains(k.error));
    const auto took = Clock::now() - t0;
    CHECK(took >= 300ms);
    CHECK(took < 2s);
  }
  // the engine's liveness check, called while waiting, ends the wait with its own error
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] { throw BootError("qemu exited"); });
  CHECK_THROWS_WITH(c.start({"sh"}, {}, soon()), "qemu exited");
}

TEST_CASE("channel: stdin from the host reaches a played cat through the ring, and its output comes back", "[vm][channel][process]") {
  struct Case {
    std::string what;
    std::size_t bytes, guest_piece;
  };
  const std::vector<Case> cases = {
      {"nothing: EOF at once", 0, 4096},
      {"a line", 6, 4096},
      {"exactly the stdin ring", p::config::stdin_ring, 4096},
      {"1 MiB and a bit, round the stdin ring 16 times, in odd pieces", (1 << 20) + 333, 7001},
      {"a byte at a time for a while", 3000, 1},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    std::string input(k.bytes, '\0');
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>(i * 131 + i / 65536);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    std::string guest_read, out;
    std::optional<CommandResult> end;
    play(r, [&](Regions& g) {
      if (!take_command(g, seen)) return;
      start_process(g, seen.slot);
      const bool ok = read_stdin(g, seen.slot, guest_read, k.guest_piece, [&](std::string_view b) { write_ring(g, seen.slot, 1, b); });
      end_process(g, seen.slot, {0, ok ? 0u : 1u, 0});
    }, [&] {
      const int id = c.start({"cat"}, {}, soon(), {}, Stdio{true, std::nullopt});
      ProcessSlot& s = c.slot(id);
      std::size_t sent = 0;
      Channel::Waiter idle;
      while (!end) {
        bool moved = false;
        if (sent < input.size()) {
          const std::size_t n = s.write_stdin(std::string_view(input).substr(sent));
          CHECK(n <= p::config::stdin_ring);
          sent += n;
          moved = n > 0;
        } else if (!s.stdin_closed()) {
          s.close_stdin();
        }
        for (std::string_view b = s.pending(Stream::out); !b.empty(); b = s.pending(Stream::out)) {
          out.append(b);
          s.consume(Stream::out, b.size());
          moved = true;
        }
        end = c.finish(id);
        if (!end) c.wait(idle, moved, soon(), "cat");
      }
    });
    CHECK(seen.flags == p::command_flag_stdin);
    CHECK(guest_read.size() == input.size());
    CHECK(guest_read == input);
    CHECK(out == input);
    CHECK(end->status() == 0);
  }
}

TEST_CASE("channel: signals reach the played init one at a time, a repeated one merged, until the process ends", "[vm][channel][process]") {
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  std::vector<std::uint32_t> got;  // what the played init sent to the process group, in order
  std::optional<CommandResult> end;
  std::atomic<bool> queued{false};
  play(r, [&](Regions& g) {
    SeenCommand seen;
    if (!take_command(g, seen)) return;
    start_process(g, seen.slot);
    while (!queued) std::this_thread::yield();  // the host has sent the first and queued the rest: no ack yet
    namespace cfg = p::config;
    for (auto until = Clock::now() + std::chrono::seconds(5); got.size() < 2 && Clock::now() < until;) {
      const std::uint32_t seq = g.get_slot(seen.slot, cfg::proc_signal_seq);
      if (seq == g.get_slot(seen.slot, cfg::proc_signal_ack)) {
        std::this_thread::yield();
        continue;
      }
      got.push_back(g.get_slot(seen.slot, cfg::proc_signal));
      g.put_slot(seen.slot, cfg::proc_signal_ack, seq);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a third, had one been queued, would come now
    const std::uint32_t seq = g.get_slot(seen.slot, cfg::proc_signal_seq);
    if (seq != g.get_slot(seen.slot, cfg::proc_signal_ack)) got.push_back(g.get_slot(seen.slot, cfg::proc_signal));
    end_process(g, seen.slot, {p::exit_kind_signaled, SIGTERM, 0});
  }, [&] {
    const int id = c.start({"sleep", "9"}, {}, soon());
    c.slot(id).signal(SIGTERM);  // sent at once
    c.slot(id).signal(SIGHUP);   // waits: the guest has not taken SIGTERM
    c.slot(id).signal(SIGHUP);   // merges with the one waiting
    CHECK_FALSE(c.slot(id).signals_delivered());
    CHECK(r.get_slot(id, p::config::proc_signal) == SIGTERM);
    CHECK(r.get_slot(id, p::config::proc_signal_seq) == 1);
    queued = true;
    Channel::Waiter idle;
    while (!(end = c.finish(id))) c.wait(idle, false, soon(), "sleep");  // finish() sends the waiting one
  });
  CHECK(got == std::vector<std::uint32_t>{SIGTERM, SIGHUP});
  REQUIRE(end);
  CHECK(end->end == CommandResult::End::signaled);
  CHECK(end->status() == 128 + SIGTERM);
}

TEST_CASE("channel: a command whose output never stops still ends at the deadline", "[vm][channel][process]") {
  // A guest's `yes`: output without end. run() must give GuestTimeout at its deadline, as for a
  // silent guest. Here the guest writes more each time the host hands output to its sink (as a
  // guest faster than the sink does: a terminal, a pipe), so the ring is never empty when the host
  // looks: run() takes one piece per stream per look and Channel::wait() checks the clock every
  // 64th look, bytes moving or not.
  using namespace std::chrono_literals;
  struct Case {
    std::string what;
    std::size_t piece;  // what the guest writes each time the sink runs
  };
  const std::vector<Case> cases = {{"a line at a time", 2}, {"odd pieces", 65519}};
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    const std::string more(k.piece, 'y');
    const auto t0 = Clock::now();
    const auto stop = t0 + 1500ms;
    auto sink = [&](Stream, std::string_view) {
      if (Clock::now() < stop) write_ring(r, 0, 1, more);
    };
    play(r, [&](Regions& g) {
      if (!take_command(g, seen)) return;
      start_process(g, seen.slot);
      write_ring(g, seen.slot, 1, more);
    }, [&] { CHECK_THROWS_AS(c.run({"yes"}, {}, t0 + 300ms, sink), GuestTimeout); });
    const auto took = Clock::now() - t0;
    INFO("run() ended after " << std::chrono::duration<double>(took).count() << " s; its deadline was 0.3 s");
    CHECK(took < 1200ms);
  }
}
