// SPDX-License-Identifier: Apache-2.0
// tools/crumble-runtime/sockets.hpp — the unix sockets of crumble-runtime: messages with file
// descriptors (SCM_RIGHTS) between `exec` and a container's monitor, and runc's console-socket
// handshake (the caller's socket receives the pty's master).
//
// A socket's path may be longer than sun_path's 108 bytes (podman's runtime root under its
// runroot, then a 64-character container id): the path is reached through the directory's
// /proc/self/fd/N link instead, which is short. Messages between `exec` and the monitor go over
// SOCK_SEQPACKET, so each send is one message and a closed peer reads as end (0 bytes).
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crumble::runtime {

// An fd closed when this goes.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

namespace socket_detail {
// The address of `path`: as it is when it fits, else through its directory (opened into `dir`,
// which must live while the address is used).
inline sockaddr_un address(const std::filesystem::path& path, Fd& dir) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string p = path.string();
  if (p.size() >= sizeof a.sun_path) {
    dir.reset(::open(path.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw std::runtime_error("cannot open " + path.parent_path().string() + ": " + std::strerror(errno));
    p = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + path.filename().string();
    if (p.size() >= sizeof a.sun_path) throw std::runtime_error("socket name too long: " + path.string());
  }
  std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
  return a;
}
}  // namespace socket_detail

// A listening SOCK_SEQPACKET socket at `path` (replacing a stale one), non-blocking, mode 0600.
inline Fd listen_at(const std::filesystem::path& path) {
  Fd dir;
  const sockaddr_un a = socket_detail::address(path, dir);
  Fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::chmod(path.c_str(), 0600) != 0 ||
      ::listen(s.get(), 16) != 0)
    throw std::runtime_error("cannot listen on " + path.string() + ": " + std::strerror(errno));
  return s;
}

// connect_to's failure, with its errno (ECONNREFUSED: nobody listens any more).
struct ConnectError : std::runtime_error {
  ConnectError(int e, const std::string& what) : std::runtime_error(what), code(e) {}
  int code;
};

// A connection to the socket at `path` (type SOCK_SEQPACKET, or SOCK_STREAM for a console socket).
inline Fd connect_to(const std::filesystem::path& path, int type = SOCK_SEQPACKET) {
  Fd dir;
  const sockaddr_un a = socket_detail::address(path, dir);
  Fd s(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!s) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int r;
  while ((r = ::connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a)) != 0 && errno == EINTR) {
  }
  if (r != 0) throw ConnectError(errno, "cannot connect to " + path.string() + ": " + std::strerror(errno));
  return s;
}

// Sends one message, with `fds` attached (SCM_RIGHTS).
inline void send_message(int sock, std::string_view bytes, const std::vector<int>& fds = {}) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    m.msg_control = control.data();
    m.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(bytes.size())) throw std::runtime_error(std::string("cannot send a message: ") + std::strerror(n < 0 ? errno : EIO));
}

// The largest exec request: the OCI process JSON (a Kubernetes pod's service-link environment
// runs to hundreds of KiB). The guest takes a command of up to 1 MiB too (layout.hpp's
// command_max), strings and header together.
inline constexpr std::size_t exec_message_max = std::size_t{1} << 20;

// Lets `sock` send one message of `bytes` (a SOCK_SEQPACKET message must fit its send buffer
// whole): SO_SNDBUFFORCE where we may (root), else SO_SNDBUF up to the system's wmem_max.
inline void room_to_send(int sock, std::size_t bytes) {
  const int want = static_cast<int>(bytes + 64 * 1024);
  if (::setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0) ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

// Sets a blocking socket's send and receive timeouts (0: none).
inline void socket_timeouts(int sock, std::chrono::seconds limit) {
  const timeval t{static_cast<time_t>(limit.count()), 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
  ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
}

// One message (at most `max` bytes) and the fds that came with it (close-on-exec, owned by the
// caller); false at the end (the peer closed), and with errno EAGAIN on a non-blocking socket
// or after a receive timeout.
inline bool receive_message(int sock, std::string& bytes, std::vector<Fd>* fds = nullptr, std::size_t max = std::size_t{64} << 10) {
  bytes.assign(max, '\0');
  iovec iov{bytes.data(), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  std::vector<Fd> got;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); n >= 0 && c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (std::size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        got.emplace_back(fd);  // owned: closed unless the caller keeps it
      }
  if (n <= 0) {
    const int e = n < 0 ? errno : 0;
    bytes.clear();
    errno = e;
    return false;
  }
  if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) throw std::runtime_error("a message was cut short (too long, or too many descriptors)");
  bytes.resize(static_cast<std::size_t>(n));
  if (fds) *fds = std::move(got);
  return true;
}

// runc's console socket: the pty's master goes to the caller's socket (a SOCK_STREAM unix socket
// it listens on), the message being the pty's name, as runc's utils.SendFd sends it. conmon and
// containerd's shim take the fd from it and relay it to the user's terminal.
inline void send_console(const std::filesystem::path& socket, int master, const std::string& name) {
  Fd s = connect_to(socket, SOCK_STREAM);
  send_message(s.get(), name, {master});
}

}  // namespace crumble::runtime
