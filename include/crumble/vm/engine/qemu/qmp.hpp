// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/qmp.hpp — a client for QEMU's machine protocol (QMP) on a Unix socket: one
// JSON command, one answer. The QEMU engine (machine.hpp) stops, resumes, saves and restores its
// guest through it; a reply is matched by text, as the engine needs only a few fixed answers.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "../../errors.hpp"

namespace crumble::vm {

class QmpClient {
 public:
  // `socket`: where QEMU listens (-qmp unix:PATH,server=on,wait=off). `check_alive` is called
  // while waiting and throws when QEMU has ended, so no wait outlives it.
  QmpClient(std::filesystem::path socket, std::function<void()> check_alive)
      : socket_(std::move(socket)), check_alive_(std::move(check_alive)) {}
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;
  ~QmpClient() { close(); }

  // One QMP command (a JSON line) and its answer (events in between are skipped); an error
  // answer throws VmError. Connects on first use. QEMU has 30 s to answer each command, however
  // many events it sends meanwhile.
  std::string execute(const std::string& command) { return execute_with_fd(command, -1); }

  // The same, handing QEMU the descriptor `fd` with the command (SCM_RIGHTS), as `getfd` wants.
  std::string execute_with_fd(const std::string& command, int fd) {
    if (fd_ < 0) connect();
    const auto until = Clock::now() + std::chrono::seconds(30);
    send(command + "\n", fd);
    while (true) {
      std::string reply = read_line(until);
      if (reply.find("\"event\"") != std::string::npos) continue;
      if (reply.find("\"error\"") != std::string::npos) throw VmError("QEMU refused " + command + ": " + reply);
      return reply;
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

  const std::filesystem::path& socket() const { return socket_; }

 private:
  using Clock = std::chrono::steady_clock;

  // QEMU creates the socket a moment after it starts: retried for up to 10 s, then the greeting
  // and the capabilities negotiation QMP asks for before any command.
  void connect() {
    const auto until = Clock::now() + std::chrono::seconds(10);
    // A socket path longer than sockaddr_un holds (a deep TMPDIR) is reached through its
    // directory's descriptor: /proc/self/fd/N/NAME is short whatever the directory's path.
    std::string path = socket_.string();
    struct Dir {
      int fd = -1;
      ~Dir() { if (fd >= 0) ::close(fd); }
    } dir;
    if (path.size() >= sizeof(sockaddr_un::sun_path)) {
      dir.fd = ::open(socket_.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (dir.fd < 0) throw VmError("cannot open " + socket_.parent_path().string() + ": " + std::strerror(errno));
      path = "/proc/self/fd/" + std::to_string(dir.fd) + "/" + socket_.filename().string();
      if (path.size() >= sizeof(sockaddr_un::sun_path)) throw VmError("QMP socket name too long: " + socket_.string());
    }
    while (true) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw VmError(std::string("cannot create a socket: ") + std::strerror(errno));
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        fd_ = fd;
        break;
      }
      ::close(fd);
      check_alive_();
      if (Clock::now() > until) throw VmError("cannot connect to QEMU's QMP socket " + socket_.string());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    read_line(Clock::now() + std::chrono::seconds(30));  // the greeting
    execute("{\"execute\":\"qmp_capabilities\"}");
  }

  void send(const std::string& line, int pass_fd) {
    iovec iov{const_cast<char*>(line.data()), line.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (pass_fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n;
    while ((n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n < 0) closed_by_qemu(std::string("QMP write failed: ") + std::strerror(errno));
    if (static_cast<std::size_t>(n) != line.size()) throw VmError("QMP write was cut short");  // a command is far below a socket buffer
  }

  // QEMU closed the socket: almost always because it is exiting (a failed incoming migration
  // ends QEMU). Its exit status and its own words explain that better than the closed socket,
  // so give check_alive a moment to see it gone and throw them.
  [[noreturn]] void closed_by_qemu(const std::string& what) {
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < until) {
      check_alive_();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    throw VmError(what + " (QEMU still runs)");
  }

  std::string read_line(Clock::time_point until) {
    while (true) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char chunk[4096];
        ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) closed_by_qemu(n == 0 ? "QEMU closed its QMP socket" : std::string("QMP read failed: ") + std::strerror(errno));
        buf_.append(chunk, static_cast<std::size_t>(n));
      }
      check_alive_();
      if (Clock::now() > until) throw GuestTimeout("QEMU did not answer a QMP command within 30 s");
    }
  }

  std::filesystem::path socket_;
  std::function<void()> check_alive_;
  int fd_ = -1;
  std::string buf_;
};

}  // namespace crumble::vm
