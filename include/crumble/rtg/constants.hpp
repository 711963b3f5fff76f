// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/constants.hpp — the Linux constants an init program needs, as runtime.NAME.
//
// Values are Linux's (include/uapi). Most are the same on x86-64, ARM64 and RISC-V; the few
// open(2) flags that differ on ARM64 are listed with their per-architecture values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace crumble::rtg {

struct LinuxConstant {
  std::string_view name;
  std::int64_t value;
  std::int64_t arm64 = value_same;  // the ARM64 value where it differs
  static constexpr std::int64_t value_same = INT64_MIN;
};

inline constexpr LinuxConstant linux_constants[] = {
    // files
    {"AT_FDCWD", -100}, {"AT_SYMLINK_NOFOLLOW", 0x100}, {"AT_REMOVEDIR", 0x200}, {"AT_EMPTY_PATH", 0x1000},
    {"O_RDONLY", 0}, {"O_WRONLY", 1}, {"O_RDWR", 2}, {"O_CREAT", 0100}, {"O_EXCL", 0200}, {"O_NOCTTY", 0400},
    {"O_TRUNC", 01000}, {"O_APPEND", 02000}, {"O_NONBLOCK", 04000}, {"O_DSYNC", 010000}, {"O_SYNC", 04010000},
    {"O_DIRECT", 040000, 0200000}, {"O_DIRECTORY", 0200000, 040000}, {"O_NOFOLLOW", 0400000, 0100000},
    {"O_CLOEXEC", 02000000}, {"O_PATH", 010000000},
    {"SEEK_SET", 0}, {"SEEK_CUR", 1}, {"SEEK_END", 2},
    {"STDIN_FILENO", 0}, {"STDOUT_FILENO", 1}, {"STDERR_FILENO", 2},
    {"S_IFMT", 0170000}, {"S_IFSOCK", 0140000}, {"S_IFLNK", 0120000}, {"S_IFREG", 0100000},
    {"S_IFBLK", 060000}, {"S_IFDIR", 040000}, {"S_IFCHR", 020000}, {"S_IFIFO", 010000},
    // memory
    {"PROT_NONE", 0}, {"PROT_READ", 1}, {"PROT_WRITE", 2}, {"PROT_EXEC", 4},
    {"MAP_SHARED", 1}, {"MAP_PRIVATE", 2}, {"MAP_FIXED", 0x10}, {"MAP_ANONYMOUS", 0x20},
    {"MAP_NORESERVE", 0x4000}, {"MAP_POPULATE", 0x8000}, {"MAP_FIXED_NOREPLACE", 0x100000},
    // mount
    {"MS_RDONLY", 1}, {"MS_NOSUID", 2}, {"MS_NODEV", 4}, {"MS_NOEXEC", 8}, {"MS_SYNCHRONOUS", 16},
    {"MS_REMOUNT", 32}, {"MS_MANDLOCK", 64}, {"MS_DIRSYNC", 128}, {"MS_NOATIME", 1024},
    {"MS_NODIRATIME", 2048}, {"MS_BIND", 4096}, {"MS_MOVE", 8192}, {"MS_REC", 16384},
    {"MS_SILENT", 32768}, {"MS_PRIVATE", 1 << 18}, {"MS_SLAVE", 1 << 19}, {"MS_SHARED", 1 << 20},
    {"MS_RELATIME", 1 << 21}, {"MS_STRICTATIME", 1 << 24}, {"MS_LAZYTIME", 1 << 25},
    {"MNT_FORCE", 1}, {"MNT_DETACH", 2}, {"MNT_EXPIRE", 4}, {"UMOUNT_NOFOLLOW", 8},
    {"OPEN_TREE_CLONE", 1}, {"OPEN_TREE_CLOEXEC", 02000000}, {"MOVE_MOUNT_F_EMPTY_PATH", 4}, {"MOVE_MOUNT_T_SYMLINKS", 0x10},
    // clocks, reboot, terminals, random, modules
    {"CLOCK_REALTIME", 0}, {"CLOCK_MONOTONIC", 1}, {"CLOCK_PROCESS_CPUTIME_ID", 2},
    {"CLOCK_THREAD_CPUTIME_ID", 3}, {"CLOCK_MONOTONIC_RAW", 4}, {"CLOCK_REALTIME_COARSE", 5},
    {"CLOCK_MONOTONIC_COARSE", 6}, {"CLOCK_BOOTTIME", 7},
    {"LINUX_REBOOT_MAGIC1", 0xfee1dead}, {"LINUX_REBOOT_MAGIC2", 672274793},
    {"LINUX_REBOOT_CMD_RESTART", 0x01234567}, {"LINUX_REBOOT_CMD_HALT", 0xcdef0123},
    {"LINUX_REBOOT_CMD_POWER_OFF", 0x4321fedc}, {"LINUX_REBOOT_CMD_CAD_ON", 0x89abcdef},
    {"LINUX_REBOOT_CMD_CAD_OFF", 0},
    {"RB_AUTOBOOT", 0x01234567}, {"RB_HALT_SYSTEM", 0xcdef0123}, {"RB_POWER_OFF", 0x4321fedc},
    {"RB_ENABLE_CAD", 0x89abcdef}, {"RB_DISABLE_CAD", 0},
    {"TCGETS", 0x5401}, {"TIOCSCTTY", 0x540e}, {"TIOCGWINSZ", 0x5413}, {"TIOCSWINSZ", 0x5414},
    {"TIOCNOTTY", 0x5422}, {"TIOCSPTLCK", 0x40045431}, {"TIOCGPTPEER", 0x5441},
    // descriptors, polling, sockets and network interfaces (ioctl)
    {"F_GETFL", 3}, {"F_SETFL", 4}, {"F_SETPIPE_SZ", 1031},
    {"POLLIN", 1}, {"POLLPRI", 2}, {"POLLOUT", 4}, {"POLLERR", 8}, {"POLLHUP", 0x10}, {"POLLNVAL", 0x20},
    {"AF_UNIX", 1}, {"AF_INET", 2}, {"SOCK_STREAM", 1}, {"SOCK_DGRAM", 2}, {"SOCK_CLOEXEC", 02000000},
    {"SIOCADDRT", 0x890b}, {"SIOCGIFFLAGS", 0x8913}, {"SIOCSIFFLAGS", 0x8914}, {"SIOCSIFADDR", 0x8916},
    {"SIOCSIFNETMASK", 0x891c}, {"IFF_UP", 1}, {"IFF_RUNNING", 0x40}, {"RTF_UP", 1}, {"RTF_GATEWAY", 2},
    {"GRND_NONBLOCK", 1}, {"GRND_RANDOM", 2}, {"RNDADDENTROPY", 0x40085203}, {"RNDRESEEDCRNG", 0x5207},
    {"MODULE_INIT_IGNORE_MODVERSIONS", 1}, {"MODULE_INIT_IGNORE_VERMAGIC", 2},
    // processes and signals
    {"WNOHANG", 1}, {"WUNTRACED", 2}, {"CLONE_VFORK", 0x4000}, {"CLONE_NEWUSER", 0x10000000},
    {"SIGHUP", 1}, {"SIGINT", 2}, {"SIGQUIT", 3}, {"SIGILL", 4}, {"SIGTRAP", 5}, {"SIGABRT", 6},
    {"SIGBUS", 7}, {"SIGFPE", 8}, {"SIGKILL", 9}, {"SIGUSR1", 10}, {"SIGSEGV", 11}, {"SIGUSR2", 12},
    {"SIGPIPE", 13}, {"SIGALRM", 14}, {"SIGTERM", 15}, {"SIGCHLD", 17}, {"SIGCONT", 18},
    {"SIGSTOP", 19}, {"SIGTSTP", 20}, {"SIGTTIN", 21}, {"SIGTTOU", 22}, {"SIGWINCH", 28},
    // errno
    {"EPERM", 1}, {"ENOENT", 2}, {"ESRCH", 3}, {"EINTR", 4}, {"EIO", 5}, {"ENXIO", 6}, {"E2BIG", 7},
    {"ENOEXEC", 8}, {"EBADF", 9}, {"ECHILD", 10}, {"EAGAIN", 11}, {"ENOMEM", 12}, {"EACCES", 13},
    {"EFAULT", 14}, {"EBUSY", 16}, {"EEXIST", 17}, {"EXDEV", 18}, {"ENODEV", 19}, {"ENOTDIR", 20},
    {"EISDIR", 21}, {"EINVAL", 22}, {"ENFILE", 23}, {"EMFILE", 24}, {"ENOTTY", 25}, {"ETXTBSY", 26},
    {"EFBIG", 27}, {"ENOSPC", 28}, {"ESPIPE", 29}, {"EROFS", 30}, {"EMLINK", 31}, {"EPIPE", 32},
    {"ERANGE", 34}, {"ENAMETOOLONG", 36}, {"ENOSYS", 38}, {"ENOTEMPTY", 39}, {"ELOOP", 40},
};

// The value of runtime.NAME on `arch`, if NAME is one of the constants above.
inline std::optional<std::int64_t> linux_constant(std::string_view name, std::string_view arch) {
  for (const LinuxConstant& c : linux_constants)
    if (c.name == name) return arch == "arm64" && c.arm64 != LinuxConstant::value_same ? c.arm64 : c.value;
  return std::nullopt;
}

}  // namespace crumble::rtg
