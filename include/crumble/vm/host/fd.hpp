// SPDX-License-Identifier: Apache-2.0
// crumble/vm/host/fd.hpp — an owned file descriptor, closed on every way out, so the code that
// opens one can simply throw.
#pragma once

#include <unistd.h>

#include <utility>

namespace crumble::vm {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace crumble::vm
