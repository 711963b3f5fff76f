// SPDX-License-Identifier: Apache-2.0
// crumble/vm/protocol/layout.hpp — how the host and the guest's init talk: the one definition.
//
// Two regions of guest-physical memory that host and guest both map (docs/protocol.md):
//
//   mailbox (4 KiB)   small fields: the guest's signals (ready, started, failed, ...) with a
//                     sequence number, and small results
//   config  (4 MiB)   bulk data: a payload (code + relocations), a command, the boot clock, and
//                     for each running process its stdin, stdout and stderr as rings (PROCESS)
//
// Every address, offset, size, magic and signal is one row of a list below, and each list makes
// both the C++ constants the host uses (protocol::mailbox::seq, protocol::config::command, ...)
// and the Config values the guest's init is translated with (config_values(): runtime.Config
// ("mb_seq") in rtg/init/init.go, by src/init/make_init.cpp). A row is X(name, value, bytes):
//   name   the C++ name in the list's namespace; with the list's prefix ("", "mb_", "cfg_"), the
//          init's Config name
//   value  the number (an offset is from the start of its region or area)
//   bytes  how much of its region or area a field takes (the Field tables below, checked here
//          with static_assert and in tests/vm/channel_test.cpp); 0 for a number that is not a place
// Comments inside a list are /* */: a // comment would swallow the rest of the macro.
//
// All fields are little-endian. The guest signals by filling the fields, writing `signal`, then
// bumping `seq` last; the host watches `seq`, so it sees every signal, also one repeated, with
// its fields. The host hands over a payload or a command by writing it whole, then its magic last.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// ---- where (QEMU engine: RAM reserved with memmap=, reached through /dev/mem) ---------------
// A fixed guest-physical window: the init is compiled with these addresses. 128 MiB is above
// where the kernel decompresses itself and below where QEMU puts the initrd (the top of RAM).
// The payload's executable memory is the guest's own (an anonymous mapping), sized here because
// the host checks a payload's code and bss against it before sending.
#define CRUMBLE_PROTOCOL_WHERE(X)                                                     \
  X(window_base, 0x08000000, 0)                                                       \
  X(window_size, 0x00800000, 0) /* 8 MiB reserved: memmap=8M$0x08000000 */           \
  X(mailbox_phys, window_base, 0)                                                     \
  X(mailbox_size, 0x1000, 0)                                                          \
  X(config_phys, window_base + 0x100000, 0)                                           \
  X(config_size, 0x400000, 0)                                                         \
  X(exec_size, 0x400000, 0) /* the guest's executable memory for a payload's code and bss */

// ---- mailbox fields (byte offsets in the mailbox; Config prefix mb_) ------------------------
#define CRUMBLE_PROTOCOL_MAILBOX(X)                                                            \
  X(signal, 0, 4)        /* u32: the guest's last signal (below) */                            \
  X(seq, 4, 4)           /* u32: bumped by the guest after each signal's fields and value */   \
  X(phase, 8, 4)         /* u32: the init phase that failed (1-7), or the container step */    \
  X(error, 12, 4)        /* u32: its errno (positive) */                                       \
  X(result, 16, 8)       /* i64: a payload's return value */                                   \
  X(index, 24, 4)        /* u32: which volume, binfmt registration or file a container step failed on */

// ---- what the guest says (values of mailbox fields) -----------------------------------------
#define CRUMBLE_PROTOCOL_SIGNALS(X)                                                                  \
  X(signal_ready, 0xdeadbeef, 0)        /* init is in its main loop */                               \
  X(signal_payload_done, 0x600dca11, 0) /* mailbox::result is set */                                 \
  X(signal_started, 0x57a27ed0, 0)     /* the command request is taken: its process runs (or has  \
                                           already ended, not started) in the slot it names */     \
  X(signal_failed, 0xfa11ed00, 0)       /* phase/error are set; init powers off */                   \
  X(signal_reseeded, 0x5eed5eed, 0)     /* the entropy and clock at config::reseed are taken */      \
  X(signal_holding, 0x401d0006, 0)      /* init holds after phase 6, as asked (config::hold) */      \
  X(exit_kind_exited, 0, 0)             /* exit_code is the exit status */                           \
  X(exit_kind_signaled, 1, 0)           /* exit_code is the signal number */                         \
  X(exit_kind_not_started, 2, 0)        /* execve failed: exec_errno says why */                     \
  X(process_free, 0, 0)                 /* proc_state: no process (the host frees an ended one) */   \
  X(process_running, 1, 0)              /* proc_state: started; the rings flow */                    \
  X(process_ended, 2, 0)                /* proc_state: ended, the exit fields and heads are final */ \
  X(signal_to_process_only, 0x100, 0)   /* proc_signal: this bit over the number sends it to the   \
                                           process alone (kill(pid)), not its group (an OCI kill) */ \
  X(signal_container_ready, 0xc7a1ead7, 0) /* init now serves inside the container's root */         \
  X(signal_container_failed, 0xc7afa11d, 0) /* phase = the step (container_step_*), error = errno,   \
                                               index = the volume's index; init serves on */

// ---- a container request's steps (mailbox phase of signal_container_failed), in the order init
// takes them save binfmt, which comes before mounts; and the steps before a command's execve
// (the slot's proc_exec_stage when the command did not start; 0: execve itself)
#define CRUMBLE_PROTOCOL_STEPS(X)                                                                    \
  X(container_step_devices, 1, 0)     /* drop the root disk's cached blocks (the placeholder's) */     \
  X(container_step_root, 2, 0)        /* mount the root (the block device, the virtio-fs tag) */    \
  X(container_step_overlay, 3, 0)     /* the tmpfs and the overlay over a block root */             \
  X(container_step_volume, 4, 0)     /* a volume (mailbox index: which) */                         \
  X(container_step_mounts, 5, 0)      /* proc, sysfs, /dev, /dev/pts, /dev/shm, /tmp, /run */       \
  X(container_step_switch_root, 6, 0) /* pivot_root, or the move-and-chroot fallback */             \
  X(container_step_hostname, 7, 0)    /* sethostname */                                             \
  X(container_step_binfmt, 8, 0)      /* mount binfmt_misc and register (index: which) */           \
  X(container_step_request, 9, 0)     /* the request itself: malformed (EINVAL), a second (EBUSY) */ \
  X(container_step_file, 10, 0)       /* a file copied in or a tmpfs, last (index: which) */        \
  X(container_step_user_namespace, 11, 0) /* the container's user namespace, before switch_root     \
                                             (index: 0 cloned, 1 uid_map, 2 gid_map, 3 opened) */   \
  X(exec_stage_execve, 0, 0)                                                                         \
  X(exec_stage_chdir, 1, 0)                                                                          \
  X(exec_stage_setgroups, 2, 0)                                                                      \
  X(exec_stage_setgid, 3, 0)                                                                         \
  X(exec_stage_setuid, 4, 0)                                                                         \
  X(exec_stage_no_new_privs, 5, 0)                                                                   \
  X(exec_stage_capabilities, 6, 0) /* the bounding set, capset or the ambient capabilities */       \
  X(exec_stage_rlimits, 7, 0)      /* prlimit64 of one of the command's resource limits */           \
  X(exec_stage_oom_score_adj, 8, 0) /* writing /proc/self/oom_score_adj */                          \
  X(exec_stage_user_namespace, 9, 0) /* setns into the container's user namespace */               \
  X(container_root_dir, 1, 0)      /* root kinds: a directory already in the guest */                \
  X(container_root_block, 2, 0)    /* a block device, read-only, under a tmpfs overlay */            \
  X(container_root_virtiofs, 3, 0) /* a virtio-fs tag, read-write, no overlay */                     \
  X(command_flag_set_ids, 1, 0)      /* command flags: setgroups, setgid, setuid to the header's */  \
  X(command_flag_no_new_privs, 2, 0) /* PR_SET_NO_NEW_PRIVS */                                       \
  X(command_flag_chdir, 4, 0)        /* change to the working directory (made when missing) */       \
  X(command_flag_stdin, 8, 0)        /* stdin from the host (the stdin ring); without: /dev/null */  \
  X(command_flag_tty, 16, 0)         /* a pty: stdin and stdout+stderr through it, rows x cols */    \
  X(command_flag_root_writes, 32, 0) /* init's own busybox (argv[0] the applet) as root, working     \
                                        directory the root's writable layer (overlay upper dir) */  \
  X(command_flag_capabilities, 64, 0) /* exactly the header's capability sets (else: root keeps     \
                                         all, another uid none) */                                    \
  X(command_flag_oom_score_adj, 128, 0) /* write the header's oom_score_adj */                      \
  X(volume_flag_read_only, 1, 0)     /* a volume's flags: mounted MS_RDONLY */                        \
  X(container_file_copy, 1, 0)       /* a file record's kind: its content bound at its path */         \
  X(container_file_tmpfs, 2, 0)      /* a tmpfs at its path, the content its mount data */             \
  X(container_file_mount_flags, 0xf, 0) /* the mount flags a record may carry: Linux's MS_RDONLY (1), \
                                           MS_NOSUID (2), MS_NODEV (4), MS_NOEXEC (8) */              \
  X(container_file_mount, 3, 0)     /* a file system at its path: content its type, source and mount \
                                       data, each NUL-terminated (proc, sysfs, devpts, mqueue, ...) */ \
  X(container_file_device, 4, 0)    /* a node made at its path: mode with S_IFCHR, S_IFBLK or S_IFIFO, \
                                       owner; content u32 major, u32 minor */                        \
  X(container_file_symlink, 5, 0)   /* a symlink at its path to the content (NUL-terminated) */      \
  X(container_file_masked, 6, 0)    /* /dev/null bound over a file, a read-only tmpfs over a        \
                                       directory; nothing when the path is missing */                \
  X(container_file_read_only, 7, 0) /* the path bound on itself, remounted read-only ("/": the root \
                                       remounted read-only); nothing when the path is missing */     \
  X(container_file_sysctl, 8, 0)    /* the content written to the path, which is under /proc/sys/ */ \
  X(container_flag_own_mounts, 1, 0) /* container flags: init mounts none of its own file systems    \
                                        (proc, sysfs, /dev, /dev/pts, /dev/shm, /tmp, /run): the     \
                                        records are the container's (an OCI config's mounts) */    \
  X(container_flag_user_namespace, 2, 0) /* the container's commands run in a user namespace of     \
                                            its own: two more strings, its uid_map and gid_map */

// ---- what the host asks: the magics it writes last (config region) -------------------------
#define CRUMBLE_PROTOCOL_MAGICS(X)                                                         \
  X(payload_magic, 0xcafebabe, 0)                                                          \
  X(command_magic, 0x434d4452, 0)  /* "CMDR" */                                            \
  X(poweroff_magic, 0x52574f50, 0) /* "POWR" at config::command: sync, power off */        \
  X(clock_magic, 0x4b434c43, 0)    /* "CLCK" */                                            \
  X(reseed_magic, 0x44454553, 0)   /* "SEED" */                                            \
  X(hold_magic, 0x444c4f48, 0)     /* "HOLD" */                                            \
  X(container_magic, 0x524e5443, 0) /* "CTNR" at config::command: set up the container's root */

// ---- config region: its areas (byte offsets in the region; Config prefix cfg_) --------------
// payload: a header, then code_size bytes of code (a code::Image's bytes), then reloc_count u32
//   offsets of 64-bit fields to which the load address is added. The guest clears the magic when
//   done. command: the spec's CMDR format (below); the guest clears the magic when it has started
//   the process (signal_started). io: one slot per process that may run at once (PROCESS below):
//   a control block and three rings. clock: the wall clock at boot, written by the host before the guest starts.
//   reseed: after a restore, so clones differ; init adds the entropy (RNDADDENTROPY), reseeds its
//   CRNG (RNDRESEEDCRNG), sets the clock and, unless hostname_len is 0, the hostname (a guest
//   restored with its container set up gets its own name), clears the magic and signals
//   reseeded. hold: early snapshots; the host sets hold_magic here before boot; init, after
//   phase 6 and before it signals ready, signals holding and waits while the magic stays. The
//   host snapshots it there and clears the magic to let it go on (also after every restore of
//   such a snapshot).
#define CRUMBLE_PROTOCOL_CONFIG_AREAS(X)                                      \
  X(payload, 0, payload_max)                                                  \
  X(payload_max, 0x100000, 0) /* header + code + relocations */               \
  X(command, 0x100000, command_max)                                           \
  X(command_max, 0x100000, 0) /* header + strings */                          \
  X(io, 0x200000, io_max)                                                     \
  X(io_max, 0x1ff000, 0)                                                      \
  X(clock, 0x3ff000, 24)                                                      \
  X(reseed, 0x3ff100, 160)                                                    \
  X(hold, 0x3ff200, 4) /* u32 hold_magic, or 0 */                           \
  X(network, 0x3ff300, 32) /* the guest's network (below), or 0 */

// Each area's header (byte offsets in the area; Config prefix cfg_, as the areas).
#define CRUMBLE_PROTOCOL_PAYLOAD_HEADER(X)                                         \
  X(payload_magic_at, 0, 4)                     /* u32 payload_magic */            \
  X(payload_code_size, 4, 4)                    /* u32 */                          \
  X(payload_relocs, 8, 4)                       /* u32 count */                    \
  X(payload_entry, 12, 4)                       /* u32 offset of the entry point */ \
  X(payload_bss_size, 16, 4)                    /* u32 bytes zeroed after the code */ \
  X(payload_code, 32, payload_max - payload_code) /* the code, then the relocations */

// magic, path_len, argc, envc, the options (uid, gid, flags, groups), the process slot and the
// terminal's size, the capability sets, oom_score_adj and resource limits, then path\0, argc
// args\0 (argv[0] first), envc "K=V"\0, and the working directory\0 (empty without
// command_flag_chdir).
#define CRUMBLE_PROTOCOL_COMMAND_HEADER(X)                                         \
  X(command_magic_at, 0, 4) /* u32 command_magic (or poweroff_magic, container_magic) */ \
  X(command_path_len, 4, 4) /* u32 bytes of the path, without its NUL */           \
  X(command_argc, 8, 4)     /* u32 */                                              \
  X(command_envc, 12, 4)    /* u32 */                                              \
  X(command_uid, 16, 4)     /* u32, with command_flag_set_ids */                   \
  X(command_gid, 20, 4)     /* u32, with command_flag_set_ids */                   \
  X(command_flags, 24, 4)   /* u32 command_flag_* */                               \
  X(command_ngroups, 28, 4) /* u32 supplementary groups, at most command_groups_max */ \
  X(command_groups_max, 32, 0)                                                     \
  X(command_groups, 32, 4 * command_groups_max) /* u32 each */                     \
  X(command_process, 160, 4) /* u32 the slot (below process_max) it runs in */     \
  X(command_rows, 164, 4)    /* u32 the pty's rows, with command_flag_tty */       \
  X(command_cols, 168, 4)    /* u32 its columns */                                 \
  X(command_cap_bounding, 176, 8)    /* u64 capability sets, bit N = capability N,  \
                                        with command_flag_capabilities */          \
  X(command_cap_effective, 184, 8)                                                 \
  X(command_cap_permitted, 192, 8)                                                 \
  X(command_cap_inheritable, 200, 8)                                               \
  X(command_cap_ambient, 208, 8)                                                   \
  X(command_oom_score_adj, 216, 4)   /* i32, with command_flag_oom_score_adj */    \
  X(command_nrlimits, 220, 4)        /* u32 resource limits, at most rlimits_max */ \
  X(command_rlimits_max, 16, 0)                                                    \
  X(command_rlimits, 224, 24 * command_rlimits_max) /* each: u32 resource, u32 0, \
                                        u64 soft, u64 hard (prlimit64's order) */  \
  X(command_strings, 640, command_max - command_strings)

// A container request, in the command area (container_magic): the root's kind (container_root_*),
// a flags word (container_flag_*), how many volumes and binfmt_misc registrations, each
// volume's flags (volume_flag_*), then the strings, each NUL-terminated: the root's source (a
// guest directory, a device, a virtio-fs tag), its fstype (block roots), the hostname, each
// volume's virtio-fs tag and absolute guest path, each registration as written to
// /proc/sys/fs/binfmt_misc/register, and with container_flag_user_namespace the uid_map and the
// gid_map as written to /proc/PID/uid_map (lines "INSIDE OUTSIDE COUNT\n", each map at most
// user_map_max bytes). After the strings, at container_files_at (8-aligned), the
// file records (CONTAINER_FILE), one after the other, each 8-aligned.
#define CRUMBLE_PROTOCOL_CONTAINER_HEADER(X)                                        \
  X(container_magic_at, 0, 4) /* u32 container_magic, at command_magic_at */        \
  X(container_root_kind, 4, 4) /* u32 container_root_* */                           \
  X(container_flags, 8, 4)     /* u32 container_flag_* */                           \
  X(container_volumes, 12, 4)  /* u32, at most container_volumes_max */             \
  X(container_binfmts, 16, 4)  /* u32, at most container_binfmts_max */            \
  X(container_files, 20, 4)    /* u32 file records, at most container_files_max */  \
  X(container_files_at, 24, 4) /* u32 offset of the first record, past the strings */ \
  X(container_prefetch_mib, 28, 4) /* u32: a block root's files read whole into the  \
                                      page cache, up to this many MiB (0: none) */     \
  X(container_volumes_max, 32, 0)                                                   \
  X(container_binfmts_max, 16, 0)                                                   \
  X(container_user_map_max, 4095, 0) /* a map's bytes: Linux takes one write below a page */ \
  X(container_files_max, 128, 0)                                                    \
  X(container_volume_flags, 32, 4 * container_volumes_max) /* u32 each */           \
  X(container_strings, 160, command_max - container_strings)

// A file record of a container request (byte offsets in the record): what init places in the
// container once it is inside the root, after the volumes, in the records' order. copy: the
// content written to a file of its own (mode, uid, gid) in a tmpfs, bind-mounted at the path (an
// empty file made there when missing), remounted with the flags when there are any; tmpfs: a tmpfs
// mounted at the path with the flags, the content (NUL-terminated, the NUL counted) its mount
// data. The header, then the path (path_len bytes and a NUL), then size bytes of content; the
// next record starts at the next multiple of 8.
#define CRUMBLE_PROTOCOL_CONTAINER_FILE(X)                                                 \
  X(container_file_kind, 0, 4)     /* u32 container_file_* */                             \
  X(container_file_mode, 4, 4)     /* u32 permission bits (at most 07777), copy; device: \
                                      and the node's type (S_IFCHR, S_IFBLK, S_IFIFO) */  \
  X(container_file_uid, 8, 4)      /* u32 owner, copy and device */                       \
  X(container_file_gid, 12, 4)     /* u32 group, copy and device */                       \
  X(container_file_flags, 16, 4)   /* u32 mount flags within container_file_mount_flags */ \
  X(container_file_path_len, 20, 4) /* u32 bytes of the path, without its NUL */          \
  X(container_file_size, 24, 4)    /* u32 bytes of content */                             \
  X(container_file_header, 32, 0)  /* the header's size: the path follows */

// The process slots in the io area: slot k at io + k * process_stride, each a control block and
// three rings (power-of-two sizes). A ring's head and tail count bytes from the start, as u32
// (wrapping); head - tail bytes wait at ring[tail % size]. The writer owns the head, the reader
// the tail; each side keeps its own and checks the other's (head - tail <= size).
// Control fields say who writes them: (g) the guest, (h) the host. The host resets its fields and
// names the slot in a command; the guest resets its own when it starts the process.
#define CRUMBLE_PROTOCOL_PROCESS(X)                                                         \
  X(process_max, 4, 0)                                                                      \
  X(process_stride, 0x61000, 0)                                                             \
  X(process_control, 0, 0x1000)                                                             \
  X(process_stdout, 0x1000, stdout_ring)                                                    \
  X(stdout_ring, 0x40000, 0) /* 256 KiB */                                                  \
  X(process_stderr, 0x41000, stderr_ring)                                                   \
  X(stderr_ring, 0x10000, 0) /* 64 KiB; with a tty, stderr goes to stdout */                \
  X(process_stdin, 0x51000, stdin_ring)                                                     \
  X(stdin_ring, 0x10000, 0)  /* 64 KiB */

// A slot's control block (byte offsets in it).
#define CRUMBLE_PROTOCOL_PROCESS_CONTROL(X)                                                 \
  X(proc_state, 0, 4)        /* (g) process_running, process_ended; (h) process_free */     \
  X(proc_exit_kind, 4, 4)    /* (g) exit_kind_*, once ended */                              \
  X(proc_exit_code, 8, 4)    /* (g) exit status, or the signal number */                    \
  X(proc_exec_errno, 12, 4)  /* (g) why it did not start */                                 \
  X(proc_exec_stage, 16, 4)  /* (g) which step before execve failed (exec_stage_*) */       \
  X(proc_pid, 20, 4)         /* (g) its pid in the guest */                                 \
  X(proc_out_head, 32, 4)    /* (g) stdout ring */                                          \
  X(proc_out_tail, 36, 4)    /* (h) */                                                      \
  X(proc_err_head, 40, 4)    /* (g) stderr ring */                                          \
  X(proc_err_tail, 44, 4)    /* (h) */                                                      \
  X(proc_in_head, 48, 4)     /* (h) stdin ring */                                           \
  X(proc_in_tail, 52, 4)     /* (g) */                                                      \
  X(proc_in_closed, 56, 4)   /* (h) 1: no more stdin after in_head (EOF) */                 \
  X(proc_signal, 60, 4)      /* (h) a signal for the process group (or the process alone: ... */ \
  X(proc_signal_seq, 64, 4)  /* (h) signal_to_process_only) sent when this differs from ack */ \
  X(proc_signal_ack, 68, 4)  /* (g) the signal_seq last sent */                             \
  X(proc_rows, 72, 4)        /* (h) a new terminal size ... */                              \
  X(proc_cols, 76, 4)        /* (h) */                                                      \
  X(proc_winsize_seq, 80, 4) /* (h) ... applied (TIOCSWINSZ) when this changes */

#define CRUMBLE_PROTOCOL_CLOCK(X)                       \
  X(clock_magic_at, 0, 4) /* u32 clock_magic */         \
  X(clock_sec, 8, 8)      /* i64 */                     \
  X(clock_nsec, 16, 8)    /* i64 */

#define CRUMBLE_PROTOCOL_RESEED(X)                      \
  X(reseed_magic_at, 0, 4) /* u32 reseed_magic */       \
  X(reseed_entropy_bytes, 64, 0) /* how many */          \
  X(reseed_entropy, 8, reseed_entropy_bytes) /* for RNDADDENTROPY */ \
  X(reseed_sec, 72, 8)     /* i64 */                    \
  X(reseed_nsec, 80, 8)    /* i64 */                    \
  X(reseed_hostname_max, 64, 0)                         \
  X(reseed_hostname_len, 88, 4) /* u32: 0 keeps it */   \
  X(reseed_hostname, 96, reseed_hostname_max)

// The guest's network (--net; QEMU's user-mode network, slirp), written by the host before boot as
// the clock is: network_magic, then the guest's IPv4 address, its netmask, the default gateway and
// the name server, each 4 bytes in network byte order (as in a sockaddr_in). No magic: no network
// (only the loopback, which init always brings up). Written once at a cold boot: a snapshot holds
// the guest already configured, and its key says whether the network is on. The slirp_* rows are
// the addresses QEMU's user-mode network is told to use (-netdev user,net=,host=,dns=), as
// numbers (10.0.2.15 is 0x0a00020f).
#define CRUMBLE_PROTOCOL_NETWORK(X)                                                  \
  X(network_magic_at, 0, 4)  /* u32 network_magic */                                \
  X(network_address, 4, 4)   /* the guest's address */                              \
  X(network_netmask, 8, 4)                                                           \
  X(network_gateway, 12, 4)  /* the default route's gateway: slirp's host */        \
  X(network_dns, 16, 4)      /* written to /etc/resolv.conf as its nameserver */    \
  X(network_magic, 0x5754454e, 0) /* "NETW" */                                       \
  X(slirp_network, 0x0a000200, 0) /* 10.0.2.0 */                                     \
  X(slirp_prefix, 24, 0)          /* /24: netmask 255.255.255.0 */                   \
  X(slirp_guest, 0x0a00020f, 0)   /* 10.0.2.15 */                                    \
  X(slirp_gateway, 0x0a000202, 0) /* 10.0.2.2: slirp's host, the way out */         \
  X(slirp_dns, 0x0a000203, 0)     /* 10.0.2.3: slirp's name server */

// Every list of the config namespace.
#define CRUMBLE_PROTOCOL_CONFIG(X) \
  CRUMBLE_PROTOCOL_CONFIG_AREAS(X) \
  CRUMBLE_PROTOCOL_PAYLOAD_HEADER(X) \
  CRUMBLE_PROTOCOL_COMMAND_HEADER(X) \
  CRUMBLE_PROTOCOL_CONTAINER_HEADER(X) \
  CRUMBLE_PROTOCOL_CONTAINER_FILE(X) \
  CRUMBLE_PROTOCOL_PROCESS(X)      \
  CRUMBLE_PROTOCOL_PROCESS_CONTROL(X) \
  CRUMBLE_PROTOCOL_CLOCK(X)        \
  CRUMBLE_PROTOCOL_RESEED(X)       \
  CRUMBLE_PROTOCOL_NETWORK(X)

namespace crumble::vm::protocol {

#define CRUMBLE_PROTOCOL_U64(name, value, bytes) inline constexpr std::uint64_t name = value;
#define CRUMBLE_PROTOCOL_U32(name, value, bytes) inline constexpr std::uint32_t name = value;
CRUMBLE_PROTOCOL_WHERE(CRUMBLE_PROTOCOL_U64)
CRUMBLE_PROTOCOL_SIGNALS(CRUMBLE_PROTOCOL_U32)
CRUMBLE_PROTOCOL_MAGICS(CRUMBLE_PROTOCOL_U32)
CRUMBLE_PROTOCOL_STEPS(CRUMBLE_PROTOCOL_U32)
namespace mailbox {
CRUMBLE_PROTOCOL_MAILBOX(CRUMBLE_PROTOCOL_U32)
}
namespace config {
CRUMBLE_PROTOCOL_CONFIG(CRUMBLE_PROTOCOL_U32)
}
#undef CRUMBLE_PROTOCOL_U64
#undef CRUMBLE_PROTOCOL_U32

static_assert(mailbox_phys + mailbox_size <= config_phys);
static_assert(config_phys + config_size <= window_base + window_size);

// The places as data: one table per region and per area header, each row with its Config name.
struct Field {
  const char* name;    // the Config name
  std::uint64_t at;    // offset in the region or area
  std::uint64_t bytes; // 0: a number that is not a place (an area's size)
};
#define CRUMBLE_PROTOCOL_FIELD(prefix) CRUMBLE_PROTOCOL_FIELD_##prefix
#define CRUMBLE_PROTOCOL_FIELD_mb(name, value, bytes) Field{"mb_" #name, name, bytes},
#define CRUMBLE_PROTOCOL_FIELD_cfg(name, value, bytes) Field{"cfg_" #name, name, bytes},
namespace mailbox {
inline constexpr Field fields[] = {CRUMBLE_PROTOCOL_MAILBOX(CRUMBLE_PROTOCOL_FIELD(mb))};
}
namespace config {
inline constexpr Field areas[] = {CRUMBLE_PROTOCOL_CONFIG_AREAS(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field payload_header[] = {CRUMBLE_PROTOCOL_PAYLOAD_HEADER(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field command_header[] = {CRUMBLE_PROTOCOL_COMMAND_HEADER(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field container_header[] = {CRUMBLE_PROTOCOL_CONTAINER_HEADER(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field container_file_fields[] = {CRUMBLE_PROTOCOL_CONTAINER_FILE(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field process_slot[] = {CRUMBLE_PROTOCOL_PROCESS(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field process_control_fields[] = {CRUMBLE_PROTOCOL_PROCESS_CONTROL(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field clock_fields[] = {CRUMBLE_PROTOCOL_CLOCK(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field reseed_fields[] = {CRUMBLE_PROTOCOL_RESEED(CRUMBLE_PROTOCOL_FIELD(cfg))};
inline constexpr Field network_fields[] = {CRUMBLE_PROTOCOL_NETWORK(CRUMBLE_PROTOCOL_FIELD(cfg))};
}  // namespace config
#undef CRUMBLE_PROTOCOL_FIELD_cfg
#undef CRUMBLE_PROTOCOL_FIELD_mb
#undef CRUMBLE_PROTOCOL_FIELD

// True when the places of `fields` lie inside `size` bytes, none overlaps another, and each
// field of 2, 4 or 8 bytes is aligned to its size (the host reads the mailbox with atomic
// accesses, and the KVM engine serves it as MMIO, which takes whole aligned accesses only).
template <std::size_t N>
constexpr bool laid_out(const Field (&fields)[N], std::uint64_t size) {
  for (std::size_t i = 0; i < N; ++i) {
    const Field& a = fields[i];
    if (a.bytes == 0) continue;
    if (a.at + a.bytes > size || a.at + a.bytes < a.at) return false;
    if ((a.bytes == 2 || a.bytes == 4 || a.bytes == 8) && a.at % a.bytes != 0) return false;
    for (std::size_t j = i + 1; j < N; ++j) {
      const Field& b = fields[j];
      if (b.bytes != 0 && a.at < b.at + b.bytes && b.at < a.at + a.bytes) return false;
    }
  }
  return true;
}
static_assert(laid_out(mailbox::fields, mailbox_size), "mailbox fields overlap or leave the mailbox");
static_assert(laid_out(config::areas, config_size), "config areas overlap or leave the config region");
// The size of the config area with this Config name; 0 for none.
constexpr std::uint64_t area_bytes(std::string_view name) {
  for (const Field& a : config::areas)
    if (name == a.name) return a.bytes;
  return 0;
}
static_assert(laid_out(config::payload_header, area_bytes("cfg_payload")), "payload header fields overlap or leave the area");
static_assert(laid_out(config::command_header, area_bytes("cfg_command")), "command header fields overlap or leave the area");
static_assert(laid_out(config::container_header, area_bytes("cfg_command")), "container header fields overlap or leave the area");
static_assert(laid_out(config::container_file_fields, config::container_file_header), "file record fields overlap or leave its header");
static_assert(config::container_file_header % 8 == 0, "file records are 8-aligned");
static_assert(laid_out(config::process_slot, config::process_stride), "process control fields or rings overlap or leave the slot");
static_assert(laid_out(config::process_control_fields, 0x1000), "process control fields overlap or leave the control block");
static_assert(config::process_max * config::process_stride <= config::io_max, "the process slots do not fit the io area");
static_assert(std::has_single_bit(config::stdout_ring) && std::has_single_bit(config::stderr_ring) && std::has_single_bit(config::stdin_ring),
              "ring sizes are powers of two (positions wrap at 2^32)");
static_assert(laid_out(config::clock_fields, area_bytes("cfg_clock")), "clock fields overlap or leave the clock area");
static_assert(laid_out(config::reseed_fields, area_bytes("cfg_reseed")), "reseed fields overlap or leave the reseed area");
static_assert(laid_out(config::network_fields, area_bytes("cfg_network")), "network fields overlap or leave the network area");

// Where each init phase is, for messages ("init phase 5 (map mailbox and config) failed: EPERM");
// init.go numbers its phases the same way.
inline constexpr const char* phase_names[] = {
    "", "create /dev", "mount filesystems", "load kernel modules", "console", "map mailbox and config",
    "set the clock and the network", "main loop", "reseed after a restore"};
// The container request's steps (container_step_*) and the steps before a command's execve
// (exec_stage_*), by number, for messages.
inline constexpr const char* container_step_names[] = {
    "", "bind the virtio devices", "mount the root", "mount the overlay", "mount a volume", "mount the container's filesystems",
    "switch to the root", "set the hostname", "register binfmt_misc interpreters", "read the request", "copy in the file",
    "make the container's user namespace"};
inline constexpr const char* exec_stage_names[] = {"execve", "chdir", "setgroups", "setgid", "setuid", "no_new_privs", "set capabilities", "setrlimit", "oom_score_adj",
                                                     "join the user namespace"};
static_assert(std::size(container_step_names) == container_step_user_namespace + 1);
static_assert(std::size(exec_stage_names) == exec_stage_user_namespace + 1);

// The Config values the init program is translated with (crumble-rtg -c key=value): every row of
// every list above, its name with the list's prefix, its value in hex.
inline std::vector<std::pair<std::string, std::string>> config_values() {
  auto hex = [](std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  std::vector<std::pair<std::string, std::string>> v;
#define CRUMBLE_PROTOCOL_VALUE(name, value, bytes) v.emplace_back(#name, hex(name));
  CRUMBLE_PROTOCOL_WHERE(CRUMBLE_PROTOCOL_VALUE)
  CRUMBLE_PROTOCOL_SIGNALS(CRUMBLE_PROTOCOL_VALUE)
  CRUMBLE_PROTOCOL_MAGICS(CRUMBLE_PROTOCOL_VALUE)
  CRUMBLE_PROTOCOL_STEPS(CRUMBLE_PROTOCOL_VALUE)
#undef CRUMBLE_PROTOCOL_VALUE
#define CRUMBLE_PROTOCOL_VALUE(name, value, bytes) v.emplace_back("mb_" #name, hex(mailbox::name));
  CRUMBLE_PROTOCOL_MAILBOX(CRUMBLE_PROTOCOL_VALUE)
#undef CRUMBLE_PROTOCOL_VALUE
#define CRUMBLE_PROTOCOL_VALUE(name, value, bytes) v.emplace_back("cfg_" #name, hex(config::name));
  CRUMBLE_PROTOCOL_CONFIG(CRUMBLE_PROTOCOL_VALUE)
#undef CRUMBLE_PROTOCOL_VALUE
  return v;
}

}  // namespace crumble::vm::protocol
