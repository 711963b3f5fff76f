// SPDX-License-Identifier: Apache-2.0
// crumble/ir/syscalls.hpp — architecture-neutral syscall names.
//
// A program names a syscall; each architecture's target maps the name to its number
// (arch/<arch>/target.hpp). Names an architecture lacks (ARM64 and RISC-V have no open,
// mknod, dup2, fork, ...) map to "absent" and assembling a program that uses them fails
// with errc::unknown_syscall.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace crumble::ir {

#define CRUMBLE_SYSCALLS(X)                                                                    \
  X(read) X(write) X(open) X(openat) X(close) X(lseek) X(fstat) X(mmap) X(munmap) X(brk)       \
  X(ioctl) X(pipe2) X(dup2) X(dup3) X(nanosleep) X(getpid) X(getppid) X(gettid) X(clone)       \
  X(fork) X(execve) X(exit) X(exit_group) X(wait4) X(kill) X(uname) X(chdir) X(chroot)         \
  X(mkdir) X(mkdirat) X(mknod) X(mknodat) X(unlinkat) X(symlinkat) X(mount) X(umount2)         \
  X(pivot_root) X(setsid) X(sethostname) X(reboot) X(init_module) X(finit_module)              \
  X(clock_gettime) X(clock_settime) X(getrandom) X(sync) X(rt_sigaction) X(rt_sigprocmask)       \
  X(setuid) X(setgid) X(setgroups) X(prctl) X(ppoll) X(fcntl) X(setpgid) X(socket)         \
  X(fchmod) X(fchown) X(prlimit64) X(capset) X(fchownat) X(fchmodat) X(statfs)   \
  X(getdents64) X(newfstatat) X(open_tree) X(move_mount) X(setns)

enum class Sys : std::uint8_t {
#define CRUMBLE_ENUM(n) n,
  CRUMBLE_SYSCALLS(CRUMBLE_ENUM)
#undef CRUMBLE_ENUM
};

inline constexpr std::array syscall_names{
#define CRUMBLE_NAME(n) std::string_view(#n, sizeof(#n) - 1),
    CRUMBLE_SYSCALLS(CRUMBLE_NAME)
#undef CRUMBLE_NAME
};

inline constexpr std::size_t syscall_count = syscall_names.size();

constexpr std::string_view name(Sys s) {
  auto i = static_cast<std::size_t>(s);
  return i < syscall_names.size() ? syscall_names[i] : std::string_view("(unknown syscall)");
}

// Number of a syscall on an architecture, or this when the architecture lacks it.
inline constexpr int absent_syscall = -1;

}  // namespace crumble::ir
