// SPDX-License-Identifier: Apache-2.0
// tests/vm/channel_test.cpp — the host's side of the init protocol (channel.hpp) against a guest
// played by the test: the two regions are plain memory here, and a "guest" thread writes what an
// init — well-behaved, confused or hostile — would. No VM: what is tested is that the host
// accepts exactly what the protocol allows and gives a typed error, never a wrong answer or a
// hang, for the rest.
#include <catch2/catch.hpp>
#include <crumble/vm/protocol/channel.hpp>

#include <atomic>
#include <cstring>
#include <functional>
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

  void put32(std::vector<std::uint8_t>& r, std::uint32_t at, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(r.data() + at)).store(v, std::memory_order_release);
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
