// SPDX-License-Identifier: Apache-2.0
// Package runtime is the RTG runtime as Go declarations, so that RTG programs open cleanly in
// Go editors (completion, go to definition, type checking). crumble-rtg does not read this
// file: it knows these names itself (src/rtg/translate.cpp, include/crumble/rtg/constants.hpp).
// Calling these functions from real Go panics; RTG programs are translated, not run by Go.
//
// Generated from include/crumble/ir/syscalls.hpp and include/crumble/rtg/constants.hpp; a test checks it
// lists every name the translator knows.
package runtime

// Integer is any RTG integer type.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// SyscallName is the type of the SYS_ constants: a syscall chosen by name, numbered per
// architecture when the program is assembled.
type SyscallName int

// GOARCH is the architecture the program is translated for (crumble-rtg -arch).
const GOARCH = "amd64"

func rtg() { panic("RTG runtime functions exist only in translated programs") }

// Syscall makes a system call; arguments are integers, bools or strings (addresses of
// NUL-terminated bytes). The result is the kernel's: negative errno on failure.
func Syscall(nr SyscallName, args ...any) int64 { rtg(); return 0 }

// Load8 to Load64 read memory at ptr+off, zero-extended.
func Load8[P, O Integer](ptr P, off O) uint8   { rtg(); return 0 }
func Load16[P, O Integer](ptr P, off O) uint16 { rtg(); return 0 }
func Load32[P, O Integer](ptr P, off O) uint32 { rtg(); return 0 }
func Load64[P, O Integer](ptr P, off O) uint64 { rtg(); return 0 }

// Store8 to Store64 write the low bits of v at ptr+off.
func Store8[P, O, V Integer](ptr P, off O, v V)  { rtg() }
func Store16[P, O, V Integer](ptr P, off O, v V) { rtg() }
func Store32[P, O, V Integer](ptr P, off O, v V) { rtg() }
func Store64[P, O, V Integer](ptr P, off O, v V) { rtg() }

// Printf writes to fd 1: %d %u %x %s %c %%. The format is a constant string.
func Printf(format string, args ...any) { rtg() }

// EmbedString, EmbedCString and EmbedBytes embed constant bytes in the program and give their
// address and length (EmbedCString adds a NUL, not counted).
func EmbedString(s string) (uintptr, int64)  { rtg(); return 0, 0 }
func EmbedCString(s string) (uintptr, int64) { rtg(); return 0, 0 }
func EmbedBytes(b ...byte) (uintptr, int64)  { rtg(); return 0, 0 }

// Call calls the code at target with the arguments.
func Call(target uintptr, args ...any) int64 { rtg(); return 0 }

// ISB is an instruction barrier; CacheFlush makes code written at [base, base+size) visible
// to instruction fetch.
func ISB()                                    { rtg() }
func CacheFlush[B, S Integer](base B, size S) { rtg() }

// Ifdef tells whether FLAG was defined (crumble-rtg -D FLAG). Config gives the value of
// crumble-rtg -c key=value. Both are constants in the translated program.
func Ifdef(flag string) bool { rtg(); return false }
func Config(key string) any  { rtg(); return nil }

// Syscalls, by name.
const (
	SYS_READ           SyscallName = 0
	SYS_WRITE          SyscallName = 1
	SYS_OPEN           SyscallName = 2
	SYS_OPENAT         SyscallName = 3
	SYS_CLOSE          SyscallName = 4
	SYS_LSEEK          SyscallName = 5
	SYS_FSTAT          SyscallName = 6
	SYS_MMAP           SyscallName = 7
	SYS_MUNMAP         SyscallName = 8
	SYS_BRK            SyscallName = 9
	SYS_IOCTL          SyscallName = 10
	SYS_PIPE2          SyscallName = 11
	SYS_DUP2           SyscallName = 12
	SYS_DUP3           SyscallName = 13
	SYS_NANOSLEEP      SyscallName = 14
	SYS_GETPID         SyscallName = 15
	SYS_GETPPID        SyscallName = 16
	SYS_GETTID         SyscallName = 17
	SYS_CLONE          SyscallName = 18
	SYS_FORK           SyscallName = 19
	SYS_EXECVE         SyscallName = 20
	SYS_EXIT           SyscallName = 21
	SYS_EXIT_GROUP     SyscallName = 22
	SYS_WAIT4          SyscallName = 23
	SYS_KILL           SyscallName = 24
	SYS_UNAME          SyscallName = 25
	SYS_CHDIR          SyscallName = 26
	SYS_CHROOT         SyscallName = 27
	SYS_MKDIR          SyscallName = 28
	SYS_MKDIRAT        SyscallName = 29
	SYS_MKNOD          SyscallName = 30
	SYS_MKNODAT        SyscallName = 31
	SYS_UNLINKAT       SyscallName = 32
	SYS_SYMLINKAT      SyscallName = 33
	SYS_MOUNT          SyscallName = 34
	SYS_UMOUNT2        SyscallName = 35
	SYS_PIVOT_ROOT     SyscallName = 36
	SYS_SETSID         SyscallName = 37
	SYS_SETHOSTNAME    SyscallName = 38
	SYS_REBOOT         SyscallName = 39
	SYS_INIT_MODULE    SyscallName = 40
	SYS_FINIT_MODULE   SyscallName = 41
	SYS_CLOCK_GETTIME  SyscallName = 42
	SYS_CLOCK_SETTIME  SyscallName = 43
	SYS_GETRANDOM      SyscallName = 44
	SYS_SYNC           SyscallName = 45
	SYS_RT_SIGACTION   SyscallName = 46
	SYS_RT_SIGPROCMASK SyscallName = 47
	SYS_SETUID         SyscallName = 48
	SYS_SETGID         SyscallName = 49
	SYS_SETGROUPS      SyscallName = 50
	SYS_PRCTL          SyscallName = 51
	SYS_PPOLL          SyscallName = 52
	SYS_FCNTL          SyscallName = 53
	SYS_SETPGID        SyscallName = 54
	SYS_SOCKET         SyscallName = 55
	SYS_FCHMOD         SyscallName = 56
	SYS_FCHOWN         SyscallName = 57
	SYS_PRLIMIT64      SyscallName = 58
	SYS_CAPSET         SyscallName = 59
	SYS_FCHOWNAT       SyscallName = 60
	SYS_FCHMODAT       SyscallName = 61
	SYS_STATFS         SyscallName = 62
	SYS_GETDENTS64     SyscallName = 63
	SYS_NEWFSTATAT     SyscallName = 64
	SYS_OPEN_TREE      SyscallName = 65
	SYS_MOVE_MOUNT     SyscallName = 66
	SYS_SETNS          SyscallName = 67
)

// Linux constants (the values are those of amd64; crumble-rtg uses each architecture's own).
const (
	AT_FDCWD                       = -100
	AT_SYMLINK_NOFOLLOW            = 0x100
	AT_REMOVEDIR                   = 0x200
	AT_EMPTY_PATH                  = 0x1000
	O_RDONLY                       = 0
	O_WRONLY                       = 1
	O_RDWR                         = 2
	O_CREAT                        = 0100
	O_EXCL                         = 0200
	O_NOCTTY                       = 0400
	O_TRUNC                        = 01000
	O_APPEND                       = 02000
	O_NONBLOCK                     = 04000
	O_DSYNC                        = 010000
	O_SYNC                         = 04010000
	O_DIRECT                       = 040000
	O_DIRECTORY                    = 0200000
	O_NOFOLLOW                     = 0400000
	O_CLOEXEC                      = 02000000
	O_PATH                         = 010000000
	SEEK_SET                       = 0
	SEEK_CUR                       = 1
	SEEK_END                       = 2
	STDIN_FILENO                   = 0
	STDOUT_FILENO                  = 1
	STDERR_FILENO                  = 2
	S_IFMT                         = 0170000
	S_IFSOCK                       = 0140000
	S_IFLNK                        = 0120000
	S_IFREG                        = 0100000
	S_IFBLK                        = 060000
	S_IFDIR                        = 040000
	S_IFCHR                        = 020000
	S_IFIFO                        = 010000
	PROT_NONE                      = 0
	PROT_READ                      = 1
	PROT_WRITE                     = 2
	PROT_EXEC                      = 4
	MAP_SHARED                     = 1
	MAP_PRIVATE                    = 2
	MAP_FIXED                      = 0x10
	MAP_ANONYMOUS                  = 0x20
	MAP_NORESERVE                  = 0x4000
	MAP_POPULATE                   = 0x8000
	MAP_FIXED_NOREPLACE            = 0x100000
	MS_RDONLY                      = 1
	MS_NOSUID                      = 2
	MS_NODEV                       = 4
	MS_NOEXEC                      = 8
	MS_SYNCHRONOUS                 = 16
	MS_REMOUNT                     = 32
	MS_MANDLOCK                    = 64
	MS_DIRSYNC                     = 128
	MS_NOATIME                     = 1024
	MS_NODIRATIME                  = 2048
	MS_BIND                        = 4096
	MS_MOVE                        = 8192
	MS_REC                         = 16384
	MS_SILENT                      = 32768
	MS_PRIVATE                     = 1 << 18
	MS_SLAVE                       = 1 << 19
	MS_SHARED                      = 1 << 20
	MS_RELATIME                    = 1 << 21
	MS_STRICTATIME                 = 1 << 24
	MS_LAZYTIME                    = 1 << 25
	MNT_FORCE                      = 1
	MNT_DETACH                     = 2
	MNT_EXPIRE                     = 4
	UMOUNT_NOFOLLOW                = 8
	OPEN_TREE_CLONE                = 1
	OPEN_TREE_CLOEXEC              = 02000000
	MOVE_MOUNT_F_EMPTY_PATH        = 4
	MOVE_MOUNT_T_SYMLINKS          = 0x10
	CLOCK_REALTIME                 = 0
	CLOCK_MONOTONIC                = 1
	CLOCK_PROCESS_CPUTIME_ID       = 2
	CLOCK_THREAD_CPUTIME_ID        = 3
	CLOCK_MONOTONIC_RAW            = 4
	CLOCK_REALTIME_COARSE          = 5
	CLOCK_MONOTONIC_COARSE         = 6
	CLOCK_BOOTTIME                 = 7
	LINUX_REBOOT_MAGIC1            = 0xfee1dead
	LINUX_REBOOT_MAGIC2            = 672274793
	LINUX_REBOOT_CMD_RESTART       = 0x01234567
	LINUX_REBOOT_CMD_HALT          = 0xcdef0123
	LINUX_REBOOT_CMD_POWER_OFF     = 0x4321fedc
	LINUX_REBOOT_CMD_CAD_ON        = 0x89abcdef
	LINUX_REBOOT_CMD_CAD_OFF       = 0
	RB_AUTOBOOT                    = 0x01234567
	RB_HALT_SYSTEM                 = 0xcdef0123
	RB_POWER_OFF                   = 0x4321fedc
	RB_ENABLE_CAD                  = 0x89abcdef
	RB_DISABLE_CAD                 = 0
	TCGETS                         = 0x5401
	TIOCSCTTY                      = 0x540e
	TIOCGWINSZ                     = 0x5413
	TIOCSWINSZ                     = 0x5414
	TIOCNOTTY                      = 0x5422
	TIOCSPTLCK                     = 0x40045431
	TIOCGPTPEER                    = 0x5441
	F_GETFL                        = 3
	F_SETFL                        = 4
	F_SETPIPE_SZ                   = 1031
	POLLIN                         = 1
	POLLPRI                        = 2
	POLLOUT                        = 4
	POLLERR                        = 8
	POLLHUP                        = 0x10
	POLLNVAL                       = 0x20
	AF_UNIX                        = 1
	AF_INET                        = 2
	SOCK_STREAM                    = 1
	SOCK_DGRAM                     = 2
	SOCK_CLOEXEC                   = 02000000
	SIOCADDRT                      = 0x890b
	SIOCGIFFLAGS                   = 0x8913
	SIOCSIFFLAGS                   = 0x8914
	SIOCSIFADDR                    = 0x8916
	SIOCSIFNETMASK                 = 0x891c
	IFF_UP                         = 1
	IFF_RUNNING                    = 0x40
	RTF_UP                         = 1
	RTF_GATEWAY                    = 2
	GRND_NONBLOCK                  = 1
	GRND_RANDOM                    = 2
	RNDADDENTROPY                  = 0x40085203
	RNDRESEEDCRNG                  = 0x5207
	MODULE_INIT_IGNORE_MODVERSIONS = 1
	MODULE_INIT_IGNORE_VERMAGIC    = 2
	WNOHANG                        = 1
	WUNTRACED                      = 2
	CLONE_VFORK                    = 0x4000
	CLONE_NEWUSER                  = 0x10000000
	SIGHUP                         = 1
	SIGINT                         = 2
	SIGQUIT                        = 3
	SIGILL                         = 4
	SIGTRAP                        = 5
	SIGABRT                        = 6
	SIGBUS                         = 7
	SIGFPE                         = 8
	SIGKILL                        = 9
	SIGUSR1                        = 10
	SIGSEGV                        = 11
	SIGUSR2                        = 12
	SIGPIPE                        = 13
	SIGALRM                        = 14
	SIGTERM                        = 15
	SIGCHLD                        = 17
	SIGCONT                        = 18
	SIGSTOP                        = 19
	SIGTSTP                        = 20
	SIGTTIN                        = 21
	SIGTTOU                        = 22
	SIGWINCH                       = 28
	EPERM                          = 1
	ENOENT                         = 2
	ESRCH                          = 3
	EINTR                          = 4
	EIO                            = 5
	ENXIO                          = 6
	E2BIG                          = 7
	ENOEXEC                        = 8
	EBADF                          = 9
	ECHILD                         = 10
	EAGAIN                         = 11
	ENOMEM                         = 12
	EACCES                         = 13
	EFAULT                         = 14
	EBUSY                          = 16
	EEXIST                         = 17
	EXDEV                          = 18
	ENODEV                         = 19
	ENOTDIR                        = 20
	EISDIR                         = 21
	EINVAL                         = 22
	ENFILE                         = 23
	EMFILE                         = 24
	ENOTTY                         = 25
	ETXTBSY                        = 26
	EFBIG                          = 27
	ENOSPC                         = 28
	ESPIPE                         = 29
	EROFS                          = 30
	EMLINK                         = 31
	EPIPE                          = 32
	ERANGE                         = 34
	ENAMETOOLONG                   = 36
	ENOSYS                         = 38
	ENOTEMPTY                      = 39
	ELOOP                          = 40
)
