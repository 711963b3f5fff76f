// SPDX-License-Identifier: Apache-2.0
// tests/vm/channel_test.cpp — the protocol's one list (layout.hpp) and the host's side of the init
// protocol (channel.hpp) against a guest played by the test: the two regions are plain memory
// here, and a "guest" thread writes what an init — well-behaved, confused or hostile — would, and
// reads what the host wrote as rtg/init/init.go parses it. No VM: what is tested is that the host
// writes what the init reads, takes what it answers, and gives a typed error, never a wrong answer
// or a hang, for the rest.
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
  std::chrono::milliseconds ack_wait{5000};  // how long the played init waits for the host's ack of a chunk

  void put32(std::vector<std::uint8_t>& r, std::uint32_t at, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(r.data() + at)).store(v, std::memory_order_release);
  }
  static std::uint32_t get32(const std::vector<std::uint8_t>& r, std::uint32_t at) {
    return std::atomic_ref<const std::uint32_t>(*reinterpret_cast<const std::uint32_t*>(r.data() + at)).load(std::memory_order_acquire);
  }
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

}  // namespace

TEST_CASE("channel: waiting for init, what the guest signals decides the answer", "[vm][channel]") {
  struct Case {
    std::string what;
    std::function<void(Regions&)> guest;
    std::function<void(Channel&)> host;
    std::string error;  // empty: no error; else a piece of the message
  };
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
      {"an output chunk longer than the output area", [](Regions& r) {
         r.put32(r.mailbox, p::mailbox::chunk_stream, 1);
         r.put32(r.mailbox, p::mailbox::chunk_length, p::config::output_max + 1);
         r.signal(p::signal_output);
       }, [](Channel& c) { c.run({"true"}, {}, soon()); }, "output chunk of"},
      {"an output chunk for stream 3", [](Regions& r) {
         r.put32(r.mailbox, p::mailbox::chunk_stream, 3);
         r.put32(r.mailbox, p::mailbox::chunk_length, 1);
         r.signal(p::signal_output);
       }, [](Channel& c) { c.run({"true"}, {}, soon()); }, "for stream 3"},
      {"an impossible command end", [](Regions& r) {
         r.put32(r.mailbox, p::mailbox::exit_kind, 7);
         r.signal(p::signal_command_done);
       }, [](Channel& c) { c.run({"true"}, {}, soon()); }, "impossible command end"},
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
}

TEST_CASE("layout: the wire values stay what the init and docs/protocol.md have", "[vm][channel][layout]") {
  // An independent record of the protocol's bytes: changing one is a protocol change, to be made
  // here, in docs/protocol.md and in every guest at once.
  const std::vector<std::pair<const char*, std::uint64_t>> wire = {
      {"window_base", 0x08000000},     {"window_size", 0x00800000},        {"mailbox_size", 0x1000},
      {"mailbox_phys", 0x08000000},    {"config_phys", 0x08100000},        {"config_size", 0x400000},
      {"mb_signal", 0},                {"mb_seq", 4},                      {"mb_phase", 8},
      {"mb_error", 12},                {"mb_result", 16},                  {"mb_exit_kind", 24},
      {"mb_exit_code", 28},            {"mb_exec_errno", 32},              {"mb_chunk_stream", 36},
      {"mb_chunk_length", 40},         {"mb_exec_stage", 44},              {"mb_host_ack", 48},
      {"signal_ready", 0xdeadbeef},    {"signal_payload_done", 0x600dca11}, {"signal_output", 0x0c4a9c00},
      {"signal_command_done", 0xc0dedbad}, {"signal_failed", 0xfa11ed00}, {"signal_reseeded", 0x5eed5eed},
      {"signal_holding", 0x401d0006},  {"exit_kind_exited", 0},           {"exit_kind_signaled", 1},
      {"signal_container_ready", 0xc7a1ead7}, {"signal_container_failed", 0xc7afa11d},
      {"exit_kind_not_started", 2},    {"stream_stdout", 1},              {"stream_stderr", 2},
      {"payload_magic", 0xcafebabe},   {"command_magic", 0x434d4452},     {"poweroff_magic", 0x52574f50},
      {"clock_magic", 0x4b434c43},     {"reseed_magic", 0x44454553},      {"hold_magic", 0x444c4f48},
      {"container_magic", 0x524e5443},
      {"container_step_devices", 1},   {"container_step_root", 2},        {"container_step_overlay", 3},
      {"container_step_volume", 4},    {"container_step_mounts", 5},      {"container_step_switch_root", 6},
      {"container_step_hostname", 7},  {"container_step_binfmt", 8},      {"container_step_request", 9},
      {"exec_stage_execve", 0},        {"exec_stage_chdir", 1},           {"exec_stage_setgroups", 2},
      {"exec_stage_setgid", 3},        {"exec_stage_setuid", 4},          {"exec_stage_no_new_privs", 5},
      {"exec_stage_capabilities", 6},  {"container_root_dir", 1},         {"container_root_block", 2},
      {"container_root_virtiofs", 3},  {"command_flag_set_ids", 1},       {"command_flag_no_new_privs", 2},
      {"command_flag_chdir", 4},       {"volume_flag_read_only", 1},
      {"cfg_payload_magic_at", 0},     {"cfg_command_magic_at", 0},       {"cfg_clock_magic_at", 0},
      {"cfg_reseed_magic_at", 0},      {"cfg_reseed_entropy_bytes", 64},
      {"cfg_payload", 0},              {"cfg_payload_code_size", 4},      {"cfg_payload_relocs", 8},
      {"cfg_payload_entry", 12},       {"cfg_payload_bss_size", 16},      {"cfg_payload_code", 32},
      {"cfg_payload_max", 0x100000},   {"exec_size", 0x400000},
      {"cfg_command", 0x100000},       {"cfg_command_path_len", 4},       {"cfg_command_argc", 8},
      {"cfg_command_envc", 12},        {"cfg_command_uid", 16},           {"cfg_command_gid", 20},
      {"cfg_command_flags", 24},       {"cfg_command_ngroups", 28},       {"cfg_command_groups_max", 32},
      {"cfg_command_groups", 32},      {"cfg_command_strings", 160},      {"cfg_command_max", 0x100000},
      {"cfg_container_magic_at", 0},   {"cfg_container_root_kind", 4},    {"cfg_container_flags", 8},
      {"cfg_container_volumes", 12},   {"cfg_container_binfmts", 16},     {"cfg_container_volumes_max", 32},
      {"cfg_container_binfmts_max", 16}, {"cfg_container_volume_flags", 32}, {"cfg_container_strings", 160},
      {"cfg_output", 0x200000},        {"cfg_output_max", 0x1ff000},
      {"cfg_clock", 0x3ff000},         {"cfg_clock_sec", 8},              {"cfg_clock_nsec", 16},
      {"cfg_reseed", 0x3ff100},        {"cfg_reseed_entropy", 8},         {"cfg_reseed_sec", 72},
      {"cfg_reseed_nsec", 80},         {"cfg_hold", 0x3ff200},
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
  CHECK(p::area_bytes("cfg_output") == p::config::output_max);
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

namespace {

// What the played init read from a command the host wrote, as runCommand parses it: the path,
// then argc arguments and envc environment strings, each NUL-terminated, after the header.
struct SeenCommand {
  std::string path;
  std::uint32_t path_len = 0;
  std::vector<std::string> argv, env;
  std::string cwd;  // the string after the environment
  std::uint32_t uid = 0, gid = 0, flags = 0;
  std::vector<std::uint32_t> groups;
};

struct Chunk {
  std::uint32_t stream;
  std::string bytes;
};

// How the played command ends: what init writes before it signals command done.
struct End {
  std::uint32_t kind, code, exec_errno, exec_stage = 0;
};

// Plays one output chunk of sendOutput: the bytes, the stream and length, the signal; then waits
// for the host's ack of its seq. False when the host never acked (its run() then fails on its
// own deadline).
bool send_chunk(Regions& r, std::uint32_t stream, std::string_view bytes) {
  std::memcpy(r.config.data() + p::config::output, bytes.data(), bytes.size());
  r.put32(r.mailbox, p::mailbox::chunk_stream, stream);
  r.put32(r.mailbox, p::mailbox::chunk_length, static_cast<std::uint32_t>(bytes.size()));
  r.signal(p::signal_output);
  for (auto t = Clock::now() + r.ack_wait; Regions::get32(r.mailbox, p::mailbox::host_ack) != r.seq;)
    if (Clock::now() > t) return false;
  return true;
}
void end_command(Regions& r, End end);

// Plays init's runCommand and sendOutput: wait for the magic, parse, send the chunks one at a
// time (each waits for the host's ack of its seq), then the end; the magic is cleared last.
void play_command(Regions& r, SeenCommand& seen, const std::vector<Chunk>& chunks, End end) {
  namespace cfg = p::config;
  if (!Regions::wait_for(r.config, cfg::command + cfg::command_magic_at, p::command_magic)) return;
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
  for (const Chunk& c : chunks)
    if (!send_chunk(r, c.stream, c.bytes)) return;
  end_command(r, end);
}

// Plays the end of runCommand: how the command ended, the magic cleared, command done.
void end_command(Regions& r, End end) {
  namespace cfg = p::config;
  r.put32(r.mailbox, p::mailbox::exec_errno, end.exec_errno);
  r.put32(r.mailbox, p::mailbox::exec_stage, end.exec_stage);
  r.put32(r.mailbox, p::mailbox::exit_kind, end.kind);
  r.put32(r.mailbox, p::mailbox::exit_code, end.code);
  r.put32(r.config, cfg::command + cfg::command_magic_at, 0);
  r.signal(p::signal_command_done);
}

}  // namespace

TEST_CASE("channel: a command runs, and the host gets its output in order and how it ended", "[vm][channel]") {
  using E = CommandResult::End;
  const std::string big(p::config::output_max, 'x');  // a chunk that fills the output area exactly
  struct Case {
    std::string what;
    std::vector<std::string> argv, env;
    std::vector<Chunk> chunks;
    End end;
    // what run() returns
    std::string out, err;
    E kind;
    int code, exec_errno, status;
  };
  const std::vector<Case> cases = {
      {"exits 0 with output", {"echo", "hi"}, {"PATH=/bin"}, {{1, "hi\n"}}, {0, 0, 0}, "hi\n", "", E::exited, 0, 0, 0},
      {"no output, no environment", {"/bin/true"}, {}, {}, {0, 0, 0}, "", "", E::exited, 0, 0, 0},
      {"an exit status", {"sh", "-c", "exit 3"}, {}, {}, {0, 3, 0}, "", "", E::exited, 3, 0, 3},
      {"stdout then stderr, in several chunks", {"sh", "-c", "x"}, {"A=1", "B="},
       {{1, "ab"}, {1, "c"}, {2, "oops\n"}}, {0, 1, 0}, "abc", "oops\n", E::exited, 1, 0, 1},
      {"a chunk as big as the output area", {"cat", "f"}, {}, {{1, big}, {1, "y"}}, {0, 0, 0}, big + "y", "", E::exited, 0, 0, 0},
      {"killed by a signal", {"sleep", "9"}, {}, {{2, "bye"}}, {1, SIGKILL, 0}, "", "bye", E::signaled, SIGKILL, 0, 128 + SIGKILL},
      {"not found", {"nosuch"}, {}, {}, {2, 127, ENOENT}, "", "", E::not_started, 0, ENOENT, 127},
      {"not executable", {"/etc/passwd"}, {}, {}, {2, 127, EACCES}, "", "", E::not_started, 0, EACCES, 126},
      {"empty arguments and an argument with spaces", {"printf", "", "a b"}, {"X=y z"}, {}, {0, 0, 0}, "", "", E::exited, 0, 0, 0},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    CommandResult got;
    play(r, [&](Regions& g) { play_command(g, seen, k.chunks, k.end); }, [&] { got = c.run(k.argv, k.env, soon()); });
    // what the init read
    CHECK(seen.path == k.argv[0]);
    CHECK(seen.path_len == k.argv[0].size());
    CHECK(seen.argv == k.argv);
    CHECK(seen.env == k.env);
    CHECK(seen.cwd.empty());  // no options: none asked for
    CHECK(seen.flags == 0);
    // what the host made of the answer
    CHECK(got.out == k.out);
    CHECK(got.err == k.err);
    CHECK(got.end == k.kind);
    CHECK(got.code == k.code);
    CHECK(got.exec_errno == k.exec_errno);
    CHECK(got.status() == k.status);
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

// A guest that floods: `chunks` full chunks on each stream in turn (stdout, then stderr, ...),
// each filled with one letter per chunk, then exit 0. It samples the process's resident set
// after every chunk the host has acked (the host has then taken it) into `peak`.
void play_flood(Regions& r, std::size_t chunks, std::size_t& peak) {
  if (!Regions::wait_for(r.config, p::config::command + p::config::command_magic_at, p::command_magic)) return;
  std::string bytes(p::config::output_max, 'a');
  for (std::size_t i = 0; i < chunks; ++i) {
    std::fill(bytes.begin(), bytes.end(), static_cast<char>('a' + i % 26));
    if (!send_chunk(r, i % 2 ? p::stream_stderr : p::stream_stdout, bytes)) return;
    peak = std::max(peak, resident_bytes());
  }
  end_command(r, {0, 0, 0});
}

}  // namespace

TEST_CASE("channel: the one-shot run() keeps at most its limit of each stream, says so, and drains the rest", "[vm][channel]") {
  const std::size_t chunk = p::config::output_max;
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
      {"chunks after the limit are still taken", 4, {{1, "abcdef"}, {1, "ghi"}, {1, "jkl"}, {2, "z"}}, "abcd", "z", true, false},
      {"full chunks, cut inside the third", 2 * chunk + 1, {{1, std::string(chunk, 'x')}, {1, std::string(chunk, 'y')}, {1, std::string(chunk, 'z')}},
       std::string(chunk, 'x') + std::string(chunk, 'y') + "z", "", true, false},
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
    // the rest was drained: the guest finished, and the channel takes the next command
    SeenCommand next;
    CommandResult again;
    play(r, [&](Regions& g) { play_command(g, next, {{1, "next"}}, {0, 4, 0}); }, [&] { again = c.run({"y"}, {}, soon(), k.limit); });
    CHECK(next.path == "y");
    CHECK(again.status() == 4);
    CHECK(again.out == std::string("next").substr(0, k.limit));
  }
}

TEST_CASE("channel: a guest that floods run() with 512 MiB leaves the host's memory bounded", "[vm][channel]") {
  // 256 chunks of 2 MiB, alternating stdout and stderr: 256 MiB of each; the limit keeps 1 MiB.
  // Before the limit existed, run() returned all 512 MiB (the host's resident set grew by as much).
  const std::size_t chunks = 256, limit = 1 << 20;
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  const std::size_t before = resident_bytes();
  std::size_t peak = before;
  CommandResult got;
  const auto t0 = Clock::now();
  play(r, [&](Regions& g) { play_flood(g, chunks, peak); }, [&] { got = c.run({"flood"}, {}, Clock::now() + std::chrono::seconds(60), limit); });
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO("resident before " << (before >> 20) << " MiB, peak " << (peak >> 20) << " MiB; " << chunks * 2 << " MiB in " << seconds << " s");
  CHECK(got.out == std::string(limit, 'a'));
  CHECK(got.err == std::string(limit, 'b'));
  CHECK(got.out_truncated);
  CHECK(got.err_truncated);
  CHECK(got.status() == 0);
  CHECK(peak - before < (32u << 20));  // the two kept MiB, and allocator slack
  std::printf("flood through the channel: %zu MiB sent in %.2f s; resident set grew by %zu MiB\n", chunks * 2, seconds, (peak - before) >> 20);
}

TEST_CASE("channel: run() with a sink hands on every chunk in order and keeps nothing", "[vm][channel]") {
  const std::vector<Chunk> chunks = {{1, "one "}, {2, "warn\n"}, {1, std::string(p::config::output_max, 'x')}, {1, "two\n"}, {2, ""}};
  Regions r;
  Channel c(r.mailbox.data(), r.config.data(), [] {});
  SeenCommand seen;
  std::vector<std::pair<Stream, std::string>> got;
  CommandResult end;
  play(r, [&](Regions& g) { play_command(g, seen, chunks, {0, 2, 0}); },
       [&] { end = c.run({"x"}, {}, soon(), [&](Stream s, std::string_view b) { got.emplace_back(s, std::string(b)); }); });
  REQUIRE(got.size() == chunks.size());
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    INFO("chunk " << i);
    CHECK(got[i].first == (chunks[i].stream == 1 ? Stream::out : Stream::err));
    CHECK(got[i].second == chunks[i].bytes);
  }
  CHECK(end.out.empty());
  CHECK(end.err.empty());
  CHECK_FALSE(end.out_truncated);
  CHECK(end.status() == 2);
  // a sink that throws stops run() with its exception; no sink at all is refused before the guest sees anything
  Regions r2;
  r2.ack_wait = std::chrono::milliseconds(100);  // the ack never comes
  Channel c2(r2.mailbox.data(), r2.config.data(), [] {});
  SeenCommand seen2;
  CHECK_THROWS_WITH(play(r2, [&](Regions& g) { play_command(g, seen2, {{1, "x"}}, {0, 0, 0}); },
                         [&] { c2.run({"x"}, {}, soon(), [](Stream, std::string_view) { throw std::runtime_error("disk full"); }); }),
                    "disk full");
  CHECK_THROWS_WITH(c2.run({"x"}, {}, soon(), OutputSink()), Catch::Contains("no output sink"));
}

// ---- command options: who a command runs as, and where --------------------------------------

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
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenCommand seen;
    play(r, [&](Regions& g) { play_command(g, seen, {}, {0, 0, 0}); },
         [&] { c.run({"id", "-a"}, {"A=1"}, soon(), default_output_limit, k.options); });
    CHECK(seen.argv == std::vector<std::string>{"id", "-a"});
    CHECK(seen.env == std::vector<std::string>{"A=1"});
    CHECK(seen.uid == k.uid);
    CHECK(seen.gid == k.gid);
    CHECK(seen.flags == k.flags);
    CHECK(seen.groups == k.groups);
    CHECK(seen.cwd == k.cwd);
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
      {p::exec_stage_setgid, EINVAL, {1, 2, {}, "", false}, "cannot set group id 2: Invalid argument", 126},
      {p::exec_stage_setuid, EAGAIN, {1000, 1000, {}, "", false}, "cannot set user id 1000: Resource temporarily unavailable", 126},
      {p::exec_stage_no_new_privs, EINVAL, {std::nullopt, std::nullopt, {}, "", true}, "cannot set no_new_privs: Invalid argument", 126},
      {p::exec_stage_capabilities, EPERM, {7, 7, {}, "", false}, "cannot drop the capabilities of user 7: Operation not permitted", 126},
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
  CHECK_THROWS_AS(play(r, [&](Regions& g) { play_command(g, seen, {}, {p::exit_kind_not_started, 127, EPERM, 7}); },
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
};

// Plays setupContainer's parsing, then answers with `answer` (ready, or failed with the mailbox's
// phase, error and exit_code as given).
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
  r.put32(r.mailbox, p::mailbox::phase, step);
  r.put32(r.mailbox, p::mailbox::error, err);
  r.put32(r.mailbox, p::mailbox::exit_code, index);
  r.put32(r.config, cfg::command + cfg::command_magic_at, 0);
  r.signal(answer);
}

ContainerRequest request_with_everything() {
  ContainerRequest q;
  q.root_kind = ContainerRequest::RootKind::block;
  q.root_source = "/dev/vda";
  q.root_fstype = "erofs";
  q.hostname = "box";
  q.volumes = {{"vol0", "/data", false}, {"vol1", "/srv/ro", true}};
  q.binfmt = {":qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01:\\xff\\xff\\xff:/crumble/qemu-aarch64:F"};
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
  const std::vector<Case> cases = {
      {"a directory root, nothing else", dir, p::container_root_dir},
      {"a block root with volumes and a registration", request_with_everything(), p::container_root_block},
      {"a virtio-fs root, the longest hostname", fs, p::container_root_virtiofs},
      {"every volume that fits", many, p::container_root_dir},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Regions r;
    Channel c(r.mailbox.data(), r.config.data(), [] {});
    SeenContainer seen;
    play(r, [&](Regions& g) { play_container(g, seen, p::signal_container_ready); }, [&] { c.setup_container(k.request, soon()); });
    CHECK(seen.magic == p::container_magic);
    CHECK(seen.kind == k.kind);
    CHECK(seen.flags == 0);
    CHECK(seen.source == k.request.root_source);
    CHECK(seen.fstype == k.request.root_fstype);
    CHECK(seen.hostname == k.request.hostname);
    REQUIRE(seen.volumes.size() == k.request.volumes.size());
    for (std::size_t i = 0; i < seen.volumes.size(); ++i) {
      CHECK(seen.volumes[i].tag == k.request.volumes[i].tag);
      CHECK(seen.volumes[i].path == k.request.volumes[i].guest_path);
      CHECK(seen.volumes[i].flags == (k.request.volumes[i].read_only ? p::volume_flag_read_only : 0));
    }
    CHECK(seen.binfmt == k.request.binfmt);
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
      {"a step past the last", p::signal_container_failed, p::container_step_request + 1, EPERM, 0, "impossible container failure (step 10"},
      {"a huge step", p::signal_container_failed, 0xffffffff, EPERM, 0, "impossible container failure"},
      {"errno 0", p::signal_container_failed, p::container_step_root, 0, 0, "errno 0"},
      {"errno past 4095", p::signal_container_failed, p::container_step_root, 5000, 0, "errno 5000"},
      {"a volume the request does not have", p::signal_container_failed, p::container_step_volume, ENOENT, 2, "index 2"},
      {"a registration the request does not have", p::signal_container_failed, p::container_step_binfmt, ENOENT, 1, "index 1"},
      {"the signal of a command", p::signal_command_done, 0, 0, 0, "unexpected signal 0xc0dedbad after a container request"},
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
      {"too many volumes", [](ContainerRequest& q) { q.volumes.resize(p::config::container_volumes_max + 1, {"t", "/v", false}); }, "33 volumes; at most 32"},
      {"a hostname too long", [](ContainerRequest& q) { q.hostname = std::string(65, 'h'); }, "the hostname is 65 bytes long; at most 64"},
      {"a hostname with a NUL", [](ContainerRequest& q) { q.hostname = std::string("a\0b", 3); }, "the hostname contains a NUL byte"},
      {"a block root without a file system type", [](ContainerRequest& q) { q.root_fstype = ""; }, "the root's file system type is empty"},
      {"a relative block device", [](ContainerRequest& q) { q.root_source = "vda"; }, "the root's block device vda is not an absolute path"},
      {"a relative root directory", [](ContainerRequest& q) { q.root_kind = Kind::dir; q.root_source = "ctr"; }, "the root directory ctr is not an absolute path"},
      {"a virtio-fs root without a tag", [](ContainerRequest& q) { q.root_kind = Kind::virtiofs; q.root_source = ""; }, "the root's virtio-fs tag is empty"},
      {"an empty registration", [](ContainerRequest& q) { q.binfmt.push_back(""); }, "binfmt_misc registration 1 is empty"},
      {"a registration too long", [](ContainerRequest& q) { q.binfmt[0] = std::string(1921, ':'); }, "1921 bytes long; at most 1920"},
      {"too many registrations", [](ContainerRequest& q) { q.binfmt.resize(p::config::container_binfmts_max + 1, ":x:E::x::/x:"); }, "17 binfmt_misc registrations; at most 16"},
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
