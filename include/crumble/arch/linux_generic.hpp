// SPDX-License-Identifier: Apache-2.0
// crumble/arch/linux_generic.hpp — syscall numbers of Linux's generic table
// (include/uapi/asm-generic/unistd.h), used by ARM64 and RISC-V alike.
//
// The generic table has only the *at forms and dup3/clone: open, dup2, fork, mkdir and mknod
// are absent, and assembling a program that uses them fails with errc::unknown_syscall.
#pragma once

#include "../ir/syscalls.hpp"

namespace crumble::arch {

constexpr int linux_generic_syscall_number(ir::Sys s) {
  using enum ir::Sys;
  switch (s) {
    case dup3: return 24;            case ioctl: return 29;         case mknodat: return 33;
    case mkdirat: return 34;         case unlinkat: return 35;      case symlinkat: return 36;
    case umount2: return 39;         case mount: return 40;         case pivot_root: return 41;
    case chdir: return 49;           case chroot: return 51;        case openat: return 56;
    case close: return 57;           case pipe2: return 59;         case lseek: return 62;
    case read: return 63;            case write: return 64;         case fstat: return 80;
    case sync: return 81;            case exit: return 93;          case exit_group: return 94;
    case nanosleep: return 101;      case init_module: return 105;  case clock_settime: return 112;
    case clock_gettime: return 113;  case kill: return 129;         case rt_sigaction: return 134;
    case rt_sigprocmask: return 135; case reboot: return 142;       case setsid: return 157;
    case uname: return 160;          case sethostname: return 161;  case getpid: return 172;
    case getppid: return 173;        case gettid: return 178;       case brk: return 214;
    case munmap: return 215;         case clone: return 220;        case execve: return 221;
    case mmap: return 222;           case wait4: return 260;        case finit_module: return 273;
    case getrandom: return 278;      case setgid: return 144;       case setuid: return 146;
    case setgroups: return 159;      case prctl: return 167;
    case ppoll: return 73;           case fcntl: return 25;         case setpgid: return 154;
    case socket: return 198;         case fchmod: return 52;        case fchown: return 55;
    case prlimit64: return 261;      case capset: return 91;         case fchownat: return 54;
    case fchmodat: return 53;        case statfs: return 43;        case getdents64: return 61;
    case newfstatat: return 79;      case open_tree: return 428;    case move_mount: return 429;
    case setns: return 268;
    case open: case dup2: case fork: case mkdir: case mknod: break;
  }
  return ir::absent_syscall;
}

}  // namespace crumble::arch
