// SPDX-License-Identifier: Apache-2.0
// crumble/vm/engine/qemu/qmp.hpp — a client for QEMU's machine protocol (QMP) on a Unix socket: one
// JSON command, one answer. The QEMU engine (machine.hpp) stops, resumes, saves and restores its
// guest through it; a reply is matched by text, as the engine needs only a few fixed answers.
#pragma once

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
  // answer throws VmError. Connects on first use.
  std::string execute(const std::string& command) {
    if (fd_ < 0) connect();
    const std::string line = command + "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) throw VmError("QMP write failed");
    while (true) {
      std::string reply = read_line();
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
    while (true) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        fd_ = fd;
        break;
      }
      ::close(fd);
      check_alive_();
      if (Clock::now() > until) throw VmError("cannot connect to QEMU's QMP socket " + socket_.string());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    read_line();  // the greeting
    execute("{\"execute\":\"qmp_capabilities\"}");
  }

  std::string read_line() {
    const auto until = Clock::now() + std::chrono::seconds(30);
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
        if (n <= 0) throw VmError("QEMU closed its QMP socket");
        buf_.append(chunk, static_cast<std::size_t>(n));
      }
      check_alive_();
      if (Clock::now() > until) throw GuestTimeout("QEMU did not answer on QMP within 30 s");
    }
  }

  std::filesystem::path socket_;
  std::function<void()> check_alive_;
  int fd_ = -1;
  std::string buf_;
};

}  // namespace crumble::vm
