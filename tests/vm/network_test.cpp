// SPDX-License-Identifier: Apache-2.0
// tests/vm/network_test.cpp — the guest's network (SessionConfig::network, --net) and published
// ports (-p, parse_publish), against the real guest kernel and QEMU's user-mode network.
//
// The oracles: the host's own sockets (a port really taken by this process, an HTTP request
// through the published port read back byte for byte, a TCP server on the host's loopback that
// the guest reaches through its gateway 10.0.2.2), busybox in the guest (nc over the loopback, ip,
// httpd) and the guest kernel's view (`ip addr`, `ip route`). Only addresses on this machine are
// used: 127.0.0.1 and the guest's own user-mode network.
//
// Two ctests: vm.network_publish ([publish]: the spec's grammar and the port check, no VM) and
// vm.network ([guest]: VMs, sharing one network VM and its snapshot; skipped, exit 4, without the
// cached kernel or QEMU).
#include <catch2/catch.hpp>
#include <crumble/vm/session.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "guest_skip.hpp"

using namespace crumble::vm;
namespace fs = std::filesystem;

namespace {

using ms = std::chrono::duration<double, std::milli>;

// A socket this process holds on 127.0.0.1 (listening, for TCP), on a port the kernel chose.
struct HeldPort {
  int fd = -1;
  std::uint16_t port = 0;
  explicit HeldPort(int type = SOCK_STREAM) {
    fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    if (type == SOCK_STREAM) REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~HeldPort() { ::close(fd); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
};

// A port that is free now: the kernel's choice, let go.
std::uint16_t free_port() { return HeldPort().port; }

// GET path over HTTP/1.0 from 127.0.0.1:port; the body, or nullopt when nothing answered (slirp
// takes the connection on the host before the guest's server is there, then closes it).
std::optional<std::string> http_get(std::uint16_t port, const std::string& path) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::nullopt;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(s, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      const auto until = Clock::now() + std::chrono::seconds(10);
      char buf[4096];
      while (Clock::now() < until) {
        pollfd p{s, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        const ssize_t n = ::read(s, buf, sizeof buf);
        if (n <= 0) break;
        reply.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(s);
  const auto head_end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return std::nullopt;
  return reply.substr(head_end + 4);
}

// http_get, tried until it answers or 20 s have passed.
std::optional<std::string> http_get_retrying(std::uint16_t port, const std::string& path) {
  const auto until = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < until) {
    if (auto body = http_get(port, path)) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

// A guest command that serves `body` as /index.html with busybox httpd on port 80, unless one
// already runs (httpd binds, then daemonizes, so the port is open when the command ends).
std::vector<std::string> serve(const std::string& body) {
  return {"sh", "-c",
          "mkdir -p /www && printf '%s' '" + body + "' > /www/index.html && { pidof httpd > /dev/null || httpd -p 80 -h /www; } && echo serving"};
}

// A one-connection TCP server on the host's loopback that answers `token`: the guest reaches it
// through its gateway (slirp maps 10.0.2.2 to the host's 127.0.0.1).
struct HostServer {
  HeldPort listener;
  std::thread t;
  explicit HostServer(std::string token) {
    t = std::thread([this, token] {
      pollfd p{listener.fd, POLLIN, 0};
      if (::poll(&p, 1, 60000) <= 0) return;
      const int c = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      [[maybe_unused]] ssize_t n = ::write(c, token.data(), token.size());
      ::close(c);
    });
  }
  ~HostServer() {
    ::shutdown(listener.fd, SHUT_RDWR);
    t.join();
  }
};

// What the [guest] cases share: the skip check, a snapshot directory, and one VM with the network
// (booted cold, which saves the snapshot the other network VMs restore).
struct World {
  TempDir dir{"crumble-net-test-"};
  std::uint16_t port_a = 0;
  std::unique_ptr<Session> net;
  World() {
    crumble::test::guest_kernel_or_skip();
    port_a = free_port();
    net = std::make_unique<Session>(net_config({"127.0.0.1:" + std::to_string(port_a) + ":80"}));
  }
  SessionConfig net_config(const std::vector<std::string>& publish) const {
    SessionConfig c;
    c.engine = Engine::qemu;
    c.network = true;
    c.snapshot_dir = dir.path() / "snapshots";
    for (const std::string& p : publish) c.publish.push_back(parse_publish(p));
    return c;
  }
};
World& world() {
  static World w;
  return w;
}

std::string run_ok(Session& vm, const std::vector<std::string>& argv) {
  const CommandResult r = vm.run(argv);
  INFO(argv.back() << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.status() == 0);
  return r.out;
}

}  // namespace

// ---- [publish]: no VM ------------------------------------------------------------------------

TEST_CASE("publish: the valid forms, as docker's -p", "[publish]") {
  struct Case {
    const char* spec;
    const char* ip;
    std::uint16_t host, guest;
    PortProtocol proto;
    const char* hostfwd;
  };
  const Case cases[] = {
      {"8080:80", "", 8080, 80, PortProtocol::tcp, "tcp::8080-10.0.2.15:80"},
      {"127.0.0.1:8080:80", "127.0.0.1", 8080, 80, PortProtocol::tcp, "tcp:127.0.0.1:8080-10.0.2.15:80"},
      {"127.0.0.1:5353:53/udp", "127.0.0.1", 5353, 53, PortProtocol::udp, "udp:127.0.0.1:5353-10.0.2.15:53"},
      {"1:65535/tcp", "", 1, 65535, PortProtocol::tcp, "tcp::1-10.0.2.15:65535"},
      {"0.0.0.0:08080:0080", "0.0.0.0", 8080, 80, PortProtocol::tcp, "tcp:0.0.0.0:8080-10.0.2.15:80"},
  };
  for (const Case& c : cases) {
    INFO(c.spec);
    const PublishedPort p = parse_publish(c.spec);
    CHECK(p.host_ip == c.ip);
    CHECK(p.host_port == c.host);
    CHECK(p.guest_port == c.guest);
    CHECK(p.protocol == c.proto);
    CHECK(p.hostfwd("10.0.2.15") == c.hostfwd);
    CHECK(parse_publish(p.spec()) == p);  // spec() reads back
  }
}

TEST_CASE("publish: an invalid spec is a ConfigError that quotes it and says what is wrong", "[publish]") {
  struct Case {
    const char* spec;
    const char* says;
  };
  const Case cases[] = {
      {"abc", "give the host port and the guest port"},
      {"8080", "give the host port and the guest port"},
      {"", "give the host port and the guest port"},
      {"70000:80", "the host port 70000 is not a port (1 to 65535)"},
      {"8080:70000", "the guest port 70000 is not a port"},
      {"0:80", "the host port 0 is not a port"},
      {"8080:0", "the guest port 0 is not a port"},
      {"99999999999999999999:80", "is not a port"},
      {"1:2:3:4", "too many ':'"},
      {"8080:80/sctp", "the protocol \"sctp\" is not tcp or udp"},
      {"8080:80/", "the protocol \"\" is not tcp or udp"},
      {"8080:80/tcp/udp", "is not tcp or udp"},
      {"abc:80", "the host port \"abc\" is not a number"},
      {"8080:-80", "the guest port \"-80\" is not a number"},
      {":80", "the host port is missing"},
      {"8080:", "the guest port is missing"},
      {"localhost:8080:80", "\"localhost\" is not an IPv4 address"},
      {"300.1.1.1:8080:80", "\"300.1.1.1\" is not an IPv4 address"},
      {"[::1]:8080:80", "too many ':'"},
      {":8080:80", "\"\" is not an IPv4 address"},
      {"1.2.3.4,hostfwd=tcp:8080:80", "\"1.2.3.4,hostfwd=tcp\" is not an IPv4 address"},  // nothing reaches QEMU's options
  };
  for (const Case& c : cases) {
    INFO(c.spec);
    try {
      parse_publish(c.spec);
      FAIL("accepted");
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find(std::string("\"") + c.spec + "\"") != std::string::npos);
      CHECK(what.find(c.says) != std::string::npos);
    }
  }
}

TEST_CASE("publish: a host port in use is named, a free one passes, none twice", "[publish]") {
  HeldPort tcp;
  const std::string in_use = "host port " + std::to_string(tcp.port) + " is already in use";
  for (const std::string& spec : {"127.0.0.1:" + std::to_string(tcp.port) + ":80", std::to_string(tcp.port) + ":80"}) {
    INFO(spec);
    CHECK_THROWS_WITH(check_host_port(parse_publish(spec)), Catch::Contains(in_use));
  }
  HeldPort udp(SOCK_DGRAM);
  CHECK_THROWS_WITH(check_host_port(parse_publish("127.0.0.1:" + std::to_string(udp.port) + ":53/udp")),
                    Catch::Contains("host port " + std::to_string(udp.port) + "/udp is already in use"));
  // the same number over the other protocol is another port
  CHECK_NOTHROW(check_host_port(parse_publish("127.0.0.1:" + std::to_string(tcp.port) + ":53/udp")));
  const std::uint16_t free = free_port();
  CHECK_NOTHROW(check_published_ports({parse_publish("127.0.0.1:" + std::to_string(free) + ":80")}));
  CHECK_THROWS_WITH(check_published_ports({parse_publish("127.0.0.1:" + std::to_string(free) + ":80"),
                                           parse_publish(std::to_string(free) + ":81")}),
                    Catch::Contains("host port " + std::to_string(free) + " is published twice"));
  CHECK_THROWS_WITH(check_host_port(parse_publish("192.0.2.1:" + std::to_string(free) + ":80")),
                    Catch::Contains("192.0.2.1 is not an address of this host"));  // TEST-NET-1: bound, never reached
}

// ---- [guest]: VMs ---------------------------------------------------------------------------

TEST_CASE("without the network the guest's loopback carries a TCP connection, and there is no eth0", "[guest]") {
  // with the network VM's snapshot directory: the key holds the network, so this boots cold
  World& w = world();
  SessionConfig c = w.net_config({});
  c.network = false;
  Session vm(c);
  INFO(vm.snapshot_note());
  CHECK_FALSE(vm.restored());
  CHECK(run_ok(vm, {"sh", "-c",
                    "nc -l -p 7000 127.0.0.1 > /tmp/got & sleep 0.3; echo ping-over-lo | nc 127.0.0.1 7000; wait; cat /tmp/got"}) ==
        "ping-over-lo\n");
  const CommandResult eth0 = vm.run({"ip", "addr", "show", "eth0"});
  CHECK(eth0.status() != 0);
  CHECK(eth0.err.find("eth0") != std::string::npos);
  CHECK(run_ok(vm, {"sh", "-c", "ls /sys/class/net"}) == "lo\n");
}

TEST_CASE("with the network: eth0 is 10.0.2.15/24, the route goes via 10.0.2.2, resolv.conf names 10.0.2.3", "[guest]") {
  Session& vm = *world().net;
  const std::string addr = run_ok(vm, {"ip", "-4", "addr", "show", "eth0"});
  CHECK(addr.find("inet 10.0.2.15/24 ") != std::string::npos);
  CHECK(addr.find(",UP") != std::string::npos);
  const std::string route = run_ok(vm, {"ip", "route"});
  CHECK(route.find("default via 10.0.2.2 dev eth0") != std::string::npos);
  CHECK(run_ok(vm, {"cat", "/etc/resolv.conf"}) == "nameserver 10.0.2.3\n");
  // the loopback too
  CHECK(run_ok(vm, {"sh", "-c", "ip -4 addr show lo | grep -o 'inet [0-9./]*'"}) == "inet 127.0.0.1/8\n");
}

TEST_CASE("with the network the guest reaches a server on the host's loopback through its gateway", "[guest]") {
  Session& vm = *world().net;
  HostServer host("token-from-the-host");
  CHECK(run_ok(vm, {"sh", "-c", "nc 10.0.2.2 " + std::to_string(host.listener.port) + " < /dev/null"}) == "token-from-the-host");
}

TEST_CASE("a guest HTTP server is reached from the host through -p 127.0.0.1:PORT:80", "[guest]") {
  World& w = world();
  CHECK(run_ok(*w.net, serve("body of VM A")) == "serving\n");
  CHECK(http_get_retrying(w.port_a, "/index.html") == std::optional<std::string>("body of VM A"));
}

TEST_CASE("a second VM restores the network snapshot with other ports, and both serve at once", "[guest]") {
  World& w = world();
  CHECK(run_ok(*w.net, serve("body of VM A")) == "serving\n");
  const std::uint16_t port_b = free_port();
  Session b(w.net_config({"127.0.0.1:" + std::to_string(port_b) + ":80"}));
  INFO(b.snapshot_note());
  CHECK(b.restored());  // the key holds the network, not the ports
  CHECK(run_ok(b, serve("body of VM B")) == "serving\n");
  CHECK(http_get_retrying(port_b, "/index.html") == std::optional<std::string>("body of VM B"));
  CHECK(http_get_retrying(w.port_a, "/index.html") == std::optional<std::string>("body of VM A"));
  // restored, its network is configured and works both ways
  CHECK(run_ok(b, {"cat", "/etc/resolv.conf"}) == "nameserver 10.0.2.3\n");
  HostServer host("token-to-the-restored-VM");
  CHECK(run_ok(b, {"sh", "-c", "nc 10.0.2.2 " + std::to_string(host.listener.port) + " < /dev/null"}) == "token-to-the-restored-VM");
}

TEST_CASE("a published host port in use is a ConfigError naming it, before any boot", "[guest]") {
  World& w = world();
  HeldPort taken;
  const auto t0 = Clock::now();
  try {
    Session vm(w.net_config({"127.0.0.1:" + std::to_string(taken.port) + ":80"}));
    FAIL("started");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("host port " + std::to_string(taken.port) + " is already in use"));
  }
  CHECK(ms(Clock::now() - t0).count() < 2000);  // no VM started (a cold boot takes longer here)
}

TEST_CASE("the in-process KVM engine refuses the network", "[guest]") {
  crumble::test::guest_kernel_or_skip();
  if (::access("/dev/kvm", R_OK | W_OK) != 0) {
    std::cout << "SKIPPED (this case): no /dev/kvm\n";
    return;
  }
  SessionConfig c;
  c.engine = Engine::kvm;
  c.network = true;
  c.snapshot = SnapshotMode::off;
  try {
    Session vm(c);
    FAIL("started");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("the network (--net, -p) needs the QEMU engine"));
  }
}

TEST_CASE("a container VM with the network: eth0 bound and up, resolv.conf inside the container's root", "[guest]") {
  crumble::test::guest_kernel_or_skip();
  World& w = world();
  const fs::path rootfs = w.dir.path() / "rootfs";
  for (const fs::path& root : {rootfs, rootfs / "ctr"}) {
    fs::create_directories(root / "bin");
    fs::copy_file("/bin/busybox", root / "bin/busybox", fs::copy_options::overwrite_existing);
    for (const char* applet : {"sh", "cat", "ip", "nc", "ls"}) {
      std::error_code ec;
      fs::create_symlink("busybox", root / "bin" / applet, ec);
    }
  }
  fs::create_directories(rootfs / "ctr/etc");
  std::ofstream(rootfs / "ctr/etc/resolv.conf") << "nameserver 192.0.2.53\n";  // the image's own, replaced
  SessionConfig c = w.net_config({});
  c.rootfs = rootfs;
  c.container_devices = true;
  c.snapshot = SnapshotMode::off;
  Session vm(c);
  ContainerRequest q;
  q.root_kind = ContainerRequest::RootKind::dir;
  q.root_source = "/ctr";
  vm.setup_container(q);
  CHECK(run_ok(vm, {"cat", "/etc/resolv.conf"}) == "nameserver 10.0.2.3\n");
  CHECK(run_ok(vm, {"ip", "-4", "addr", "show", "eth0"}).find("inet 10.0.2.15/24 ") != std::string::npos);
  HostServer host("token-into-the-container");
  CHECK(run_ok(vm, {"sh", "-c", "nc 10.0.2.2 " + std::to_string(host.listener.port) + " < /dev/null"}) == "token-into-the-container");
}
