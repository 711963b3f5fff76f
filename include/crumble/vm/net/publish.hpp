// SPDX-License-Identifier: Apache-2.0
// crumble/vm/net/publish.hpp — a host port forwarded into the guest (`-p/--publish`, as docker's):
// the spec's grammar, its validation, and the check that the host port is free, so a bad spec or
// a port in use is a ConfigError naming it before any VM starts.
//
//   [IP:]HOSTPORT:GUESTPORT[/tcp|/udp]
//
// IP is an IPv4 address of this host (QEMU 7.2's user-mode network forwards IPv4 only). Without
// one the port is published on every interface (0.0.0.0), as docker does; give 127.0.0.1 to keep
// it to this machine. Ports are 1 to 65535; the protocol defaults to tcp.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../errors.hpp"

namespace crumble::vm {

enum class PortProtocol { tcp, udp };

struct PublishedPort {
  std::string host_ip;  // dotted IPv4; empty: every interface (0.0.0.0)
  std::uint16_t host_port = 0;
  std::uint16_t guest_port = 0;
  PortProtocol protocol = PortProtocol::tcp;

  const char* protocol_name() const { return protocol == PortProtocol::udp ? "udp" : "tcp"; }
  // As the user would write it, always with the protocol: "127.0.0.1:8080:80/tcp".
  std::string spec() const {
    return (host_ip.empty() ? "" : host_ip + ":") + std::to_string(host_port) + ":" + std::to_string(guest_port) + "/" + protocol_name();
  }
  // QEMU's -netdev user hostfwd= rule to `guest_address` (dotted): "tcp:127.0.0.1:8080-10.0.2.15:80".
  // No comma can appear in it: the address must be dotted IPv4 (a PublishedPort made by hand with
  // anything else is refused, so no text reaches QEMU's option syntax), the ports 1-65535.
  std::string hostfwd(const std::string& guest_address) const {
    in_addr ignored{};
    if (!host_ip.empty() && ::inet_pton(AF_INET, host_ip.c_str(), &ignored) != 1)
      throw ConfigError("cannot publish a port on \"" + host_ip + "\": not a dotted IPv4 address");
    if (host_port == 0 || guest_port == 0) throw ConfigError("cannot publish port 0 (-p " + spec() + ")");
    return std::string(protocol_name()) + ":" + host_ip + ":" + std::to_string(host_port) + "-" + guest_address + ":" +
           std::to_string(guest_port);
  }
  bool operator==(const PublishedPort&) const = default;
};

namespace detail {

// A port number, 1 to 65535, all digits; `what` names it in the message.
inline std::uint16_t port_number(std::string_view s, std::string_view spec, const char* what) {
  const std::string quoted = "\"" + std::string(spec) + "\"";
  if (s.empty()) throw ConfigError("invalid port spec " + quoted + ": the " + what + " is missing");
  unsigned long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      throw ConfigError("invalid port spec " + quoted + ": the " + what + " \"" + std::string(s) + "\" is not a number");
    v = v * 10 + static_cast<unsigned long>(c - '0');
    if (v > 65535) break;
  }
  if (v < 1 || v > 65535)
    throw ConfigError("invalid port spec " + quoted + ": the " + what + " " + std::string(s) + " is not a port (1 to 65535)");
  return static_cast<std::uint16_t>(v);
}

}  // namespace detail

// Parses one -p value; a ConfigError that quotes the spec and says what is wrong with it.
inline PublishedPort parse_publish(std::string_view spec) {
  const std::string quoted = "\"" + std::string(spec) + "\"";
  const char* form = " (the form is [IP:]HOSTPORT:GUESTPORT[/tcp|/udp])";
  PublishedPort p;
  std::string_view rest = spec;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view proto = rest.substr(slash + 1);
    if (proto == "tcp") p.protocol = PortProtocol::tcp;
    else if (proto == "udp") p.protocol = PortProtocol::udp;
    else throw ConfigError("invalid port spec " + quoted + ": the protocol \"" + std::string(proto) + "\" is not tcp or udp");
    rest = rest.substr(0, slash);
  }
  std::vector<std::string_view> parts;
  for (std::size_t at = 0;;) {
    const std::size_t colon = rest.find(':', at);
    parts.push_back(rest.substr(at, colon == std::string_view::npos ? std::string_view::npos : colon - at));
    if (colon == std::string_view::npos) break;
    at = colon + 1;
  }
  if (parts.size() == 1)
    throw ConfigError("invalid port spec " + quoted + ": give the host port and the guest port, HOSTPORT:GUESTPORT" + form);
  if (parts.size() > 3) throw ConfigError("invalid port spec " + quoted + ": too many ':'" + form);
  if (parts.size() == 3) {
    const std::string ip(parts[0]);
    in_addr a{};
    if (ip.empty() || ::inet_pton(AF_INET, ip.c_str(), &a) != 1)
      throw ConfigError("invalid port spec " + quoted + ": \"" + ip + "\" is not an IPv4 address" + form);
    char canonical[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a, canonical, sizeof canonical);
    p.host_ip = canonical;
  }
  p.host_port = detail::port_number(parts[parts.size() - 2], spec, "host port");
  p.guest_port = detail::port_number(parts.back(), spec, "guest port");
  return p;
}

// Whether the host port can be taken now: binds it (as QEMU will, with SO_REUSEADDR for TCP) and
// lets it go. A ConfigError naming the port when it is in use, the address is not this host's, or
// binding it is not allowed. (Another process may still take it before QEMU does; QEMU then fails
// to start and says so.)
inline void check_host_port(const PublishedPort& p) {
  const int s = ::socket(AF_INET, (p.protocol == PortProtocol::udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (s < 0) throw ConfigError(std::string("cannot check the host port ") + std::to_string(p.host_port) + ": socket: " + std::strerror(errno));
  const int one = 1;
  if (p.protocol == PortProtocol::tcp) ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(p.host_port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!p.host_ip.empty() && ::inet_pton(AF_INET, p.host_ip.c_str(), &a.sin_addr) != 1) {
    ::close(s);
    throw ConfigError("cannot publish a port on \"" + p.host_ip + "\": not a dotted IPv4 address");
  }
  if (p.host_port == 0 || p.guest_port == 0) {
    ::close(s);
    throw ConfigError("cannot publish port 0 (-p " + p.spec() + ")");
  }
  const int r = ::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  const int e = errno;
  ::close(s);
  if (r == 0) return;
  const std::string port = "port " + std::to_string(p.host_port) + (p.protocol == PortProtocol::udp ? "/udp" : "");
  const std::string where = p.host_ip.empty() ? "" : " on " + p.host_ip;
  if (e == EADDRINUSE) throw ConfigError("host " + port + " is already in use (-p " + p.spec() + ")");
  if (e == EADDRNOTAVAIL) throw ConfigError("cannot publish -p " + p.spec() + ": " + p.host_ip + " is not an address of this host");
  if (e == EACCES) throw ConfigError("cannot publish -p " + p.spec() + ": binding host " + port + " is not allowed (ports below 1024 need privileges)");
  throw ConfigError("cannot publish -p " + p.spec() + ": binding host " + port + where + ": " + std::strerror(e));
}

// Every published port: no host port twice (one protocol, overlapping addresses), each free now.
inline void check_published_ports(const std::vector<PublishedPort>& ports) {
  for (std::size_t i = 0; i < ports.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const PublishedPort& a = ports[i];
      const PublishedPort& b = ports[j];
      const auto any = [](const std::string& ip) { return ip.empty() || ip == "0.0.0.0"; };
      if (a.host_port == b.host_port && a.protocol == b.protocol && (a.host_ip == b.host_ip || any(a.host_ip) || any(b.host_ip)))
        throw ConfigError("host port " + std::to_string(a.host_port) + " is published twice (-p " + b.spec() + " and -p " + a.spec() + ")");
    }
  for (const PublishedPort& p : ports) check_host_port(p);
}

}  // namespace crumble::vm
