// SPDX-License-Identifier: Apache-2.0
// crumble/vm/errors.hpp — what can go wrong with a microVM, as types a caller can catch.
//
//   VmError            base: every failure of a VM, a kernel, a guest or the host side
//     ConfigError      the request itself is wrong (missing kernel, payload too large, ...): before boot
//     BootError        the guest did not reach its main loop (QEMU failed, kernel panic, init stopped)
//       InitFailed     init said which phase failed and why
//     GuestTimeout     the guest did not answer in time; the VM has been stopped
//     GuestProtocolError  the guest wrote something the host cannot accept (bounds, sequence)
//     SnapshotError    a snapshot cannot be written, read or used (damaged, another host, refused)
#pragma once

#include <stdexcept>
#include <string>

namespace crumble::vm {

struct VmError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ConfigError : VmError {
  using VmError::VmError;
};
struct BootError : VmError {
  using VmError::VmError;
};
struct InitFailed : BootError {
  InitFailed(int phase_, int errno_, const std::string& what) : BootError(what), phase(phase_), error(errno_) {}
  int phase;
  int error;
};
struct GuestTimeout : VmError {
  using VmError::VmError;
};
struct GuestProtocolError : VmError {
  using VmError::VmError;
};
struct SnapshotError : VmError {
  using VmError::VmError;
};

}  // namespace crumble::vm
