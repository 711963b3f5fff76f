// SPDX-License-Identifier: Apache-2.0
// tests/vm/process_slot_test.cpp — the host's side of one process slot (process_slot.hpp) over a
// plain buffer the test writes as the guest's init would (rtg/init/init.go: fill, feed, pump):
// the output rings read where the guest wrote them and never outside, the stdin ring filled only
// as far as there is room, the guest's positions and exit fields checked, signals sent one at a
// time, terminal sizes only when they change. No thread: each step is the host's call, then what
// the guest does, in an order the test chooses. (The whole protocol with a played init on a
// thread, through Channel: channel_test.cpp.)
#include <catch2/catch.hpp>
#include <crumble/vm/protocol/process_slot.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace crumble::vm;
namespace p = crumble::vm::protocol;
namespace cfg = crumble::vm::protocol::config;

namespace {

// One slot's memory and the host's ProcessSlot over it; the test plays the guest through put/get.
struct Slot {
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(cfg::process_stride);
  ProcessSlot host{mem.data()};

  void put(std::uint32_t field, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(mem.data() + field)).store(v, std::memory_order_release);
  }
  std::uint32_t get(std::uint32_t field) const {
    return std::atomic_ref<const std::uint32_t>(*reinterpret_cast<const std::uint32_t*>(mem.data() + field)).load(std::memory_order_acquire);
  }

  // The rings, as fill() writes them: stdout or stderr.
  static std::uint32_t head_field(Stream s) { return s == Stream::out ? cfg::proc_out_head : cfg::proc_err_head; }
  static std::uint32_t tail_field(Stream s) { return s == Stream::out ? cfg::proc_out_tail : cfg::proc_err_tail; }
  static std::uint32_t data(Stream s) { return s == Stream::out ? cfg::process_stdout : cfg::process_stderr; }
  static std::uint32_t size(Stream s) { return s == Stream::out ? cfg::stdout_ring : cfg::stderr_ring; }
  // Writes as much of `bytes` as the ring has room for (by the host's tail in the slot), at most
  // `piece`; how much.
  std::size_t write(Stream s, std::string_view bytes, std::size_t piece = ~std::size_t{0}) {
    const std::uint32_t head = get(head_field(s)), used = head - get(tail_field(s)), off = head & (size(s) - 1);
    const std::size_t n = std::min({std::size_t{size(s) - used}, std::size_t{size(s) - off}, bytes.size(), piece});
    std::memcpy(mem.data() + data(s) + off, bytes.data(), n);
    put(head_field(s), head + static_cast<std::uint32_t>(n));
    return n;
  }
  // Takes what waits in the stdin ring, as feed() does (at most `piece`, up to the ring's end).
  std::string take_stdin(std::size_t piece = ~std::size_t{0}) {
    const std::uint32_t tail = get(cfg::proc_in_tail), off = tail & (cfg::stdin_ring - 1);
    const std::size_t n = std::min({std::size_t{get(cfg::proc_in_head) - tail}, std::size_t{cfg::stdin_ring - off}, piece});
    std::string got(reinterpret_cast<const char*>(mem.data() + cfg::process_stdin + off), n);
    put(cfg::proc_in_tail, tail + static_cast<std::uint32_t>(n));
    return got;
  }
  // The host reads pending(s) until empty, at most `take` bytes a call; checks that each view
  // lies inside the ring.
  std::string drain(Stream s, std::size_t take = ~std::size_t{0}) {
    std::string got;
    for (std::string_view b = host.pending(s); !b.empty(); b = host.pending(s)) {
      const char* ring = reinterpret_cast<const char*>(mem.data() + data(s));
      CHECK(b.data() >= ring);
      CHECK(b.data() + b.size() <= ring + size(s));
      b = b.substr(0, take);
      got.append(b);
      host.consume(s, b.size());
    }
    return got;
  }
};

std::string pattern(std::size_t n, unsigned salt = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 977 + salt) & 0xff);
  return s;
}

}  // namespace

TEST_CASE("process slot: reset() puts the host's fields back, writes the size, frees the slot, and leaves the guest's alone", "[vm][process]") {
  Slot s;
  std::fill(s.mem.begin(), s.mem.begin() + cfg::process_stdout, 0xab);
  s.host.reset({30, 100});
  const std::uint32_t junk = 0xabababab;
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> fields = {
      // the host's: back to 0, the size, the state free
      {cfg::proc_state, p::process_free}, {cfg::proc_out_tail, 0}, {cfg::proc_err_tail, 0}, {cfg::proc_in_head, 0},
      {cfg::proc_in_closed, 0}, {cfg::proc_signal, 0}, {cfg::proc_signal_seq, 0}, {cfg::proc_winsize_seq, 0},
      {cfg::proc_rows, 30}, {cfg::proc_cols, 100},
      // the guest's: its own to reset when it starts the process
      {cfg::proc_exit_kind, junk}, {cfg::proc_exit_code, junk}, {cfg::proc_exec_errno, junk}, {cfg::proc_exec_stage, junk},
      {cfg::proc_pid, junk}, {cfg::proc_out_head, junk}, {cfg::proc_err_head, junk}, {cfg::proc_in_tail, junk},
      {cfg::proc_signal_ack, junk},
  };
  CHECK(fields.size() == std::size(cfg::process_control_fields));  // every field of the block is named here
  for (const auto& [field, value] : fields) {
    INFO("field at " << field);
    CHECK(s.get(field) == value);
  }
}

TEST_CASE("process slot: output is read where the guest wrote it, contiguous up to the ring's end, every byte once", "[vm][process]") {
  struct Case {
    std::string what;
    Stream stream;
    std::size_t bytes, guest_piece, host_take;
  };
  const std::size_t all = ~std::size_t{0};
  const std::vector<Case> cases = {
      {"a few bytes", Stream::out, 5, all, all},
      {"exactly the stdout ring", Stream::out, cfg::stdout_ring, all, all},
      {"four times round the stdout ring, whole rings", Stream::out, 4 * std::size_t{cfg::stdout_ring}, all, all},
      {"round the stdout ring, the guest in odd pieces, the host taking less", Stream::out, 3 * std::size_t{cfg::stdout_ring} + 17, 100003, 65537},
      {"round the stderr ring, a byte at a time taken", Stream::err, cfg::stderr_ring + 300, 777, 1},
      {"round the stderr ring, the guest a byte at a time", Stream::err, 2 * std::size_t{cfg::stderr_ring} + 5, 1, all},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    const std::string input = pattern(k.bytes);
    std::string got;
    for (std::size_t written = 0; written < input.size() || !s.host.pending(k.stream).empty();) {
      written += s.write(k.stream, std::string_view(input).substr(written), k.guest_piece);
      got += s.drain(k.stream, k.host_take);
    }
    CHECK(got.size() == input.size());
    CHECK(got == input);
    CHECK(s.get(Slot::tail_field(k.stream)) == static_cast<std::uint32_t>(input.size()));  // the tail the guest sees
    const Stream other = k.stream == Stream::out ? Stream::err : Stream::out;
    CHECK(s.host.pending(other).empty());  // the other ring is its own
  }
}

TEST_CASE("process slot: positions are u32s that wrap past 4 GiB", "[vm][process]") {
  // The guest moves the stdout head a ring at a time (no bytes: only the positions matter) until
  // just before 2^32; then 300 bytes cross both the ring's end and 2^32.
  Slot s;
  s.host.reset({});
  const std::uint32_t ring = cfg::stdout_ring, start = 0u - 100u;
  std::uint64_t pos = 0;
  for (; pos + ring <= start; pos += ring) {
    s.put(cfg::proc_out_head, static_cast<std::uint32_t>(pos + ring));
    const std::string_view b = s.host.pending(Stream::out);
    REQUIRE(b.size() == ring);
    s.host.consume(Stream::out, b.size());
  }
  s.put(cfg::proc_out_head, start);
  s.host.consume(Stream::out, s.host.pending(Stream::out).size());
  REQUIRE(s.get(cfg::proc_out_tail) == start);
  const std::string input = pattern(300, 7);
  CHECK(s.write(Stream::out, input) == 100);  // up to the ring's end
  CHECK(s.write(Stream::out, std::string_view(input).substr(100)) == 200);
  CHECK(s.get(cfg::proc_out_head) == 200u);  // wrapped
  CHECK(s.host.pending(Stream::out).size() == 100);
  CHECK(s.drain(Stream::out) == input);
  CHECK(s.get(cfg::proc_out_tail) == 200u);
}

TEST_CASE("process slot: an output head the host cannot believe is a GuestProtocolError, and nothing is read", "[vm][process]") {
  struct Case {
    std::string what;
    Stream stream;
    std::uint32_t taken;  // what the host has consumed first
    std::uint32_t head;   // then the guest's claim
    bool ok;
  };
  const std::uint32_t out = cfg::stdout_ring, err = cfg::stderr_ring;
  const std::vector<Case> cases = {
      {"a full stdout ring", Stream::out, 0, out, true},
      {"a byte more than the stdout ring", Stream::out, 0, out + 1, false},
      {"far ahead", Stream::out, 0, 0x7fffffff, false},
      {"a byte behind the host's tail", Stream::out, 0, 0xffffffff, false},
      {"behind, after the host took some", Stream::out, 10, 9, false},
      {"a full ring after the host took some", Stream::out, 10, 10 + out, true},
      {"a byte more after the host took some", Stream::out, 10, 11 + out, false},
      {"a full stderr ring", Stream::err, 0, err, true},
      {"a byte more than the stderr ring", Stream::err, 0, err + 1, false},
      {"the stdout ring's size on stderr", Stream::err, 0, out, false},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    if (k.taken) {
      s.put(Slot::head_field(k.stream), k.taken);
      s.host.consume(k.stream, s.host.pending(k.stream).size());
    }
    s.put(Slot::head_field(k.stream), k.head);
    if (k.ok) {
      const std::string_view b = s.host.pending(k.stream);
      const char* ring = reinterpret_cast<const char*>(s.mem.data() + Slot::data(k.stream));
      CHECK(b.data() >= ring);
      CHECK(b.data() + b.size() <= ring + Slot::size(k.stream));
      CHECK(b.size() == Slot::size(k.stream) - (k.taken & (Slot::size(k.stream) - 1)));
    } else {
      CHECK_THROWS_AS(s.host.pending(k.stream), GuestProtocolError);
      // done() reads the same heads once the process has ended
      s.put(cfg::proc_state, p::process_ended);
      CHECK_THROWS_AS(s.host.done(), GuestProtocolError);
    }
  }
}

TEST_CASE("process slot: the host's positions are its own: a guest that overwrites them in the slot changes nothing", "[vm][process]") {
  Slot s;
  s.host.reset({});
  CHECK(s.write(Stream::out, "hello") == 5);
  s.put(cfg::proc_out_tail, 3);   // the guest writes the host's tail
  s.put(cfg::proc_in_head, 500);  // and the stdin head: "500 bytes of stdin for you"
  CHECK(s.host.pending(Stream::out) == "hello");
  CHECK(s.host.stdin_room() == cfg::stdin_ring);
  CHECK(s.host.write_stdin("ab") == 2);
  CHECK(s.get(cfg::proc_in_head) == 2);  // the host's own count, written back
}

TEST_CASE("process slot: write_stdin fills the stdin ring as far as there is room, across its end", "[vm][process]") {
  // Steps: the guest takes up to `guest_takes` bytes, then the host writes `write` more bytes of the
  // stream; what write_stdin returns and the room after.
  struct Step {
    std::size_t guest_takes, write, written, room;
  };
  struct Case {
    std::string what;
    std::vector<Step> steps;
  };
  const std::size_t ring = cfg::stdin_ring;
  const std::vector<Case> cases = {
      {"a little", {{0, 10, 10, ring - 10}}},
      {"nothing", {{0, 0, 0, ring}}},
      {"exactly the ring", {{0, ring, ring, 0}}},
      {"more than the ring: stops at its room, then nothing fits", {{0, ring + 5, ring, 0}, {0, 7, 0, 0}}},
      {"the guest takes some: that much fits again, written across the ring's end",
       {{0, ring - 3, ring - 3, 3}, {100, 200, 103, 0}, {ring, 5, 5, ring - 5}}},
      {"many times round the ring in odd steps",
       {{0, 40000, 40000, ring - 40000}, {30000, 60000, 30000 + ring - 40000, 0}, {ring, 70000, ring, 0}, {12345, 1, 1, 12344},
        {ring, ring, ring, 0}}},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    const std::string input = pattern(8 * ring, 3);
    std::size_t sent = 0;
    std::string guest_got;
    for (std::size_t i = 0; i < k.steps.size(); ++i) {
      INFO("step " << i);
      const Step& t = k.steps[i];
      for (std::size_t want = t.guest_takes; want > 0;) {
        const std::string b = s.take_stdin(want);
        if (b.empty()) break;
        guest_got += b;
        want -= b.size();
      }
      const std::size_t n = s.host.write_stdin(std::string_view(input).substr(sent, t.write));
      CHECK(n == t.written);
      sent += n;
      CHECK(s.host.stdin_room() == t.room);
      CHECK(s.get(cfg::proc_in_head) == static_cast<std::uint32_t>(sent));
    }
    for (std::string b = s.take_stdin(); !b.empty(); b = s.take_stdin()) guest_got += b;
    CHECK(guest_got == input.substr(0, sent));  // every byte, in order, where the guest reads it
    CHECK(s.get(cfg::proc_in_closed) == 0);
  }
}

TEST_CASE("process slot: close_stdin() marks the end of stdin, and writing after it is refused", "[vm][process]") {
  Slot s;
  s.host.reset({});
  CHECK_FALSE(s.host.stdin_closed());
  CHECK(s.host.write_stdin("last") == 4);
  s.host.close_stdin();
  CHECK(s.host.stdin_closed());
  CHECK(s.get(cfg::proc_in_closed) == 1);
  CHECK(s.get(cfg::proc_in_head) == 4);  // the bytes before the close stay for the guest
  CHECK_THROWS_AS(s.host.write_stdin("more"), ConfigError);
  CHECK(s.get(cfg::proc_in_head) == 4);
  s.host.close_stdin();  // twice: still closed
  CHECK(s.get(cfg::proc_in_closed) == 1);
  s.host.reset({});  // the next process gets an open stdin
  CHECK_FALSE(s.host.stdin_closed());
  CHECK(s.get(cfg::proc_in_closed) == 0);
}

TEST_CASE("process slot: a stdin tail the host never wrote is a GuestProtocolError", "[vm][process]") {
  struct Case {
    std::string what;
    std::size_t written;  // by the host first
    std::uint32_t tail;   // then the guest's claim
    bool ok;
  };
  const std::uint32_t ring = cfg::stdin_ring;
  const std::vector<Case> cases = {
      {"all taken", 10, 10, true},
      {"none taken", 10, 0, true},
      {"a byte past what the host wrote", 10, 11, false},
      {"far past", 10, 0x80000000, false},
      {"taken, before anything was written", 0, 1, false},
      {"behind by more than the ring: the host wrote 3 rings, the guest claims it took none", 3 * std::size_t{ring}, 0, false},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    const std::string input = pattern(k.written);
    for (std::size_t sent = 0; sent < input.size();) {  // the guest keeps up while the host writes
      sent += s.host.write_stdin(std::string_view(input).substr(sent));
      s.take_stdin();
    }
    s.put(cfg::proc_in_tail, k.tail);
    if (k.ok) {
      CHECK(s.host.stdin_room() == ring - (k.written - k.tail));
    } else {
      CHECK_THROWS_AS(s.host.stdin_room(), GuestProtocolError);
      CHECK_THROWS_AS(s.host.write_stdin("x"), GuestProtocolError);
      CHECK(s.get(cfg::proc_in_head) == static_cast<std::uint32_t>(k.written));  // nothing written
    }
  }
}

TEST_CASE("process slot: the exit fields become a CommandResult, and impossible ones a GuestProtocolError", "[vm][process]") {
  using E = CommandResult::End;
  struct Case {
    std::string what;
    std::uint32_t kind, code, err, stage;
    std::optional<E> end;  // nothing: refused
    int result_code = 0, result_errno = 0, result_stage = 0, status = 0;
  };
  const std::vector<Case> cases = {
      {"exited 0", p::exit_kind_exited, 0, 0, 0, E::exited, 0, 0, 0, 0},
      {"exited 255", p::exit_kind_exited, 255, 0, 0, E::exited, 255, 0, 0, 255},
      {"killed by SIGKILL", p::exit_kind_signaled, SIGKILL, 0, 0, E::signaled, SIGKILL, 0, 0, 128 + SIGKILL},
      {"not found", p::exit_kind_not_started, 127, ENOENT, 0, E::not_started, 0, ENOENT, 0, 127},
      {"setuid refused", p::exit_kind_not_started, 127, EPERM, p::exec_stage_setuid, E::not_started, 0, EPERM, p::exec_stage_setuid, 126},
      {"the last errno", p::exit_kind_not_started, 0, 4095, 0, E::not_started, 0, 4095, 0, 126},
      {"a kind past the last", p::exit_kind_not_started + 1, 0, 0, 0, std::nullopt},
      {"a huge kind", 0xffffffff, 0, 0, 0, std::nullopt},
      {"an exit status past 255", p::exit_kind_exited, 256, 0, 0, std::nullopt},
      {"an errno past 4095", p::exit_kind_not_started, 0, 4096, 0, std::nullopt},
      {"a stage past the last", p::exit_kind_not_started, 127, EPERM, p::exec_stage_user_namespace + 1, std::nullopt},
      {"a huge stage", p::exit_kind_not_started, 127, EPERM, 0xffffffff, std::nullopt},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    s.put(cfg::proc_exit_kind, k.kind);
    s.put(cfg::proc_exit_code, k.code);
    s.put(cfg::proc_exec_errno, k.err);
    s.put(cfg::proc_exec_stage, k.stage);
    s.put(cfg::proc_state, p::process_ended);
    CHECK(s.host.ended());
    CHECK(s.host.done());
    if (!k.end) {
      CHECK_THROWS_WITH(s.host.result(), Catch::Contains("impossible command end"));
      continue;
    }
    const CommandResult r = s.host.result();
    CHECK(r.end == *k.end);
    CHECK(r.code == k.result_code);
    CHECK(r.exec_errno == k.result_errno);
    CHECK(r.exec_stage == k.result_stage);
    CHECK(r.status() == k.status);
  }
}

TEST_CASE("process slot: a process killed by a signal Linux does not have is an impossible end", "[vm][process]") {
  // Linux's signals are 1-64 (a wait status holds the number in 7 bits, and 0x7f means stopped,
  // which init does not ask for): a signaled end with 0 or past 64 cannot come from a real init.
  // result() refuses them, as any impossible end.
  for (std::uint32_t code : {0u, 65u, 127u, 255u}) {
    INFO("signal " << code);
    Slot s;
    s.host.reset({});
    s.put(cfg::proc_exit_kind, p::exit_kind_signaled);
    s.put(cfg::proc_exit_code, code);
    s.put(cfg::proc_state, p::process_ended);
    CHECK_THROWS_AS(s.host.result(), GuestProtocolError);
  }
}

TEST_CASE("process slot: ended() once the guest says so, done() once its output is taken too", "[vm][process]") {
  struct Case {
    std::string what;
    std::uint32_t state;
    std::string out, err;  // waiting in the rings
    bool ended, done;
  };
  const std::vector<Case> cases = {
      {"free", p::process_free, "", "", false, false},
      {"running", p::process_running, "", "", false, false},
      {"running with output", p::process_running, "x", "", false, false},
      {"ended, stdout waiting", p::process_ended, "tail", "", true, false},
      {"ended, stderr waiting", p::process_ended, "", "e", true, false},
      {"ended, all taken", p::process_ended, "", "", true, true},
      {"a state the protocol does not have: not ended", 7, "", "", false, false},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    s.write(Stream::out, k.out);
    s.write(Stream::err, k.err);
    s.put(cfg::proc_state, k.state);
    CHECK(s.host.ended() == k.ended);
    CHECK(s.host.done() == k.done);
    s.drain(Stream::out);
    s.drain(Stream::err);
    CHECK(s.host.done() == k.ended);
  }
}

TEST_CASE("process slot: signals go one at a time: one sent before the guest took the last waits, the same one merges", "[vm][process]") {
  enum Op { send, ack, flush };
  struct Step {
    Op op;
    int signo;              // for send
    std::uint32_t signal;   // then proc_signal,
    std::uint32_t seq;      // proc_signal_seq,
    bool delivered;         // signals_delivered()
    bool waits = false;     // for flush: a signal still waits after it (flush() returns false)
  };
  struct Case {
    std::string what;
    std::vector<Step> steps;
  };
  const std::vector<Case> cases = {
      {"one signal, sent at once", {{send, SIGINT, SIGINT, 1, false}, {ack, 0, SIGINT, 1, true}}},
      {"two before the ack: the second waits until the guest took the first",
       {{send, SIGTERM, SIGTERM, 1, false}, {send, SIGHUP, SIGTERM, 1, false}, {flush, 0, SIGTERM, 1, false, true},
        {ack, 0, SIGTERM, 1, false}, {flush, 0, SIGHUP, 2, false}, {ack, 0, SIGHUP, 2, true}, {flush, 0, SIGHUP, 2, true}}},
      {"the same signal twice while waiting: sent once",
       {{send, SIGTERM, SIGTERM, 1, false}, {send, SIGINT, SIGTERM, 1, false}, {send, SIGINT, SIGTERM, 1, false},
        {ack, 0, SIGTERM, 1, false}, {flush, 0, SIGINT, 2, false}, {ack, 0, SIGINT, 2, true}, {flush, 0, SIGINT, 2, true}}},
      {"the same signal after the guest took it: sent again",
       {{send, SIGINT, SIGINT, 1, false}, {ack, 0, SIGINT, 1, true}, {send, SIGINT, SIGINT, 2, false}, {ack, 0, SIGINT, 2, true}}},
      {"several waiting go lowest number first, as Linux delivers pending signals",
       {{send, SIGKILL, SIGKILL, 1, false}, {send, SIGTERM, SIGKILL, 1, false}, {send, SIGINT, SIGKILL, 1, false},
        {send, SIGUSR1, SIGKILL, 1, false}, {ack, 0, SIGKILL, 1, false}, {flush, 0, SIGINT, 2, false, true}, {ack, 0, SIGINT, 2, false},
        {flush, 0, SIGUSR1, 3, false, true}, {ack, 0, SIGUSR1, 3, false}, {flush, 0, SIGTERM, 4, false}, {ack, 0, SIGTERM, 4, true}}},
      {"the real-time signals at both ends", {{send, 64, 64, 1, false}, {send, 1, 64, 1, false}, {ack, 0, 64, 1, false},
                                              {flush, 0, 1, 2, false}, {ack, 0, 1, 2, true}}},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    CHECK(s.host.signals_delivered());
    for (std::size_t i = 0; i < k.steps.size(); ++i) {
      INFO("step " << i);
      const Step& t = k.steps[i];
      switch (t.op) {
        case send: s.host.signal(t.signo); break;
        case ack: s.put(cfg::proc_signal_ack, s.get(cfg::proc_signal_seq)); break;  // as pump() does
        case flush: CHECK(s.host.flush() == !t.waits); break;
      }
      CHECK(s.get(cfg::proc_signal) == t.signal);
      CHECK(s.get(cfg::proc_signal_seq) == t.seq);
      CHECK(s.host.signals_delivered() == t.delivered);
    }
  }
  // numbers that are no signal: refused, nothing sent
  Slot s;
  s.host.reset({});
  for (int signo : {0, -1, 65, 1000}) {
    INFO(signo);
    CHECK_THROWS_AS(s.host.signal(signo), ConfigError);
    CHECK(s.get(cfg::proc_signal_seq) == 0);
    CHECK(s.host.signals_delivered());
  }
}

TEST_CASE("process slot: a signal for the process alone carries signal_to_process_only, the group's go first", "[vm][process]") {
  struct Step {
    int signo;
    SignalTarget to;
    std::uint32_t signal;  // proc_signal once the guest has taken every earlier one
  };
  struct Case {
    std::string what;
    std::vector<Step> steps;
  };
  const std::uint32_t alone = p::signal_to_process_only;
  const std::vector<Case> cases = {
      {"to the group: the number alone", {{SIGTERM, SignalTarget::group, SIGTERM}}},
      {"to the process: the number and the bit", {{SIGTERM, SignalTarget::process, SIGTERM | alone}}},
      {"the highest signal to the process", {{64, SignalTarget::process, 64 | alone}}},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    Slot s;
    s.host.reset({});
    for (const Step& t : k.steps) {
      s.host.signal(t.signo, t.to);
      CHECK(s.get(cfg::proc_signal) == t.signal);
      s.put(cfg::proc_signal_ack, s.get(cfg::proc_signal_seq));
      CHECK(s.host.signals_delivered());
    }
  }
  // Waiting at once: the same number to both targets is two signals, the group's first.
  Slot s;
  s.host.reset({});
  s.host.signal(SIGHUP, SignalTarget::group);  // sent at once
  s.host.signal(SIGUSR1, SignalTarget::process);
  s.host.signal(SIGUSR1, SignalTarget::group);
  const std::vector<std::uint32_t> want = {SIGHUP, SIGUSR1, SIGUSR1 | alone};
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("signal " << i);
    s.host.flush();
    CHECK(s.get(cfg::proc_signal) == want[i]);
    CHECK(s.get(cfg::proc_signal_seq) == i + 1);
    s.put(cfg::proc_signal_ack, s.get(cfg::proc_signal_seq));
  }
  CHECK(s.host.flush());
  CHECK(s.host.signals_delivered());
}

TEST_CASE("process slot: resize() tells the guest a new terminal size only when it changes", "[vm][process]") {
  struct Step {
    TerminalSize size;
    std::uint32_t seq;  // proc_winsize_seq after
  };
  const std::vector<Step> steps = {
      {{24, 80}, 0},   // the size of the reset: no change
      {{30, 100}, 1},  // changed
      {{30, 100}, 1},  // the same again
      {{30, 101}, 2},  // one column
      {{31, 101}, 3},  // one row
      {{24, 80}, 4},   // back to the first: a change too
      {{65535, 1}, 5},
  };
  Slot s;
  s.host.reset({24, 80});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    INFO("step " << i);
    s.host.resize(steps[i].size);
    CHECK(s.get(cfg::proc_winsize_seq) == steps[i].seq);
    CHECK(s.get(cfg::proc_rows) == steps[i].size.rows);
    CHECK(s.get(cfg::proc_cols) == steps[i].size.cols);
  }
  s.host.reset({50, 132});  // a new process: its own size, the count from 0
  CHECK(s.get(cfg::proc_winsize_seq) == 0);
  CHECK(s.get(cfg::proc_rows) == 50);
  s.host.resize({50, 132});
  CHECK(s.get(cfg::proc_winsize_seq) == 0);
}
