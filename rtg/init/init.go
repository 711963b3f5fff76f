// SPDX-License-Identifier: Apache-2.0
// The guest's init: brings up a minimal Linux userland, then serves the host through shared
// memory — payloads (machine code to call) and commands (processes whose stdin, stdout and stderr
// stream through rings in that memory, up to four at once, on pipes or a pty) — and,
// when the host asks once, moves into a container's root and serves on from inside it.
//
// Every address, offset, magic and signal comes from include/crumble/vm/protocol/layout.hpp as a
// Config value (docs/protocol.md); this file hard-codes none. Phases, as the spec numbers them:
//
//	1 create /dev          2 mount devtmpfs, /dev/shm, /dev/pts, /proc, /sys   3 load kernel modules
//	4 console, session     5 map mailbox, config, executable memory     6 set the clock, the network
//	7 main loop: signal ready, then serve payloads and commands until told to power off
//
// The container (the spec's "Container Init", a request in the main loop, not a second init):
// load the container's modules, mount its root at /mnt (a guest directory, a block device under a
// tmpfs overlay, or a virtio-fs tag), its volumes, register binfmt_misc interpreters, mount what a
// container expects inside it (or, for an OCI config, none: its records mount its own), switch
// into it, set the hostname, then the records: file systems, the caller's files (copies,
// bind-mounted), device nodes, symlinks, sysctls, read-only and masked paths; commands then run
// inside, each
// with its own uid, gid, groups, working directory and no_new_privs (child).
//
// A phase that fails says so on the console and, when the mailbox can be mapped, to the host
// (phase and errno), then powers the machine off: the host reports "init phase N failed", never
// a bare timeout.
package main

import "crumble/rtg/runtime"

const (
	mailboxPhys = runtime.Config("mailbox_phys")
	mailboxSize = runtime.Config("mailbox_size")
	configPhys  = runtime.Config("config_phys")
	configSize  = runtime.Config("config_size")
	execSize    = runtime.Config("exec_size") // executable memory for payloads: code and bss

	mbSignal = runtime.Config("mb_signal")
	mbSeq    = runtime.Config("mb_seq")
	mbPhase  = runtime.Config("mb_phase")
	mbError  = runtime.Config("mb_error")
	mbResult = runtime.Config("mb_result")
	mbIndex  = runtime.Config("mb_index")

	signalReady       = runtime.Config("signal_ready")
	signalPayloadDone = runtime.Config("signal_payload_done")
	signalStarted     = runtime.Config("signal_started")
	signalFailed      = runtime.Config("signal_failed")
	signalReseeded    = runtime.Config("signal_reseeded")
	signalHolding     = runtime.Config("signal_holding")
	signalCtrReady    = runtime.Config("signal_container_ready")
	signalCtrFailed   = runtime.Config("signal_container_failed")

	stepDevices    = runtime.Config("container_step_devices")
	stepRoot       = runtime.Config("container_step_root")
	stepOverlay    = runtime.Config("container_step_overlay")
	stepVolume     = runtime.Config("container_step_volume")
	stepMounts     = runtime.Config("container_step_mounts")
	stepSwitchRoot = runtime.Config("container_step_switch_root")
	stepHostname   = runtime.Config("container_step_hostname")
	stepBinfmt     = runtime.Config("container_step_binfmt")
	stepRequest    = runtime.Config("container_step_request")
	stepFile       = runtime.Config("container_step_file")
	stepUserNs     = runtime.Config("container_step_user_namespace")
	fileCopy       = runtime.Config("container_file_copy")
	fileTmpfs      = runtime.Config("container_file_tmpfs")
	fileMount      = runtime.Config("container_file_mount")
	fileDevice     = runtime.Config("container_file_device")
	fileSymlink    = runtime.Config("container_file_symlink")
	fileMasked     = runtime.Config("container_file_masked")
	fileReadOnly   = runtime.Config("container_file_read_only")
	fileSysctl     = runtime.Config("container_file_sysctl")
	ownMounts      = runtime.Config("container_flag_own_mounts")
	userNamespace  = runtime.Config("container_flag_user_namespace")
	fileMountFlags = runtime.Config("container_file_mount_flags")
	rootDir        = runtime.Config("container_root_dir")
	rootBlock      = runtime.Config("container_root_block")
	rootVirtiofs   = runtime.Config("container_root_virtiofs")
	volumeReadOnly = runtime.Config("volume_flag_read_only")

	stageExecve     = runtime.Config("exec_stage_execve")
	stageChdir      = runtime.Config("exec_stage_chdir")
	stageSetgroups  = runtime.Config("exec_stage_setgroups")
	stageSetgid     = runtime.Config("exec_stage_setgid")
	stageSetuid     = runtime.Config("exec_stage_setuid")
	stageNoNewPrivs = runtime.Config("exec_stage_no_new_privs")
	stageCaps       = runtime.Config("exec_stage_capabilities")
	stageRlimits    = runtime.Config("exec_stage_rlimits")
	stageOom        = runtime.Config("exec_stage_oom_score_adj")
	stageUserNs     = runtime.Config("exec_stage_user_namespace")
	flagSetIds      = runtime.Config("command_flag_set_ids")
	flagNoNewPrivs  = runtime.Config("command_flag_no_new_privs")
	flagChdir       = runtime.Config("command_flag_chdir")
	flagStdin       = runtime.Config("command_flag_stdin")
	flagTty         = runtime.Config("command_flag_tty")
	flagCaps        = runtime.Config("command_flag_capabilities")
	flagOom         = runtime.Config("command_flag_oom_score_adj")
	flagRootWrites  = runtime.Config("command_flag_root_writes")

	exitKindExited     = runtime.Config("exit_kind_exited")
	exitKindSignaled   = runtime.Config("exit_kind_signaled")
	exitKindNotStarted = runtime.Config("exit_kind_not_started")
	processFree        = runtime.Config("process_free")
	processRunning     = runtime.Config("process_running")
	processEnded       = runtime.Config("process_ended")
	signalProcessOnly  = runtime.Config("signal_to_process_only")

	cfgPayload            = runtime.Config("cfg_payload")
	cfgPayloadMagicAt     = runtime.Config("cfg_payload_magic_at")
	cfgPayloadCodeSize    = runtime.Config("cfg_payload_code_size")
	cfgPayloadRelocs      = runtime.Config("cfg_payload_relocs")
	cfgPayloadEntry       = runtime.Config("cfg_payload_entry")
	cfgPayloadBssSize     = runtime.Config("cfg_payload_bss_size")
	cfgPayloadCode        = runtime.Config("cfg_payload_code")
	cfgPayloadMax         = runtime.Config("cfg_payload_max")
	cfgCommand            = runtime.Config("cfg_command")
	cfgCommandMax         = runtime.Config("cfg_command_max")
	cfgCommandMagicAt     = runtime.Config("cfg_command_magic_at")
	cfgCommandArgc        = runtime.Config("cfg_command_argc")
	cfgCommandEnvc        = runtime.Config("cfg_command_envc")
	cfgCommandStrings     = runtime.Config("cfg_command_strings")
	cfgCommandUid         = runtime.Config("cfg_command_uid")
	cfgCommandGid         = runtime.Config("cfg_command_gid")
	cfgCommandFlags       = runtime.Config("cfg_command_flags")
	cfgCommandNgroups     = runtime.Config("cfg_command_ngroups")
	cfgCommandGroups      = runtime.Config("cfg_command_groups")
	cfgCommandGroupsMax   = runtime.Config("cfg_command_groups_max")
	cfgCommandProcess     = runtime.Config("cfg_command_process")
	cfgCommandRows        = runtime.Config("cfg_command_rows")
	cfgCommandCols        = runtime.Config("cfg_command_cols")
	cfgCommandCapBounding = runtime.Config("cfg_command_cap_bounding")
	cfgCommandCapEff      = runtime.Config("cfg_command_cap_effective")
	cfgCommandCapPerm     = runtime.Config("cfg_command_cap_permitted")
	cfgCommandCapInh      = runtime.Config("cfg_command_cap_inheritable")
	cfgCommandCapAmbient  = runtime.Config("cfg_command_cap_ambient")
	cfgCommandOom         = runtime.Config("cfg_command_oom_score_adj")
	cfgCommandNrlimits    = runtime.Config("cfg_command_nrlimits")
	cfgCommandRlimits     = runtime.Config("cfg_command_rlimits")
	cfgCommandRlimitsMax  = runtime.Config("cfg_command_rlimits_max")
	cfgCtrRootKind        = runtime.Config("cfg_container_root_kind")
	cfgCtrFlags           = runtime.Config("cfg_container_flags")
	cfgCtrVolumes         = runtime.Config("cfg_container_volumes")
	cfgCtrBinfmts         = runtime.Config("cfg_container_binfmts")
	cfgCtrVolumesMax      = runtime.Config("cfg_container_volumes_max")
	cfgCtrBinfmtsMax      = runtime.Config("cfg_container_binfmts_max")
	cfgCtrVolumeFlags     = runtime.Config("cfg_container_volume_flags")
	cfgCtrStrings         = runtime.Config("cfg_container_strings")
	cfgCtrFiles           = runtime.Config("cfg_container_files")
	cfgCtrFilesAt         = runtime.Config("cfg_container_files_at")
	cfgCtrPrefetchMib     = runtime.Config("cfg_container_prefetch_mib")
	cfgCtrFilesMax        = runtime.Config("cfg_container_files_max")
	cfgCtrUserMapMax      = runtime.Config("cfg_container_user_map_max")
	cfgFileKind           = runtime.Config("cfg_container_file_kind")
	cfgFileMode           = runtime.Config("cfg_container_file_mode")
	cfgFileUid            = runtime.Config("cfg_container_file_uid")
	cfgFileGid            = runtime.Config("cfg_container_file_gid")
	cfgFileFlags          = runtime.Config("cfg_container_file_flags")
	cfgFilePathLen        = runtime.Config("cfg_container_file_path_len")
	cfgFileSize           = runtime.Config("cfg_container_file_size")
	cfgFileHeader         = runtime.Config("cfg_container_file_header")
	cfgIo                 = runtime.Config("cfg_io")
	processMax            = runtime.Config("cfg_process_max")
	processStride         = runtime.Config("cfg_process_stride")
	processStdout         = runtime.Config("cfg_process_stdout")
	processStderr         = runtime.Config("cfg_process_stderr")
	processStdin          = runtime.Config("cfg_process_stdin")
	stdoutRing            = runtime.Config("cfg_stdout_ring")
	stderrRing            = runtime.Config("cfg_stderr_ring")
	stdinRing             = runtime.Config("cfg_stdin_ring")
	procState             = runtime.Config("cfg_proc_state")
	procExitKind          = runtime.Config("cfg_proc_exit_kind")
	procExitCode          = runtime.Config("cfg_proc_exit_code")
	procExecErrno         = runtime.Config("cfg_proc_exec_errno")
	procExecStage         = runtime.Config("cfg_proc_exec_stage")
	procPid               = runtime.Config("cfg_proc_pid")
	procOutHead           = runtime.Config("cfg_proc_out_head")
	procOutTail           = runtime.Config("cfg_proc_out_tail")
	procErrHead           = runtime.Config("cfg_proc_err_head")
	procErrTail           = runtime.Config("cfg_proc_err_tail")
	procInHead            = runtime.Config("cfg_proc_in_head")
	procInTail            = runtime.Config("cfg_proc_in_tail")
	procInClosed          = runtime.Config("cfg_proc_in_closed")
	procSignal            = runtime.Config("cfg_proc_signal")
	procSignalSeq         = runtime.Config("cfg_proc_signal_seq")
	procSignalAck         = runtime.Config("cfg_proc_signal_ack")
	procRows              = runtime.Config("cfg_proc_rows")
	procCols              = runtime.Config("cfg_proc_cols")
	procWinsizeSeq        = runtime.Config("cfg_proc_winsize_seq")
	cfgClock              = runtime.Config("cfg_clock")
	cfgClockMagicAt       = runtime.Config("cfg_clock_magic_at")
	cfgClockSec           = runtime.Config("cfg_clock_sec")
	cfgClockNsec          = runtime.Config("cfg_clock_nsec")
	cfgReseed             = runtime.Config("cfg_reseed")
	cfgReseedMagicAt      = runtime.Config("cfg_reseed_magic_at")
	cfgReseedEntropy      = runtime.Config("cfg_reseed_entropy")
	cfgReseedEntropyBytes = runtime.Config("cfg_reseed_entropy_bytes")
	cfgReseedSec          = runtime.Config("cfg_reseed_sec")
	cfgReseedNsec         = runtime.Config("cfg_reseed_nsec")
	cfgReseedHostnameLen  = runtime.Config("cfg_reseed_hostname_len")
	cfgReseedHostname     = runtime.Config("cfg_reseed_hostname")
	cfgReseedHostnameMax  = runtime.Config("cfg_reseed_hostname_max")
	cfgHold               = runtime.Config("cfg_hold")

	payloadMagic  = runtime.Config("payload_magic")
	commandMagic  = runtime.Config("command_magic")
	poweroffMagic = runtime.Config("poweroff_magic")
	clockMagic    = runtime.Config("clock_magic")
	reseedMagic   = runtime.Config("reseed_magic")
	holdMagic     = runtime.Config("hold_magic")
	ctrMagic      = runtime.Config("container_magic")
)

// prctl(2) options and capset(2)'s header version: Linux's values, the same on every architecture.
const (
	prSetKeepcaps     = 8
	prCapbsetDrop     = 24
	prSetNoNewPrivs   = 38
	prCapAmbient      = 47
	prCapAmbientRaise = 2 // PR_CAP_AMBIENT_RAISE
	prCapAmbientClear = 4 // PR_CAP_AMBIENT_CLEAR_ALL
	capVersion3       = 0x20080522
)

// How long a block root's device node may take to appear after its driver loads (ns), and how
// long to wait between tries; BLKFLSBUF (_IO(0x12, 97), the same on every architecture).
const (
	deviceWaitNs    = 2000000000
	deviceTryNs     = 10000000
	blkFlushBuffers = 0x1261
)

// How long to sleep between looks at the shared memory (ns); while processes run but nothing has
// moved for idleLoops looks, idleNs, and after restLoops more, restNs (a process waiting for
// input costs the host's CPU little; the first key after a long pause waits 10 ms at most).
const (
	pollNs    = 50000
	idleNs    = 1000000
	restNs    = 10000000
	idleLoops = 200
	restLoops = 2000
)

// Pointers for a command's argv and envp, at most.
const maxArgs = 8190

// failed tells whether a syscall result is an error (-4095..-1).
func failed(r int64) bool {
	return r < 0 && r > -4096
}

// sleep sleeps for ns nanoseconds (less than a second).
func sleep(ns int64) {
	var ts [16]byte
	runtime.Store64(&ts, 8, ns)
	runtime.Syscall(runtime.SYS_NANOSLEEP, &ts, 0)
}

// pause sleeps for pollNs.
func pause() {
	sleep(pollNs)
}

// signal hands the host a signal: the fields are already written; seq goes last.
func signal(mb uintptr, value uint64) uint32 {
	seq := runtime.Load32(mb, mbSeq) + 1
	runtime.Store32(mb, mbSignal, value)
	runtime.Store32(mb, mbSeq, seq)
	return seq
}

// mapRegion maps guest-physical memory through /dev/mem; 0 on failure, with the errno in errBuf.
func mapRegion(phys uint64, size uint64, errBuf uintptr) uintptr {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/dev/mem", runtime.O_RDWR|runtime.O_SYNC, 0)
	if failed(fd) {
		runtime.Store64(errBuf, 0, -fd)
		return 0
	}
	p := runtime.Syscall(runtime.SYS_MMAP, 0, size, runtime.PROT_READ|runtime.PROT_WRITE, runtime.MAP_SHARED, fd, phys)
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	if failed(p) {
		runtime.Store64(errBuf, 0, -p)
		return 0
	}
	return uintptr(p)
}

func powerOff() {
	runtime.Syscall(runtime.SYS_SYNC)
	runtime.Syscall(runtime.SYS_REBOOT, runtime.LINUX_REBOOT_MAGIC1, runtime.LINUX_REBOOT_MAGIC2, runtime.LINUX_REBOOT_CMD_POWER_OFF, 0)
	for {
		pause()
	}
}

// fail reports a failed phase (errno positive) and powers off.
func fail(phase int64, errno int64) {
	runtime.Printf("crumble-init: phase %d failed: errno %d\n", phase, errno)
	var e [8]byte
	mb := mapRegion(mailboxPhys, mailboxSize, &e)
	if mb != 0 {
		runtime.Store32(mb, mbPhase, phase)
		runtime.Store32(mb, mbError, errno)
		signal(mb, signalFailed)
	}
	powerOff()
}

// check fails the phase when r is an error other than `allowed` (0: none allowed).
func check(phase int64, r int64, allowed int64) {
	if failed(r) && r != -allowed {
		fail(phase, -r)
	}
}

// makeDir makes the directory path (0755); 0 when it is there, else the negative errno.
func makeDir(path uintptr) int64 {
	r := runtime.Syscall(runtime.SYS_MKDIRAT, runtime.AT_FDCWD, path, 0755)
	if r == -runtime.EEXIST {
		return 0
	}
	return r
}

// makeDirs makes path and the directories on the way (mkdir -p); path is a writable buffer.
func makeDirs(path uintptr) int64 {
	i := uintptr(1)
	for runtime.Load8(path, i) != 0 {
		if runtime.Load8(path, i) == '/' {
			runtime.Store8(path, i, 0)
			r := makeDir(path)
			runtime.Store8(path, i, '/')
			if failed(r) {
				return r
			}
		}
		i++
	}
	return makeDir(path)
}

// mountOn makes the directory target and mounts there; 0, or the negative errno.
func mountOn(source uintptr, target uintptr, fstype uintptr, flags int64, data uintptr) int64 {
	r := makeDir(target)
	if failed(r) {
		return r
	}
	return runtime.Syscall(runtime.SYS_MOUNT, source, target, fstype, flags, data)
}

// mkdir is init phase 1's.
func mkdir(phase int64, path string) {
	check(phase, makeDir(uintptr(path)), 0)
}

// mount is init phase 2's: a filesystem already there (EBUSY) is fine.
func mount(phase int64, source string, target string, fstype string, flags int64) {
	check(phase, mountOn(uintptr(source), uintptr(target), uintptr(fstype), flags, 0), runtime.EBUSY)
}

// writeFile writes s (n bytes) to the file at path, such as a sysfs attribute.
func writeFile(path uintptr, s uintptr, n int64) int64 {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, runtime.O_WRONLY|runtime.O_CLOEXEC, 0)
	if failed(fd) {
		return fd
	}
	r := runtime.Syscall(runtime.SYS_WRITE, fd, s, n)
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	return r
}

// loadDeviceDrivers loads the device drivers of a container VM (/crumble/container-modules.list:
// virtio_blk, virtiofs) at boot, so that they are in the snapshot bound to their devices: binding
// a disk after a restore took ~50 ms (200 under load) of every container start. A snapshot is
// saved with a placeholder disk as large as any root disk may be (1 TiB, sparse), so the disk a
// restored VM gets in its place has the capacity the driver read; dropCachedBlocks forgets what
// the placeholder's blocks read as.
func loadDeviceDrivers() int64 {
	return loadModules("/crumble/container-modules.list")
}

// dropCachedBlocks drops the block device's cached blocks (BLKFLSBUF): any left from before a
// restore would be the placeholder disk's zeros, not the root disk's. (The kernel drops them
// itself when a disk's last user closes it, as the partition scan at boot did; this makes sure,
// for ~1 ms.) The device node may not be there yet in a VM that just booted (devtmpfs makes it
// after the driver binds): ENOENT and ENXIO are retried for a while.
func dropCachedBlocks(dev uintptr) int64 {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, dev, runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
	waited := int64(0)
	for (fd == -runtime.ENOENT || fd == -runtime.ENXIO) && waited < deviceWaitNs {
		sleep(deviceTryNs)
		waited += deviceTryNs
		fd = runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, dev, runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
	}
	if failed(fd) {
		return fd
	}
	runtime.Syscall(runtime.SYS_IOCTL, fd, blkFlushBuffers, 0) // a precaution: its failure is no error
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	return 0
}

// loadModules loads the modules listed in the file `list` (absolute paths, each NUL-terminated,
// in order); a missing list means none, a module already loaded is fine. 0 or the negative errno.
func loadModules(list string) int64 {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, list, runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
	if fd == -runtime.ENOENT {
		return 0
	}
	if failed(fd) {
		return fd
	}
	var names [65536]byte
	n := int64(0)
	for n < int64(len(names)) {
		r := runtime.Syscall(runtime.SYS_READ, fd, &names[n], int64(len(names))-n)
		if failed(r) {
			runtime.Syscall(runtime.SYS_CLOSE, fd)
			return r
		}
		if r == 0 {
			break
		}
		n += r
	}
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	start := int64(0)
	i := int64(0)
	for i < n {
		if names[i] == 0 {
			if i > start {
				m := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, &names[start], runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
				if failed(m) {
					return m
				}
				r := runtime.Syscall(runtime.SYS_FINIT_MODULE, m, "", 0)
				runtime.Syscall(runtime.SYS_CLOSE, m)
				if failed(r) && r != -runtime.EEXIST {
					return r
				}
			}
			start = i + 1
		}
		i++
	}
	return 0
}

// console makes /dev/console init's controlling terminal and its fds 0, 1 and 2.
func console() {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/dev/console", runtime.O_RDWR, 0)
	check(4, fd, 0)
	runtime.Syscall(runtime.SYS_SETSID)
	check(4, runtime.Syscall(runtime.SYS_IOCTL, fd, runtime.TIOCSCTTY, 1), runtime.EPERM)
	var k int64
	for k < 3 {
		if fd != k {
			check(4, runtime.Syscall(runtime.SYS_DUP3, fd, k, 0), 0)
		}
		k++
	}
	if fd > 2 {
		runtime.Syscall(runtime.SYS_CLOSE, fd)
	}
}

// setClock sets the wall clock: the time the host wrote just before it started the VM, plus
// how long the guest has been up since (CLOCK_BOOTTIME), so the boot itself is not lost.
func setClock(cfg uintptr) {
	c := cfg + cfgClock
	if runtime.Load32(c, cfgClockMagicAt) != clockMagic {
		return
	}
	var up [16]byte
	check(6, runtime.Syscall(runtime.SYS_CLOCK_GETTIME, runtime.CLOCK_BOOTTIME, &up), 0)
	sec := int64(runtime.Load64(c, cfgClockSec)) + int64(runtime.Load64(&up, 0))
	nsec := int64(runtime.Load64(c, cfgClockNsec)) + int64(runtime.Load64(&up, 8))
	if nsec >= 1000000000 {
		sec++
		nsec -= 1000000000
	}
	var ts [16]byte
	runtime.Store64(&ts, 0, sec)
	runtime.Store64(&ts, 8, nsec)
	check(6, runtime.Syscall(runtime.SYS_CLOCK_SETTIME, runtime.CLOCK_REALTIME, &ts), 0)
}

// runPayload copies the payload to executable memory, relocates it, calls it and reports.
func runPayload(mb uintptr, cfg uintptr, exec uintptr) {
	p := cfg + cfgPayload
	size := uint64(runtime.Load32(p, cfgPayloadCodeSize))
	relocs := uint64(runtime.Load32(p, cfgPayloadRelocs))
	entry := uint64(runtime.Load32(p, cfgPayloadEntry))
	bss := uint64(runtime.Load32(p, cfgPayloadBssSize))
	result := int64(-runtime.EINVAL)
	// The host checks these too; the guest does not trust them to stay in bounds.
	if size+bss <= execSize && entry < size && cfgPayloadCode+size+4*relocs <= cfgPayloadMax {
		i := uint64(0)
		for i < size {
			runtime.Store64(exec, i, runtime.Load64(p, cfgPayloadCode+i))
			i += 8
		}
		for i < size+bss {
			runtime.Store8(exec, i, 0)
			i++
		}
		k := uint64(0)
		for k < relocs {
			off := uint64(runtime.Load32(p, cfgPayloadCode+size+4*k))
			if off+8 <= size {
				runtime.Store64(exec, off, runtime.Load64(exec, off)+uint64(exec))
			}
			k++
		}
		runtime.CacheFlush(exec, size)
		runtime.ISB()
		result = runtime.Call(exec + uintptr(entry))
	}
	runtime.Store64(mb, mbResult, result)
	runtime.Store32(p, cfgPayloadMagicAt, 0)
	signal(mb, signalPayloadDone)
}

// reseed runs after a restore: the host's entropy goes into the kernel's pool (RNDADDENTROPY,
// credited), the CRNG is reseeded from it (RNDRESEEDCRNG) and the clock is set, so two VMs
// restored from one snapshot do not share random numbers or a stale time.
func reseed(mb uintptr, cfg uintptr, random int64, layer uintptr) {
	r := cfg + cfgReseed
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	var info [8 + cfgReseedEntropyBytes]byte
	runtime.Store32(&info, 0, cfgReseedEntropyBytes*8) // bits credited
	runtime.Store32(&info, 4, cfgReseedEntropyBytes)
	i := uintptr(0)
	for i < cfgReseedEntropyBytes {
		runtime.Store64(&info, 8+i, runtime.Load64(r, cfgReseedEntropy+i))
		i += 8
	}
	// through the descriptor opened at boot: inside a container's root, /dev/urandom may be
	// missing or something else; clones that share their CRNG state must not go on
	e := runtime.Syscall(runtime.SYS_IOCTL, random, runtime.RNDADDENTROPY, &info)
	if !failed(e) {
		e = runtime.Syscall(runtime.SYS_IOCTL, random, runtime.RNDRESEEDCRNG, 0)
	}
	if failed(e) {
		fail(8, -e)
	}
	var ts [16]byte
	runtime.Store64(&ts, 0, runtime.Load64(r, cfgReseedSec))
	runtime.Store64(&ts, 8, runtime.Load64(r, cfgReseedNsec))
	runtime.Syscall(runtime.SYS_CLOCK_SETTIME, runtime.CLOCK_REALTIME, &ts)
	// A clock now behind the container's setup (a snapshot saved by a host whose clock was
	// ahead) would keep tickPastPrint waiting: forget the print, and root_writes always archives.
	runtime.Syscall(runtime.SYS_CLOCK_GETTIME, clockCoarse, &ts)
	if int64(runtime.Load64(&ts, 0))*1000000000+int64(runtime.Load64(&ts, 8)) <= int64(runtime.Load64(layer, lSetUpAt)) {
		runtime.Store64(layer, lPrint, 0)
		runtime.Store64(layer, lSetUpAt, 0)
	}
	// a container restored already set up takes its own name here (its setup had none)
	n := uint64(runtime.Load32(r, cfgReseedHostnameLen))
	if n != 0 && n <= cfgReseedHostnameMax {
		e = runtime.Syscall(runtime.SYS_SETHOSTNAME, r+cfgReseedHostname, n)
		if failed(e) {
			fail(8, -e)
		}
	}
	runtime.Store32(r, cfgReseedMagicAt, 0)
	signal(mb, signalReseeded)
}

// childFails leaves why the child could not start the command in its slot's control block (a
// shared mapping): the step before execve (exec_stage) and the errno; then exits 127.
func childFails(ctl uintptr, stage int64, r int64) {
	runtime.Store32(ctl, procExecStage, stage)
	runtime.Store32(ctl, procExecErrno, -r)
	runtime.Syscall(runtime.SYS_EXIT_GROUP, 127)
}

// decimal writes v in decimal into buf (at least 21 bytes); returns the length.
func decimal(buf uintptr, v int64) int64 {
	n := int64(0)
	if v < 0 {
		runtime.Store8(buf, 0, '-')
		n = 1
		v = -v
	}
	digits := int64(1)
	w := v
	for w >= 10 {
		digits++
		w = w / 10
	}
	k := n + digits
	for k > n {
		k--
		runtime.Store8(buf, uintptr(k), '0'+v%10)
		v = v / 10
	}
	return n + digits
}

// limits applies the command's resource limits and oom_score_adj, while the child is still root
// (raising a hard limit, or lowering oom_score_adj, needs privileges the uid may not have).
func limits(ctl uintptr, base uintptr) {
	n := uint64(runtime.Load32(base, cfgCommandNrlimits))
	if n > cfgCommandRlimitsMax {
		childFails(ctl, stageRlimits, -runtime.EINVAL)
	}
	i := uint64(0)
	for i < n {
		at := base + cfgCommandRlimits + uintptr(24*i)
		r := runtime.Syscall(runtime.SYS_PRLIMIT64, 0, runtime.Load32(at, 0), at+8, 0)
		if failed(r) {
			childFails(ctl, stageRlimits, r)
		}
		i++
	}
	if runtime.Load32(base, cfgCommandFlags)&flagOom != 0 {
		var text [24]byte
		r := writeFile(uintptr("/proc/self/oom_score_adj"), &text, decimal(&text, int64(int32(runtime.Load32(base, cfgCommandOom)))))
		if failed(r) {
			childFails(ctl, stageOom, r)
		}
	}
}

// dropBounding drops from the bounding set every capability not in keep; 0 or the errno.
func dropBounding(keep uint64) int64 {
	bit := uint64(0)
	for bit < 64 {
		if (keep>>bit)&1 == 0 {
			r := runtime.Syscall(runtime.SYS_PRCTL, prCapbsetDrop, bit, 0, 0, 0)
			if r == -runtime.EINVAL {
				return 0 // past the last capability this kernel knows
			}
			if failed(r) {
				return r
			}
		}
		bit++
	}
	return 0
}

// setCapabilities makes the effective, permitted and inheritable sets exactly the header's
// (capset, version 3: two 32-bit halves), then raises the ambient ones. An ambient capability
// the kernel refuses (not permitted and inheritable) is left out, as runc does.
func setCapabilities(ctl uintptr, base uintptr) {
	var hdr [8]byte
	var data [24]byte
	runtime.Store32(&hdr, 0, capVersion3)
	eff := runtime.Load64(base, cfgCommandCapEff)
	perm := runtime.Load64(base, cfgCommandCapPerm)
	inh := runtime.Load64(base, cfgCommandCapInh)
	runtime.Store32(&data, 0, eff&0xffffffff)
	runtime.Store32(&data, 4, perm&0xffffffff)
	runtime.Store32(&data, 8, inh&0xffffffff)
	runtime.Store32(&data, 12, eff>>32)
	runtime.Store32(&data, 16, perm>>32)
	runtime.Store32(&data, 20, inh>>32)
	r := runtime.Syscall(runtime.SYS_CAPSET, &hdr, &data)
	if failed(r) {
		childFails(ctl, stageCaps, r)
	}
	runtime.Syscall(runtime.SYS_PRCTL, prCapAmbient, prCapAmbientClear, 0, 0, 0)
	ambient := runtime.Load64(base, cfgCommandCapAmbient)
	bit := uint64(0)
	for bit < 64 {
		if (ambient>>bit)&1 != 0 {
			runtime.Syscall(runtime.SYS_PRCTL, prCapAmbient, prCapAmbientRaise, bit, 0, 0)
		}
		bit++
	}
}

// asUser applies the command's options (the header at base) in this order: the working directory
// (made as root when missing, as docker makes a missing WorkingDir), the resource limits and
// oom_score_adj, the container's user namespace (userns: its fd, or -1 for none), the
// supplementary groups, the gid, the capabilities' bounding set, the uid, the other capability
// sets, no_new_privs. Without command_flag_capabilities a non-root uid gets no capabilities
// (bounding set and ambient dropped; setuid then clears the effective and permitted ones, or in a
// user namespace, whose root the guest's is not, execve leaves none) and root keeps all. A failed
// step ends the child.
func asUser(ctl uintptr, base uintptr, cwd uintptr, userns int64) {
	flags := runtime.Load32(base, cfgCommandFlags)
	if flags&flagChdir != 0 {
		var dir [4096]byte
		n := int64(0)
		for n < 4095 && cwd+uintptr(n) < base+cfgCommandMax && runtime.Load8(cwd, n) != 0 {
			dir[n] = runtime.Load8(cwd, n)
			n++
		}
		r := int64(-runtime.ENAMETOOLONG)
		if cwd+uintptr(n) < base+cfgCommandMax && runtime.Load8(cwd, n) == 0 {
			r = makeDirs(&dir)
			if !failed(r) {
				r = runtime.Syscall(runtime.SYS_CHDIR, &dir)
			}
		}
		if failed(r) {
			childFails(ctl, stageChdir, r)
		}
	}
	limits(ctl, base)
	setIds := flags&flagSetIds != 0
	if userns >= 0 {
		// after the limits (raising a hard one needs CAP_SYS_RESOURCE in the guest's namespace);
		// the ids are then the namespace's, its root's unless the command names others: the
		// guest's root is not mapped in it
		r := runtime.Syscall(runtime.SYS_SETNS, userns, runtime.CLONE_NEWUSER)
		if failed(r) {
			childFails(ctl, stageUserNs, r)
		}
		setIds = true
	}
	caps := flags&flagCaps != 0
	uid := uint32(0)
	if setIds {
		gid := uint32(0)
		groups := uint32(0)
		if flags&flagSetIds != 0 {
			uid = runtime.Load32(base, cfgCommandUid)
			gid = runtime.Load32(base, cfgCommandGid)
			groups = runtime.Load32(base, cfgCommandNgroups)
		}
		r := runtime.Syscall(runtime.SYS_SETGROUPS, groups, base+cfgCommandGroups)
		if failed(r) {
			childFails(ctl, stageSetgroups, r)
		}
		r = runtime.Syscall(runtime.SYS_SETGID, gid)
		if failed(r) {
			childFails(ctl, stageSetgid, r)
		}
	}
	if caps || uid != 0 {
		keep := uint64(0)
		if caps {
			keep = runtime.Load64(base, cfgCommandCapBounding)
		}
		r := dropBounding(keep)
		if !failed(r) && caps && uid != 0 {
			r = runtime.Syscall(runtime.SYS_PRCTL, prSetKeepcaps, 1, 0, 0, 0) // the permitted set survives setuid
		}
		if !failed(r) && !caps {
			r = runtime.Syscall(runtime.SYS_PRCTL, prCapAmbient, prCapAmbientClear, 0, 0, 0)
		}
		if failed(r) {
			childFails(ctl, stageCaps, r)
		}
	}
	if setIds {
		r := runtime.Syscall(runtime.SYS_SETUID, uid)
		if failed(r) {
			childFails(ctl, stageSetuid, r)
		}
	}
	if caps {
		setCapabilities(ctl, base)
	}
	if flags&flagNoNewPrivs != 0 {
		r := runtime.Syscall(runtime.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0)
		if failed(r) {
			childFails(ctl, stageNoNewPrivs, r)
		}
	}
}

// pathOf finds PATH= among the command's environment: its value, or 0 when there is none.
func pathOf(envp uintptr) uintptr {
	k := uintptr(0)
	for {
		e := uintptr(runtime.Load64(envp, k*8))
		if e == 0 {
			return 0
		}
		if runtime.Load8(e, 0) == 'P' && runtime.Load8(e, 1) == 'A' && runtime.Load8(e, 2) == 'T' && runtime.Load8(e, 3) == 'H' && runtime.Load8(e, 4) == '=' {
			return e + 5
		}
		k++
	}
}

// child runs in the forked process, its stdio in place (childStdio): the command's options
// (asUser; userns: the container's user namespace, or -1), then execve. A name without a slash is
// looked for in the directories of the command's PATH (without one: the default PATH). Only if
// every execve fails does it get here: it leaves the errno in the mailbox and exits 127.
func child(ctl uintptr, base uintptr, path uintptr, argv uintptr, envp uintptr, cwd uintptr, userns int64) {
	asUser(ctl, base, cwd, userns)
	slash := false
	n := uintptr(0)
	for runtime.Load8(path, n) != 0 {
		if runtime.Load8(path, n) == '/' {
			slash = true
		}
		n++
	}
	r := int64(-runtime.ENOENT)
	if slash {
		r = runtime.Syscall(runtime.SYS_EXECVE, path, argv, envp)
	} else if n > 0 && n < 4000 {
		// the PATH the command gets (an image's own, e.g. /usr/local/bin first), as execvp does
		dirs := pathOf(envp)
		if dirs == 0 {
			dirs = uintptr("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		}
		var full [4096]byte
		room := int64(4096) - int64(n) - 2
		d := int64(0)
		for {
			k := int64(0)
			for runtime.Load8(dirs, d) != 0 && runtime.Load8(dirs, d) != ':' {
				if k < room {
					full[k] = runtime.Load8(dirs, d)
				}
				k++
				d++
			}
			if k == 0 { // an empty entry is the working directory
				full[0] = '.'
				k = 1
			}
			if k < room {
				full[k] = '/'
				k++
				i := uintptr(0)
				for i <= n {
					full[k] = runtime.Load8(path, i)
					k++
					i++
				}
				e := runtime.Syscall(runtime.SYS_EXECVE, &full, argv, envp)
				if e != -runtime.ENOENT && e != -runtime.ENOTDIR {
					r = e
				}
			}
			if runtime.Load8(dirs, d) == 0 {
				break
			}
			d++
		}
	}
	childFails(ctl, stageExecve, r)
}

// The container root's writable layer, for commands with command_flag_root_writes (the host
// copies the container's writes out with them): init's own busybox and the overlay's upper
// directory, opened O_PATH and close-on-exec before switchRoot hides both (layerBytes in main,
// each fd -1, or a negative errno, when there is none: no container, or a root without overlay),
// and the layer's fingerprint once the container is set up (layerPrint; 0: none). With them, the
// container's user namespace its commands join (-1: none), which init's own tool does not.
const (
	layerBytes = 48
	lBusybox   = 0  // int64: the initramfs's /bin/busybox
	lUpper     = 8  // int64: /crumble/rw/upper
	lPrint     = 16 // uint64: layerPrint after setupContainer
	lEntries   = 24 // int64: how many entries that print covers
	lSetUpAt   = 32 // int64: CLOCK_REALTIME_COARSE (ns) when it was taken; 0 once a tick has passed
	lUserNs    = 40 // int64: /proc/PID/ns/user of the container's user namespace, close-on-exec
)

// prefetch reads the files of the block root at /crumble/lower, whole and in directory order, into
// the page cache until `budget` bytes are read: a snapshot saved after the setup then holds them,
// and the container's first commands after a restore read no disk, which under emulation costs
// ~50 ms a megabyte. The host asks for it only when it saves such a snapshot, for a root that
// fits the budget. Nothing here can fail the setup: what cannot be read is read later.
func prefetch(budget uint64) {
	if budget == 0 {
		return
	}
	var left [8]byte
	var buf [prefetchChunk]byte
	runtime.Store64(&left, 0, budget)
	dir := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/crumble/lower", runtime.O_RDONLY|runtime.O_DIRECTORY|runtime.O_CLOEXEC, 0)
	if !failed(dir) {
		prefetchTree(dir, 0, &left, &buf)
	}
}

const prefetchChunk = 65536 // prefetch's reads: one buffer for the whole walk

// prefetchTree reads every regular file under the directory open at dir (which it closes) while
// the byte budget the uint64 at left holds lasts, reading through buf (prefetchChunk bytes).
func prefetchTree(dir int64, depth int64, left uintptr, buf uintptr) {
	var ents [direntBytes]byte
	for depth < printDepth && runtime.Load64(left, 0) > 0 {
		n := runtime.Syscall(runtime.SYS_GETDENTS64, dir, &ents, direntBytes)
		if n <= 0 {
			break
		}
		at := int64(0)
		for at+19 < n && runtime.Load64(left, 0) > 0 { // d_reclen 16, d_type 18, d_name 19
			reclen := int64(runtime.Load16(&ents, at+16))
			name := &ents[at+19]
			kind := runtime.Load8(&ents, at+18)
			dot := runtime.Load8(name, 0) == '.' && (runtime.Load8(name, 1) == 0 || runtime.Load8(name, 1) == '.' && runtime.Load8(name, 2) == 0)
			if !dot && kind == dtDir {
				sub := runtime.Syscall(runtime.SYS_OPENAT, dir, name, runtime.O_RDONLY|runtime.O_DIRECTORY|runtime.O_NOFOLLOW|runtime.O_CLOEXEC, 0)
				if !failed(sub) {
					prefetchTree(sub, depth+1, left, buf)
				}
			} else if kind == dtReg {
				fd := runtime.Syscall(runtime.SYS_OPENAT, dir, name, runtime.O_RDONLY|runtime.O_NOFOLLOW|runtime.O_CLOEXEC, 0)
				for !failed(fd) && runtime.Load64(left, 0) > 0 {
					got := runtime.Syscall(runtime.SYS_READ, fd, buf, prefetchChunk)
					if got <= 0 {
						break
					}
					if uint64(got) >= runtime.Load64(left, 0) {
						runtime.Store64(left, 0, 0)
					} else {
						runtime.Store64(left, 0, runtime.Load64(left, 0)-uint64(got))
					}
				}
				if !failed(fd) {
					runtime.Syscall(runtime.SYS_CLOSE, fd)
				}
			}
			if reclen <= 0 {
				at = n
			} else {
				at += reclen
			}
		}
	}
	runtime.Syscall(runtime.SYS_CLOSE, dir)
}

// keepLayer opens what a root_writes command needs, for a block root (the only kind with a
// writable layer of its own); called just before switchRoot.
func keepLayer(layer uintptr, kind uint32) {
	if kind != rootBlock {
		return
	}
	runtime.Store64(layer, lBusybox, runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/bin/busybox", runtime.O_PATH|runtime.O_CLOEXEC, 0))
	runtime.Store64(layer, lUpper, runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/crumble/rw/upper",
		runtime.O_PATH|runtime.O_DIRECTORY|runtime.O_CLOEXEC, 0))
}

// A fingerprint of the writable layer, so that a root_writes command can tell that the container
// wrote nothing (the common case: `podman run --rm IMG true`) without archiving the layer, which
// is most of the copy-back's time under emulation (busybox tar starting after a restore). Every
// write, create, rename, removal (a whiteout), chmod, chown, utime or xattr (an opaque directory)
// sets the ctime of the entry or of its directory to the coarse clock's now, and ctime cannot be
// set back: once that clock has ticked past the print (startCommand waits for it before the
// container's first process), a change shows in some entry's ctime; the mix also takes each
// entry's name, mode, owner, links, size, blocks and mtime. The mount points the setup made are
// in the layer before the print is taken.
const (
	direntBytes  = 2048 // getdents64's buffer, one per directory level
	printDepth   = 64   // a deeper layer has no print: its writes are always archived
	statBytes    = 144  // struct stat (amd64; 128 in the generic table)
	dtDir        = 4
	dtReg        = 8
	clockCoarse  = 5       // CLOCK_REALTIME_COARSE: the clock tmpfs stamps ctimes with
	printEntries = 1 << 40 // the budget of the print at setup (no limit)
)

// entryPrint mixes what a change to an entry changes: its name and its struct stat at st — every
// 8-byte word but st_dev and the atime (which a read may change): st_ino at 8, mode, owner and
// links in 16..40 (laid out differently by amd64 and the generic table, covered whole either
// way), rdev, st_size at 48, blocks, st_mtim at 88, st_ctim at 104.
func entryPrint(st uintptr, name uintptr) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	i := uintptr(0)
	for runtime.Load8(name, i) != 0 {
		h = (h ^ uint64(runtime.Load8(name, i))) * 0x100000001b3
		i++
	}
	at := uintptr(8)
	for at < 120 {
		if at < 72 || at >= 88 {
			h = (h ^ runtime.Load64(st, at)) * 0xff51afd7ed558ccd
			h = h ^ (h >> 33)
		}
		at += 8
	}
	return h * 0xc4ceb9fe1a85ec53
}

// treePrint sums entryPrint over everything under the directory open at dir, which it closes;
// 0 when it cannot tell (an error, deeper than printDepth, or more entries than the budget the
// int64 at left holds, which it counts down).
func treePrint(dir int64, depth int64, left uintptr) uint64 {
	var ents [direntBytes]byte
	var st [statBytes]byte
	sum := uint64(0)
	ok := depth < printDepth
	for ok {
		n := runtime.Syscall(runtime.SYS_GETDENTS64, dir, &ents, direntBytes)
		if n <= 0 {
			ok = n == 0
			break
		}
		at := int64(0)
		for ok && at+19 < n { // d_ino 0, d_off 8, d_reclen 16, d_type 18, d_name 19
			reclen := int64(runtime.Load16(&ents, at+16))
			name := &ents[at+19]
			dot := runtime.Load8(name, 0) == '.' && (runtime.Load8(name, 1) == 0 || runtime.Load8(name, 1) == '.' && runtime.Load8(name, 2) == 0)
			if !dot {
				budget := int64(runtime.Load64(left, 0)) - 1
				runtime.Store64(left, 0, budget)
				ok = budget >= 0 && !failed(runtime.Syscall(runtime.SYS_NEWFSTATAT, dir, name, &st, runtime.AT_SYMLINK_NOFOLLOW))
				sum += entryPrint(&st, name)
				if ok && runtime.Load8(&ents, at+18) == dtDir {
					sub := runtime.Syscall(runtime.SYS_OPENAT, dir, name, runtime.O_RDONLY|runtime.O_DIRECTORY|runtime.O_NOFOLLOW|runtime.O_CLOEXEC, 0)
					below := uint64(0)
					if !failed(sub) {
						below = treePrint(sub, depth+1, left)
					}
					ok = below != 0
					sum += below
				}
			}
			if reclen <= 0 {
				ok = false
			}
			at += reclen
		}
	}
	runtime.Syscall(runtime.SYS_CLOSE, dir)
	if !ok {
		return 0
	}
	return sum | 1
}

// layerPrint is the fingerprint of the writable layer open (O_PATH) at upper: its own entry and
// everything under it, within the budget at left (treePrint); 0 when it cannot tell.
func layerPrint(upper int64, left uintptr) uint64 {
	if upper < 0 {
		return 0
	}
	var st [statBytes]byte
	dir := runtime.Syscall(runtime.SYS_OPENAT, upper, ".", runtime.O_RDONLY|runtime.O_DIRECTORY|runtime.O_CLOEXEC, 0)
	if failed(dir) {
		return 0
	}
	if failed(runtime.Syscall(runtime.SYS_FSTAT, dir, &st)) {
		runtime.Syscall(runtime.SYS_CLOSE, dir)
		return 0
	}
	below := treePrint(dir, 0, left)
	if below == 0 {
		return 0
	}
	return (below + entryPrint(&st, uintptr("."))) | 1
}

// printLayer takes the layer's print at the end of the container's setup, with how many entries
// it covers and the coarse clock's now.
func printLayer(layer uintptr) {
	var left [8]byte
	var ts [16]byte
	runtime.Store64(&left, 0, printEntries)
	runtime.Store64(layer, lPrint, layerPrint(int64(runtime.Load64(layer, lUpper)), &left))
	runtime.Store64(layer, lEntries, printEntries-int64(runtime.Load64(&left, 0)))
	runtime.Syscall(runtime.SYS_CLOCK_GETTIME, clockCoarse, &ts)
	runtime.Store64(layer, lSetUpAt, int64(runtime.Load64(&ts, 0))*1000000000+int64(runtime.Load64(&ts, 8))|1)
}

// tickPastPrint waits, before the container's first process starts, until the coarse clock has
// moved past the print (at most a tick: 4 ms at HZ=250; under emulation it has long moved), so
// that whatever the container changes gets a ctime the print does not hold.
func tickPastPrint(layer uintptr) {
	at := int64(runtime.Load64(layer, lSetUpAt))
	var ts [16]byte
	for at != 0 {
		runtime.Syscall(runtime.SYS_CLOCK_GETTIME, clockCoarse, &ts)
		if int64(runtime.Load64(&ts, 0))*1000000000+int64(runtime.Load64(&ts, 8)) > at {
			runtime.Store64(layer, lSetUpAt, 0)
			at = 0
		} else {
			sleep(500000)
		}
	}
}

// fdPath writes "/proc/self/fd/N" (NUL-terminated) into buf (32 bytes).
func fdPath(buf uintptr, fd int64) {
	prefix := uintptr("/proc/self/fd/")
	i := uintptr(0)
	for runtime.Load8(prefix, i) != 0 {
		runtime.Store8(buf, i, runtime.Load8(prefix, i))
		i++
	}
	digits := int64(1)
	v := fd
	for v >= 10 {
		digits++
		v = v / 10
	}
	v = fd
	k := digits
	for k > 0 {
		k--
		runtime.Store8(buf, i+uintptr(k), '0'+v%10)
		v = v / 10
	}
	runtime.Store8(buf, i+uintptr(digits), 0)
}

// layerChild runs a root_writes command in the child instead of child: init's own busybox (argv[0]
// picks the applet; static, so it needs nothing of the root), as root (the header's ids and
// directory are not applied), in the writable layer. The RTG runtime has neither fchdir nor
// execveat: both go through /proc/self/fd, the container's /proc (init mounted it; a container
// root that replaced it could only run its own code as root, which it may anyway). No layer:
// exec_stage_chdir with ENOENT. A layer as the setup left it (its print unchanged): the command
// is not run, and ends with status 0 and no output (an archive is never empty).
func layerChild(ctl uintptr, layer uintptr, argv uintptr, envp uintptr) {
	busybox := int64(runtime.Load64(layer, lBusybox))
	upper := int64(runtime.Load64(layer, lUpper))
	if busybox < 0 || upper < 0 {
		childFails(ctl, stageChdir, -runtime.ENOENT)
	}
	var left [8]byte // more entries than at setup: changed, and no need to walk the rest
	runtime.Store64(&left, 0, runtime.Load64(layer, lEntries))
	setUp := runtime.Load64(layer, lPrint)
	if setUp != 0 && layerPrint(upper, &left) == setUp {
		runtime.Syscall(runtime.SYS_EXIT_GROUP, 0)
	}
	var path [32]byte
	fdPath(&path, upper)
	r := runtime.Syscall(runtime.SYS_CHDIR, &path)
	if failed(r) {
		childFails(ctl, stageChdir, r)
	}
	fdPath(&path, busybox)
	r = runtime.Syscall(runtime.SYS_EXECVE, &path, argv, envp)
	childFails(ctl, stageExecve, r)
}

// Processes. Each runs in a slot of the io area (its control block and rings, shared with the
// host) and has an entry of init's own in `procs` (procBytes each): its pid, the parent's ends of
// its stdio, and what init knows of its end. Its stdout and stderr go from pipes (or a pty's
// master) into the rings as they come, the stdin ring into a pipe, each as far as there is data
// and room: a host that reads slowly fills a ring and the process then blocks on a full pipe,
// so nothing is lost and neither side holds more than the rings.
const (
	procBytes = 64
	pPid      = 0  // int64: the process's pid; 0: the slot is unused
	pOut      = 8  // int64: the fd stdout (and, with a tty, everything) comes from; -1 when done
	pErr      = 16 // int64: the fd stderr comes from; -1 when done (always, with a tty)
	pIn       = 24 // int64: the fd stdin goes to; -1 when closed or none
	pFlags    = 32 // fTty, fReaped
	pStatus   = 40 // its wait status, once fReaped
	pWinSeq   = 48 // the host's winsize_seq last applied
	pDrained  = 56 // bytes read from its outputs since it was reaped

	fTty     = 1
	fReaped  = 2
	fEofSent = 4 // a tty whose host side closed stdin has been sent VEOF

	// Once a process has ended, at most this much more of each output is read (what its pipes
	// and ring hold, and some): a process it left behind that keeps writing does not keep it open.
	drainMax = 1048576
)

// slotAt gives the address of process slot k in the io area.
func slotAt(cfg uintptr, k uint64) uintptr {
	return cfg + cfgIo + uintptr(k*processStride)
}

// closeFd closes the fd stored at p+at (if any) and marks it closed.
func closeFd(p uintptr, at uintptr) {
	fd := int64(runtime.Load64(p, at))
	if fd >= 0 {
		runtime.Syscall(runtime.SYS_CLOSE, fd)
	}
	runtime.Store64(p, at, -1)
}

// nonBlocking puts the fd (init's end of a pipe or the pty's master) in non-blocking mode.
func nonBlocking(fd int64) {
	runtime.Syscall(runtime.SYS_FCNTL, fd, runtime.F_SETFL, runtime.O_NONBLOCK)
}

// childStdio, in the child before asUser: a session of its own (so the host's signals reach its
// process group and nothing else), and its stdio: with a tty, the pty's other end as the
// controlling terminal on 0, 1 and 2; else the pipes (stdin from /dev/null when in is -1).
// The parent's ends are close-on-exec.
func childStdio(ctl uintptr, tty bool, in int64, out int64, errw int64) {
	runtime.Syscall(runtime.SYS_SETSID)
	if tty {
		peer := runtime.Syscall(runtime.SYS_IOCTL, out, runtime.TIOCGPTPEER, runtime.O_RDWR)
		if failed(peer) {
			childFails(ctl, stageExecve, peer)
		}
		runtime.Syscall(runtime.SYS_DUP3, peer, 0, 0)
		runtime.Syscall(runtime.SYS_DUP3, peer, 1, 0)
		runtime.Syscall(runtime.SYS_DUP3, peer, 2, 0)
		runtime.Syscall(runtime.SYS_CLOSE, peer)
		runtime.Syscall(runtime.SYS_IOCTL, 0, runtime.TIOCSCTTY, 0)
		return
	}
	if in < 0 {
		in = runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/dev/null", runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
	}
	runtime.Syscall(runtime.SYS_DUP3, in, 0, 0)
	runtime.Syscall(runtime.SYS_DUP3, out, 1, 0)
	runtime.Syscall(runtime.SYS_DUP3, errw, 2, 0)
}

// makePipe makes a close-on-exec pipe: read end at buf+0, write end at buf+4 (int32 each).
func makePipe(buf uintptr) int64 {
	return runtime.Syscall(runtime.SYS_PIPE2, buf, runtime.O_CLOEXEC)
}

// openPty opens a new pty's master (non-blocking, close-on-exec), unlocked and rows x cols.
func openPty(rows uint64, cols uint64) int64 {
	m := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/dev/ptmx", runtime.O_RDWR|runtime.O_NOCTTY|runtime.O_NONBLOCK|runtime.O_CLOEXEC, 0)
	if failed(m) {
		return m
	}
	var zero [4]byte
	r := runtime.Syscall(runtime.SYS_IOCTL, m, runtime.TIOCSPTLCK, &zero)
	if failed(r) {
		runtime.Syscall(runtime.SYS_CLOSE, m)
		return r
	}
	setWinsize(m, rows, cols)
	return m
}

// setWinsize sets a pty's size; the kernel tells its foreground process group (SIGWINCH).
func setWinsize(fd int64, rows uint64, cols uint64) {
	var ws [8]byte // struct winsize: rows, cols, xpixel, ypixel (u16 each)
	runtime.Store16(&ws, 0, rows)
	runtime.Store16(&ws, 2, cols)
	runtime.Syscall(runtime.SYS_IOCTL, fd, runtime.TIOCSWINSZ, &ws)
}

// startCommand starts the command at config::command in the slot it names: the stdio it asks
// for, then clone with CLONE_VFORK (init goes on once the child has called execve or failed, so
// the command area, which the child's argv points into, is free again) and the child's steps.
// It signals started either way; a process that could not start has already ended in its slot.
func startCommand(mb uintptr, cfg uintptr, procs uintptr, layer uintptr) {
	base := cfg + cfgCommand
	end := base + cfgCommandMax
	k := uint64(runtime.Load32(base, cfgCommandProcess))
	if k >= processMax || runtime.Load64(procs, k*procBytes+pPid) != 0 {
		// the host names only slots it has freed: there is no slot to report in
		runtime.Store32(base, cfgCommandMagicAt, 0)
		signal(mb, signalStarted)
		return
	}
	p := procs + uintptr(k*procBytes)
	ctl := slotAt(cfg, k)
	runtime.Store32(ctl, procOutHead, 0)
	runtime.Store32(ctl, procErrHead, 0)
	runtime.Store32(ctl, procInTail, 0)
	runtime.Store32(ctl, procSignalAck, 0)
	runtime.Store32(ctl, procExitKind, exitKindExited)
	runtime.Store32(ctl, procExitCode, 0)
	runtime.Store32(ctl, procExecErrno, 0)
	runtime.Store32(ctl, procExecStage, 0)
	runtime.Store32(ctl, procPid, 0)
	runtime.Store64(p, pOut, -1)
	runtime.Store64(p, pErr, -1)
	runtime.Store64(p, pIn, -1)
	runtime.Store64(p, pFlags, 0)
	runtime.Store64(p, pWinSeq, 0)
	runtime.Store64(p, pDrained, 0)
	argc := uint64(runtime.Load32(base, cfgCommandArgc))
	envc := uint64(runtime.Load32(base, cfgCommandEnvc))
	flags := runtime.Load32(base, cfgCommandFlags)
	tty := flags&flagTty != 0
	var ptrs [65536]byte
	var fds [24]byte // three pipes: stdin, stdout, stderr (read end, write end)
	r := int64(0)
	if argc+envc+2 > maxArgs {
		r = -runtime.E2BIG
	} else if uint64(runtime.Load32(base, cfgCommandNgroups)) > cfgCommandGroupsMax {
		runtime.Store32(ctl, procExecStage, stageSetgroups)
		r = -runtime.EINVAL
	} else if tty {
		r = openPty(uint64(runtime.Load32(base, cfgCommandRows)), uint64(runtime.Load32(base, cfgCommandCols)))
		if !failed(r) {
			runtime.Store64(p, pOut, r)
			runtime.Store64(p, pIn, r)
			runtime.Store64(p, pFlags, fTty)
			r = 0
		}
	} else {
		r = makePipe(&fds[8])
		if !failed(r) {
			r = makePipe(&fds[16])
		}
		if !failed(r) && flags&flagStdin != 0 {
			r = makePipe(&fds)
		} else {
			runtime.Store32(&fds, 0, -1)
			runtime.Store32(&fds, 4, -1)
		}
		if !failed(r) {
			runtime.Store64(p, pOut, int64(int32(runtime.Load32(&fds, 8))))
			runtime.Store64(p, pErr, int64(int32(runtime.Load32(&fds, 16))))
			runtime.Store64(p, pIn, int64(int32(runtime.Load32(&fds, 4))))
			// a pipe as large as the ring: fewer trips through the loop for a fast writer
			runtime.Syscall(runtime.SYS_FCNTL, runtime.Load64(p, pOut), runtime.F_SETPIPE_SZ, stdoutRing)
		}
	}
	if failed(r) {
		closeFd(p, pOut)
		if !tty { // every pipe end made so far, the child's too (fds holds -1 or 0 for none)
			k := uintptr(0)
			for k < 24 {
				fd := int64(int32(runtime.Load32(&fds, k)))
				if fd > 2 {
					runtime.Syscall(runtime.SYS_CLOSE, fd)
				}
				k += 4
			}
			runtime.Store64(p, pOut, -1)
			runtime.Store64(p, pErr, -1)
			runtime.Store64(p, pIn, -1)
		}
		runtime.Store32(ctl, procExitKind, exitKindNotStarted)
		runtime.Store32(ctl, procExecErrno, -r)
		runtime.Store32(ctl, procState, processEnded)
		runtime.Store32(base, cfgCommandMagicAt, 0)
		signal(mb, signalStarted)
		return
	}
	path := base + cfgCommandStrings
	q := path
	// argv, envp, then the working directory: each string NUL-terminated, packed after the path
	i := uint64(0)
	for i <= argc+envc && q < end {
		for q < end && runtime.Load8(q, 0) != 0 {
			q++
		}
		q++
		slot := i
		if i >= argc {
			slot = i + 1 // envp starts after argv's terminating null
		}
		if i < argc+envc {
			runtime.Store64(&ptrs, slot*8, q)
		}
		i++
	}
	runtime.Store64(&ptrs, argc*8, 0)
	runtime.Store64(&ptrs, (argc+1+envc)*8, 0)
	tickPastPrint(layer)
	pid := runtime.Syscall(runtime.SYS_CLONE, runtime.CLONE_VFORK|runtime.SIGCHLD, 0, 0, 0, 0)
	if pid == 0 {
		if tty {
			childStdio(ctl, true, 0, int64(runtime.Load64(p, pOut)), 0)
		} else {
			childStdio(ctl, false, int64(int32(runtime.Load32(&fds, 0))), int64(int32(runtime.Load32(&fds, 12))), int64(int32(runtime.Load32(&fds, 20))))
		}
		if flags&flagRootWrites != 0 {
			layerChild(ctl, layer, &ptrs, &ptrs[(argc+1)*8])
		}
		child(ctl, base, path, &ptrs, &ptrs[(argc+1)*8], q, int64(runtime.Load64(layer, lUserNs)))
	}
	if !tty { // the child's ends
		runtime.Syscall(runtime.SYS_CLOSE, int64(int32(runtime.Load32(&fds, 12))))
		runtime.Syscall(runtime.SYS_CLOSE, int64(int32(runtime.Load32(&fds, 20))))
		if flags&flagStdin != 0 {
			runtime.Syscall(runtime.SYS_CLOSE, int64(int32(runtime.Load32(&fds, 0))))
		}
	}
	nonBlocking(int64(runtime.Load64(p, pOut)))
	if !tty {
		nonBlocking(int64(runtime.Load64(p, pErr)))
		if flags&flagStdin != 0 {
			nonBlocking(int64(runtime.Load64(p, pIn)))
		}
	}
	if failed(pid) {
		closeFd(p, pOut)
		closeFd(p, pErr)
		if !tty {
			closeFd(p, pIn)
		}
		runtime.Store64(p, pIn, -1)
		runtime.Store32(ctl, procExitKind, exitKindNotStarted)
		runtime.Store32(ctl, procExecErrno, -pid)
		runtime.Store32(ctl, procState, processEnded)
	} else {
		runtime.Store64(p, pPid, pid)
		runtime.Store32(ctl, procPid, pid)
		runtime.Store32(ctl, procState, processRunning)
	}
	runtime.Store32(base, cfgCommandMagicAt, 0)
	signal(mb, signalStarted)
}

// before gives how many of `count` bytes from ring position pos lie before the ring's end (size a
// power of two): one read or write reaches that far, the rest comes with the next.
func before(pos uint32, count uint64, size uint64) uint64 {
	off := uint64(pos) & (size - 1)
	if count > size-off {
		return size - off
	}
	return count
}

// fill reads from the fd at p+at into a ring (the head at ctl+head, the host's tail at
// ctl+head+4) as far as there is room: 1 when it moved bytes, 0 when the ring is full, 2 when
// nothing waits in the fd (EAGAIN), -1 when the fd has ended (EOF; EIO from a pty whose other
// end is closed) and is now closed.
func fill(ctl uintptr, p uintptr, at uintptr, head uintptr, ring uintptr, size uint64) int64 {
	fd := int64(runtime.Load64(p, at))
	if fd < 0 {
		return -1
	}
	h := runtime.Load32(ctl, head)
	used := uint64(h - runtime.Load32(ctl, head+4))
	if used >= size {
		return 0
	}
	r := runtime.Syscall(runtime.SYS_READ, fd, ring+uintptr(uint64(h)&(size-1)), before(h, size-used, size))
	if r > 0 {
		runtime.Store32(ctl, head, h+uint32(r))
		return 1
	}
	if r == -runtime.EAGAIN || r == -runtime.EINTR {
		return 2
	}
	closeFd(p, at)
	return -1
}

// feed writes what waits in the stdin ring to the process's stdin; once the host has closed its
// end and everything is written, closes the pipe (the process reads EOF). A process that closed
// its stdin loses what the host sends after (EPIPE): it is taken and dropped.
func feed(ctl uintptr, p uintptr, ring uintptr) int64 {
	fd := int64(runtime.Load64(p, pIn))
	if fd < 0 {
		return 0
	}
	flags := runtime.Load64(p, pFlags)
	tty := flags&fTty != 0
	// closed first: the host sets it after its last head, so a head read after it is final
	closed := runtime.Load32(ctl, procInClosed) != 0
	h := runtime.Load32(ctl, procInHead)
	t := runtime.Load32(ctl, procInTail)
	avail := uint64(h - t)
	if avail > stdinRing {
		avail = 0 // not a position the host wrote
	}
	if avail == 0 {
		if closed && !tty {
			closeFd(p, pIn)
			return 1
		}
		if closed && flags&fEofSent == 0 {
			// a terminal has no end of input but the one a user types: VEOF (^D), once
			var eof [1]byte
			eof[0] = 4
			runtime.Syscall(runtime.SYS_WRITE, fd, &eof, 1)
			runtime.Store64(p, pFlags, flags|fEofSent)
			return 1
		}
		return 0
	}
	r := runtime.Syscall(runtime.SYS_WRITE, fd, ring+uintptr(uint64(t)&(stdinRing-1)), before(t, avail, stdinRing))
	if r > 0 {
		runtime.Store32(ctl, procInTail, t+uint32(r))
		return 1
	}
	if r == -runtime.EAGAIN || r == -runtime.EINTR {
		return 0
	}
	runtime.Store32(ctl, procInTail, h)
	if !tty {
		closeFd(p, pIn)
	}
	return 1
}

// pump moves one process's bytes and the host's requests for it: signals for its process group
// (or the process alone), a new terminal size; its stdout and stderr into their rings and the stdin ring into it. Once
// the process has been reaped, each output fd is read until it is empty or ended, or drainMax
// more bytes have come (what a process it left behind writes later is not waited for), and then the process ends in its slot: the exit
// fields, then state ended, last. 1 when anything moved.
func pump(cfg uintptr, procs uintptr, k uint64) int64 {
	p := procs + uintptr(k*procBytes)
	ctl := slotAt(cfg, k)
	pid := int64(runtime.Load64(p, pPid))
	moved := int64(0)
	seq := runtime.Load32(ctl, procSignalSeq)
	if seq != runtime.Load32(ctl, procSignalAck) {
		// the signal's number, and whether it goes to the process alone (an OCI runtime's kill,
		// as runc) or to its whole group (crumble run: a shell's pipeline goes with it)
		word := runtime.Load32(ctl, procSignal)
		sig := int64(word & 0xff)
		to := -pid
		if word&signalProcessOnly != 0 {
			to = pid
		}
		if sig >= 1 && sig <= 64 && word>>9 == 0 && runtime.Load64(p, pFlags)&fReaped == 0 {
			runtime.Syscall(runtime.SYS_KILL, to, sig)
		}
		runtime.Store32(ctl, procSignalAck, seq)
		moved = 1
	}
	flags := runtime.Load64(p, pFlags)
	if flags&fTty != 0 && uint64(runtime.Load32(ctl, procWinsizeSeq)) != runtime.Load64(p, pWinSeq) && int64(runtime.Load64(p, pOut)) >= 0 {
		runtime.Store64(p, pWinSeq, runtime.Load32(ctl, procWinsizeSeq))
		setWinsize(int64(runtime.Load64(p, pOut)), uint64(runtime.Load32(ctl, procRows)), uint64(runtime.Load32(ctl, procCols)))
		moved = 1
	}
	reaped := flags&fReaped != 0
	slot := cfg + cfgIo + uintptr(k*processStride)
	heads := runtime.Load32(ctl, procOutHead) + runtime.Load32(ctl, procErrHead)
	r := fill(ctl, p, pOut, procOutHead, slot+processStdout, stdoutRing)
	if r == 1 {
		moved = 1
	}
	if r == 2 && reaped {
		closeFd(p, pOut)
	}
	r = fill(ctl, p, pErr, procErrHead, slot+processStderr, stderrRing)
	if r == 1 {
		moved = 1
	}
	if r == 2 && reaped {
		closeFd(p, pErr)
	}
	if reaped {
		d := runtime.Load64(p, pDrained) + uint64(runtime.Load32(ctl, procOutHead)+runtime.Load32(ctl, procErrHead)-heads)
		runtime.Store64(p, pDrained, d)
		if d > drainMax {
			closeFd(p, pOut)
			closeFd(p, pErr)
		}
	}
	if flags&fTty != 0 && int64(runtime.Load64(p, pOut)) < 0 {
		runtime.Store64(p, pIn, -1) // the same fd: closed with it
	}
	if feed(ctl, p, slot+processStdin) != 0 {
		moved = 1
	}
	if reaped && int64(runtime.Load64(p, pOut)) < 0 && int64(runtime.Load64(p, pErr)) < 0 {
		if runtime.Load64(p, pFlags)&fTty == 0 {
			closeFd(p, pIn)
		}
		st := runtime.Load64(p, pStatus)
		if st&0x7f == 0 {
			code := (st >> 8) & 0xff
			runtime.Store32(ctl, procExitCode, code)
			if code == 127 && runtime.Load32(ctl, procExecErrno) != 0 {
				runtime.Store32(ctl, procExitKind, exitKindNotStarted)
			}
		} else {
			runtime.Store32(ctl, procExitKind, exitKindSignaled)
			runtime.Store32(ctl, procExitCode, st&0x7f)
		}
		runtime.Store32(ctl, procState, processEnded)
		runtime.Store64(p, pPid, 0)
		moved = 1
	}
	return moved
}

// reap collects every child that has ended: a command's process is marked reaped in its entry;
// processes a command left behind (init's children once their parent exits) just go, so they do
// not stay zombies for the life of the VM.
func reap(procs uintptr) {
	var st [8]byte
	for {
		w := runtime.Syscall(runtime.SYS_WAIT4, -1, &st, runtime.WNOHANG, 0)
		if w <= 0 {
			return
		}
		k := uint64(0)
		for k < processMax {
			p := procs + uintptr(k*procBytes)
			if int64(runtime.Load64(p, pPid)) == w {
				runtime.Store64(p, pStatus, runtime.Load32(&st, 0))
				runtime.Store64(p, pFlags, runtime.Load64(p, pFlags)|fReaped)
			}
			k++
		}
	}
}

// waitIo sleeps until a process's fd can be read (its ring has room) or written (the stdin ring
// has bytes), or `ns` has passed (the host's requests and positions are in memory, which no fd
// tells of).
func waitIo(cfg uintptr, procs uintptr, ns int64) {
	var fds [128]byte // struct pollfd (int fd, short events, short revents), 3 per slot
	n := uint64(0)
	k := uint64(0)
	for k < processMax {
		p := procs + uintptr(k*procBytes)
		ctl := slotAt(cfg, k)
		if runtime.Load64(p, pPid) != 0 && runtime.Load64(p, pFlags)&fReaped == 0 {
			out := int64(runtime.Load64(p, pOut))
			if out >= 0 && uint64(runtime.Load32(ctl, procOutHead)-runtime.Load32(ctl, procOutTail)) < stdoutRing {
				runtime.Store32(&fds, n*8, out)
				runtime.Store32(&fds, n*8+4, runtime.POLLIN)
				n++
			}
			e := int64(runtime.Load64(p, pErr))
			if e >= 0 && uint64(runtime.Load32(ctl, procErrHead)-runtime.Load32(ctl, procErrTail)) < stderrRing {
				runtime.Store32(&fds, n*8, e)
				runtime.Store32(&fds, n*8+4, runtime.POLLIN)
				n++
			}
			in := int64(runtime.Load64(p, pIn))
			if in >= 0 && runtime.Load32(ctl, procInHead) != runtime.Load32(ctl, procInTail) {
				runtime.Store32(&fds, n*8, in)
				runtime.Store32(&fds, n*8+4, runtime.POLLOUT)
				n++
			}
		}
		k++
	}
	var ts [16]byte
	runtime.Store64(&ts, 8, ns)
	runtime.Syscall(runtime.SYS_PPOLL, &fds, n, &ts, 0, 0)
}

// stringAfter gives the address just past the NUL of the string at p: the next string; 0 when
// the string has no NUL before end (or p is 0).
func stringAfter(p uintptr, end uintptr) uintptr {
	for p != 0 && p < end {
		if runtime.Load8(p, 0) == 0 {
			return p + 1
		}
		p++
	}
	return 0
}

// underRoot writes "/mnt" + path into buf (4096 bytes); false when it does not fit.
func underRoot(buf uintptr, path uintptr) bool {
	runtime.Store32(buf, 0, runtime.Load32(uintptr("/mnt"), 0))
	i := uintptr(0)
	for runtime.Load8(path, i) != 0 {
		if i >= 4090 {
			return false
		}
		runtime.Store8(buf, 4+i, runtime.Load8(path, i))
		i++
	}
	runtime.Store8(buf, 4+i, 0)
	return true
}

// mountVolume mounts a volume's virtio-fs share at target. Its source is "TAG", the share's
// root, or "TAG/NAME": the share's root holds the host directory as NAME, bound alone at target,
// so that its root in /proc/self/mountinfo is /NAME, as a bind mount of the host directory's
// would be (runtime-tools checks it). 0 or the negative errno.
func mountVolume(source uintptr, target uintptr, flags int64, data uintptr) int64 {
	var tag [40]byte
	i := uintptr(0)
	for runtime.Load8(source, i) != 0 && runtime.Load8(source, i) != '/' {
		if i >= 39 {
			return -runtime.ENAMETOOLONG
		}
		runtime.Store8(&tag, i, runtime.Load8(source, i))
		i++
	}
	runtime.Store8(&tag, i, 0)
	r := runtime.Syscall(runtime.SYS_MOUNT, &tag, target, "virtiofs", flags, data)
	if failed(r) || runtime.Load8(source, i) == 0 {
		return r
	}
	// NAME cloned from the share (the clone keeps its read-only flag), the share's root
	// unmounted, the clone put in its place (target resolved as mount(2) did: a symlink in its
	// last component followed)
	share := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, target, runtime.O_PATH|runtime.O_DIRECTORY|runtime.O_CLOEXEC, 0)
	tree := share
	if !failed(share) {
		tree = runtime.Syscall(runtime.SYS_OPEN_TREE, share, source+i+1, runtime.OPEN_TREE_CLONE|runtime.OPEN_TREE_CLOEXEC|runtime.AT_SYMLINK_NOFOLLOW)
		runtime.Syscall(runtime.SYS_CLOSE, share)
	}
	runtime.Syscall(runtime.SYS_UMOUNT2, target, runtime.MNT_DETACH)
	if failed(tree) {
		return tree
	}
	r = runtime.Syscall(runtime.SYS_MOVE_MOUNT, tree, "", runtime.AT_FDCWD, target, runtime.MOVE_MOUNT_F_EMPTY_PATH|runtime.MOVE_MOUNT_T_SYMLINKS)
	runtime.Syscall(runtime.SYS_CLOSE, tree)
	return r
}

// sameString tells whether the NUL-terminated strings at a and b are equal.
func sameString(a uintptr, b uintptr) bool {
	i := uintptr(0)
	for runtime.Load8(a, i) == runtime.Load8(b, i) {
		if runtime.Load8(a, i) == 0 {
			return true
		}
		i++
	}
	return false
}

// mountBlockRoot mounts the block device `source` (fstype) read-only at /crumble/lower, waiting
// for its node: the driver was loaded just now (the modules step), and the disk appears
// asynchronously. 0 or the negative errno.
func mountBlockRoot(source uintptr, fstype uintptr) int64 {
	r := makeDir(uintptr("/crumble")) // there only when the initramfs has modules
	if !failed(r) {
		r = makeDir(uintptr("/crumble/lower"))
	}
	waited := int64(0)
	for !failed(r) || r == -runtime.ENOENT || r == -runtime.ENXIO {
		r = runtime.Syscall(runtime.SYS_MOUNT, source, "/crumble/lower", fstype, runtime.MS_RDONLY, 0)
		if (r != -runtime.ENOENT && r != -runtime.ENXIO) || waited >= deviceWaitNs {
			return r
		}
		sleep(deviceTryNs)
		waited += deviceTryNs
	}
	return r
}

// containerMounts mounts inside the new root what a container expects; 0 or the negative errno.
func containerMounts() int64 {
	r := mountOn(uintptr("proc"), uintptr("/mnt/proc"), uintptr("proc"), runtime.MS_NOSUID|runtime.MS_NODEV|runtime.MS_NOEXEC, 0)
	if !failed(r) {
		r = mountOn(uintptr("sysfs"), uintptr("/mnt/sys"), uintptr("sysfs"), runtime.MS_NOSUID|runtime.MS_NODEV|runtime.MS_NOEXEC, 0)
	}
	if !failed(r) {
		r = mountOn(uintptr("devtmpfs"), uintptr("/mnt/dev"), uintptr("devtmpfs"), runtime.MS_NOSUID, 0)
	}
	if !failed(r) {
		r = mountOn(uintptr("devpts"), uintptr("/mnt/dev/pts"), uintptr("devpts"), runtime.MS_NOSUID|runtime.MS_NOEXEC,
			uintptr("newinstance,ptmxmode=0666,mode=0620"))
	}
	if !failed(r) {
		r = mountOn(uintptr("shm"), uintptr("/mnt/dev/shm"), uintptr("tmpfs"), runtime.MS_NOSUID|runtime.MS_NODEV, uintptr("mode=1777"))
	}
	if !failed(r) {
		r = mountOn(uintptr("tmpfs"), uintptr("/mnt/tmp"), uintptr("tmpfs"), runtime.MS_NOSUID|runtime.MS_NODEV, uintptr("mode=1777"))
	}
	if !failed(r) {
		r = mountOn(uintptr("tmpfs"), uintptr("/mnt/run"), uintptr("tmpfs"), runtime.MS_NOSUID|runtime.MS_NODEV, uintptr("mode=0755"))
	}
	return r
}

// likeLowerRoot gives dir, the overlay's upper directory, the owner and mode of the block root's
// own root (/crumble/lower): the overlay's root is the upper directory, so a root the image gives
// another owner (podman's copy chowned for a user namespace) stays that owner's. 0 or the errno.
func likeLowerRoot(dir uintptr) int64 {
	var st [statBytes]byte
	r := runtime.Syscall(runtime.SYS_NEWFSTATAT, runtime.AT_FDCWD, "/crumble/lower", &st, 0)
	if failed(r) {
		return r
	}
	// st_mode, st_uid and st_gid: amd64's struct stat has a 64-bit st_nlink before them
	mode := runtime.Load32(&st, 16)
	uid := runtime.Load32(&st, 24)
	gid := runtime.Load32(&st, 28)
	if runtime.GOARCH == "amd64" {
		mode = runtime.Load32(&st, 24)
		uid = runtime.Load32(&st, 28)
		gid = runtime.Load32(&st, 32)
	}
	r = runtime.Syscall(runtime.SYS_FCHOWNAT, runtime.AT_FDCWD, dir, uid, gid, 0)
	if !failed(r) {
		r = runtime.Syscall(runtime.SYS_FCHMODAT, runtime.AT_FDCWD, dir, mode&07777)
	}
	return r
}

// switchRoot makes /mnt the root: pivot_root, the old root unmounted; where pivot_root is refused
// (EINVAL: the root is the initramfs itself, always ours) the fallback, as switch_root does:
// move /mnt onto / and chroot into it. 0 or the negative errno.
func switchRoot() int64 {
	r := makeDir(uintptr("/mnt/.crumble-old"))
	if failed(r) {
		return r
	}
	r = runtime.Syscall(runtime.SYS_PIVOT_ROOT, "/mnt", "/mnt/.crumble-old")
	if !failed(r) {
		runtime.Syscall(runtime.SYS_CHDIR, "/")
		r = runtime.Syscall(runtime.SYS_UMOUNT2, "/.crumble-old", runtime.MNT_DETACH)
		runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, "/.crumble-old", runtime.AT_REMOVEDIR)
		return r
	}
	runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, "/mnt/.crumble-old", runtime.AT_REMOVEDIR)
	if r != -runtime.EINVAL {
		return r
	}
	r = runtime.Syscall(runtime.SYS_CHDIR, "/mnt")
	if !failed(r) {
		r = runtime.Syscall(runtime.SYS_MOUNT, ".", "/", 0, runtime.MS_MOVE, 0)
	}
	if !failed(r) {
		r = runtime.Syscall(runtime.SYS_CHROOT, ".")
	}
	if !failed(r) {
		r = runtime.Syscall(runtime.SYS_CHDIR, "/")
	}
	return r
}

// fileAfter checks the file record at rec (layout.hpp, CONTAINER_FILE) against end, the end of
// the command area: a known kind, flags and mode (a device's with its node type), an absolute
// path of 1 to 4000 bytes with its NUL and no other (the root itself only to make it read-only),
// all before end, and the content its kind needs: a tmpfs's options and a symlink's target
// NUL-terminated, a mount's three strings, a device's 8 bytes, nothing for masked and read-only
// paths, a sysctl under /proc/sys/. The address of the next record; 0 when this one is malformed.
func fileAfter(rec uintptr, end uintptr) uintptr {
	if rec == 0 || rec+cfgFileHeader > end {
		return 0
	}
	kind := runtime.Load32(rec, cfgFileKind)
	n := uintptr(runtime.Load32(rec, cfgFilePathLen))
	size := uintptr(runtime.Load32(rec, cfgFileSize))
	mode := runtime.Load32(rec, cfgFileMode)
	path := rec + cfgFileHeader
	if kind < fileCopy || kind > fileSysctl || runtime.Load32(rec, cfgFileFlags)&^fileMountFlags != 0 {
		return 0
	}
	if kind == fileDevice {
		t := mode & runtime.S_IFMT
		if (t != runtime.S_IFCHR && t != runtime.S_IFBLK && t != runtime.S_IFIFO) || size != 8 {
			return 0
		}
		mode &^= runtime.S_IFMT
	}
	if mode > 07777 {
		return 0
	}
	if n < 1 || n > 4000 || size > end-path || n+1 > end-path-size {
		return 0
	}
	if runtime.Load8(path, 0) != '/' || stringAfter(path, end) != path+n+1 || (n == 1 && kind != fileReadOnly) {
		return 0
	}
	content := path + n + 1
	if (kind == fileTmpfs || kind == fileSymlink) && (size == 0 || runtime.Load8(content, size-1) != 0) {
		return 0
	}
	if kind == fileMount && stringAfter(stringAfter(stringAfter(content, content+size), content+size), content+size) != content+size {
		return 0
	}
	if (kind == fileMasked || kind == fileReadOnly) && size != 0 {
		return 0
	}
	if kind == fileSysctl && (n < 11 || runtime.Load64(path, 0) != runtime.Load64(uintptr("/proc/sys/"), 0) || runtime.Load16(path, 8) != runtime.Load16(uintptr("/proc/sys/"), 8)) {
		return 0
	}
	return (content + size + 7) &^ 7
}

// filesFit tells whether the request's `files` records, from offset `at` of the command area
// (base), lie past its strings (which end at stringsEnd) and inside it, each well-formed.
func filesFit(base uintptr, stringsEnd uintptr, files uint64, at uint64) bool {
	if files > cfgCtrFilesMax {
		return false
	}
	if files == 0 {
		return true
	}
	if at%8 != 0 || at > cfgCommandMax || base+uintptr(at) < stringsEnd {
		return false
	}
	rec := base + uintptr(at)
	i := uint64(0)
	for i < files && rec != 0 {
		rec = fileAfter(rec, base+cfgCommandMax)
		i++
	}
	return rec != 0
}

// procFile writes "/proc/PID" and name (at most 20 bytes) into buf (at least 48 bytes).
func procFile(buf uintptr, pid int64, name uintptr) {
	prefix := uintptr("/proc/")
	n := int64(0)
	for n < 6 {
		runtime.Store8(buf, n, runtime.Load8(prefix, n))
		n++
	}
	n += decimal(buf+6, pid)
	k := uintptr(0)
	for k < 20 && runtime.Load8(name, k) != 0 {
		runtime.Store8(buf, uintptr(n)+k, runtime.Load8(name, k))
		k++
	}
	runtime.Store8(buf, uintptr(n)+k, 0)
}

// writeProcFile writes n bytes at s to /proc/PID/NAME in one write; 0 or the negative errno.
func writeProcFile(pid int64, name uintptr, s uintptr, n int64) int64 {
	var path [48]byte
	procFile(&path, pid, name)
	return writeFile(&path, s, n)
}

// writeAll writes n bytes at p to fd; 0 or the negative errno (EIO when nothing more goes).
func writeAll(fd int64, p uintptr, n uintptr) int64 {
	for n > 0 {
		r := runtime.Syscall(runtime.SYS_WRITE, fd, p, n)
		if failed(r) {
			return r
		}
		if r == 0 {
			return -runtime.EIO
		}
		p += uintptr(r)
		n -= uintptr(r)
	}
	return 0
}

// mountPoint makes sure a file is at path to bind-mount on: an empty one is made when none is
// there (as runc makes its mount points); a symlink there (an image's /etc/resolv.conf into a
// /run that is empty here) is replaced, save in a virtio-fs root, which is the host's directory
// (ELOOP then). A directory there is EISDIR. 0 or the negative errno.
func mountPoint(path uintptr, kind uint32) int64 {
	flags := runtime.O_RDONLY | runtime.O_CREAT | runtime.O_NOFOLLOW | runtime.O_NONBLOCK | runtime.O_CLOEXEC
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, flags, 0644)
	if fd == -runtime.ELOOP && kind != rootVirtiofs {
		r := runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, path, 0)
		if failed(r) {
			return r
		}
		fd = runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, flags, 0644)
	}
	if failed(fd) {
		return fd
	}
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	return 0
}

// remountReadOnly makes the mount at path read-only, keeping its nosuid, nodev and noexec
// (statfs's f_flags: ST_NOSUID, ST_NODEV and ST_NOEXEC are MS_NOSUID, MS_NODEV and MS_NOEXEC);
// a bind remount sets exactly the flags it is given. 0 or the negative errno.
func remountReadOnly(path uintptr) int64 {
	var st [120]byte // struct statfs; f_flags at 80 on 64-bit Linux
	r := runtime.Syscall(runtime.SYS_STATFS, path, &st)
	if failed(r) {
		return r
	}
	keep := int64(runtime.Load64(&st, 80)) & (runtime.MS_NOSUID | runtime.MS_NODEV | runtime.MS_NOEXEC)
	return runtime.Syscall(runtime.SYS_MOUNT, 0, path, 0, runtime.MS_REMOUNT|runtime.MS_BIND|runtime.MS_RDONLY|keep, 0)
}

// placeOver applies the records that change what is already in the container, nothing when
// the path is missing (as runc): masked (/dev/null bound over a file, a read-only tmpfs over a
// directory: binding a file on a directory is ENOTDIR), read-only (bound on itself, remounted
// read-only; the root is remounted only), sysctl (the content written to the /proc/sys file,
// which the kernel makes; none is created). 0 or the negative errno.
func placeOver(rec uintptr, kind uint32, path uintptr, content uintptr, size uintptr) int64 {
	r := int64(0)
	if kind == fileSysctl {
		fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, runtime.O_WRONLY|runtime.O_TRUNC|runtime.O_NOFOLLOW|runtime.O_CLOEXEC, 0)
		if failed(fd) {
			return fd
		}
		r = writeAll(fd, content, size)
		runtime.Syscall(runtime.SYS_CLOSE, fd)
		return r
	}
	if kind == fileMasked {
		r = runtime.Syscall(runtime.SYS_MOUNT, "/dev/null", path, 0, runtime.MS_BIND, 0)
		if r == -runtime.ENOTDIR {
			r = runtime.Syscall(runtime.SYS_MOUNT, "tmpfs", path, "tmpfs", runtime.MS_RDONLY, 0)
		}
		if r == -runtime.ENOENT {
			return 0
		}
		return r
	}
	if runtime.Load8(path, 1) != 0 { // not the root: bound on itself first
		r = runtime.Syscall(runtime.SYS_MOUNT, path, path, 0, runtime.MS_BIND|runtime.MS_REC, 0)
		if r == -runtime.ENOENT {
			return 0
		}
	}
	if !failed(r) {
		r = remountReadOnly(path)
	}
	return r
}

// placeNode makes a device node (mode with its type, rdev in Linux's 32-bit encoding: major
// below 4096, minor below 2^20) or a symlink at path; what is there already is replaced (not a
// directory: unlinkat refuses that). The owner and the exact mode are set afterwards: mknod
// takes the umask off. 0 or the negative errno.
func placeNode(rec uintptr, kind uint32, path uintptr, content uintptr) int64 {
	r := int64(0)
	tries := 0
	for tries < 2 {
		if kind == fileSymlink {
			r = runtime.Syscall(runtime.SYS_SYMLINKAT, content, runtime.AT_FDCWD, path)
		} else {
			major := runtime.Load32(content, 0)
			minor := runtime.Load32(content, 4)
			dev := (minor & 0xff) | (major << 8) | ((minor &^ 0xff) << 12)
			r = runtime.Syscall(runtime.SYS_MKNODAT, runtime.AT_FDCWD, path, runtime.Load32(rec, cfgFileMode), dev)
		}
		if r != -runtime.EEXIST || tries > 0 {
			break
		}
		r = runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, path, 0)
		if failed(r) {
			return r
		}
		tries++
	}
	if failed(r) || kind == fileSymlink {
		return r
	}
	r = runtime.Syscall(runtime.SYS_FCHOWNAT, runtime.AT_FDCWD, path, runtime.Load32(rec, cfgFileUid), runtime.Load32(rec, cfgFileGid), runtime.AT_SYMLINK_NOFOLLOW)
	if !failed(r) { // after the owner, which clears the set-id bits
		r = runtime.Syscall(runtime.SYS_FCHMODAT, runtime.AT_FDCWD, path, runtime.Load32(rec, cfgFileMode)&07777)
	}
	return r
}

// placeFile places the file record at rec (checked by fileAfter) in the container, init being
// inside its root: a file system (tmpfs or another: a mount record) mounted at its path with its
// flags and options; a device node or a symlink made there; a masked, read-only or sysctl path
// changed (placeOver); or a copy: its content written to a file of its own in the tmpfs at
// /dev/.crumble-files (mode, owner), bind-mounted at its path and remounted with its flags, so
// that nothing is written into the root (at most an empty mount point) and a read-only copy
// cannot be changed. The directories on the way are made (0755), save for placeOver's paths.
// root: the root's kind; path: a 4096-byte buffer. 0 or the negative errno.
func placeFile(rec uintptr, path uintptr, root uint32) int64 {
	n := uintptr(runtime.Load32(rec, cfgFilePathLen))
	size := uintptr(runtime.Load32(rec, cfgFileSize))
	flags := int64(runtime.Load32(rec, cfgFileFlags))
	kind := runtime.Load32(rec, cfgFileKind)
	content := rec + cfgFileHeader + n + 1
	i := uintptr(0)
	last := uintptr(0)
	for i <= n {
		runtime.Store8(path, i, runtime.Load8(rec+cfgFileHeader, i))
		if runtime.Load8(path, i) == '/' {
			last = i
		}
		i++
	}
	if kind == fileMasked || kind == fileReadOnly || kind == fileSysctl {
		return placeOver(rec, kind, path, content, size)
	}
	r := int64(0)
	if last > 0 {
		runtime.Store8(path, last, 0)
		r = makeDirs(path)
		runtime.Store8(path, last, '/')
	}
	if failed(r) {
		return r
	}
	if kind == fileTmpfs {
		return mountOn(uintptr("tmpfs"), path, uintptr("tmpfs"), flags, content)
	}
	if kind == fileMount {
		source := stringAfter(content, content+size)
		if sameString(content, uintptr("virtiofs")) { // a volume among the container's own mounts
			r = makeDir(path)
			if failed(r) {
				return r
			}
			return mountVolume(source, path, flags, stringAfter(source, content+size))
		}
		return mountOn(source, path, content, flags, stringAfter(source, content+size))
	}
	if kind == fileDevice || kind == fileSymlink {
		return placeNode(rec, kind, path, content)
	}
	tmp := uintptr("/dev/.crumble-files/f")
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, tmp, runtime.O_WRONLY|runtime.O_CREAT|runtime.O_TRUNC|runtime.O_NOFOLLOW|runtime.O_CLOEXEC, 0600)
	if failed(fd) {
		return fd
	}
	r = writeAll(fd, content, size)
	if !failed(r) {
		r = runtime.Syscall(runtime.SYS_FCHOWN, fd, runtime.Load32(rec, cfgFileUid), runtime.Load32(rec, cfgFileGid))
	}
	if !failed(r) { // after fchown, which clears the set-id bits
		r = runtime.Syscall(runtime.SYS_FCHMOD, fd, runtime.Load32(rec, cfgFileMode))
	}
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	if !failed(r) {
		r = mountPoint(path, root)
	}
	if !failed(r) {
		r = runtime.Syscall(runtime.SYS_MOUNT, tmp, path, 0, runtime.MS_BIND, 0)
	}
	if !failed(r) && flags != 0 {
		r = runtime.Syscall(runtime.SYS_MOUNT, 0, path, 0, runtime.MS_REMOUNT|runtime.MS_BIND|flags, 0)
	}
	runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, tmp, 0) // the mount keeps it
	return r
}

// setupContainer serves the container request (config::command, container_magic): the steps in
// order, the first that fails reported with its errno (and which volume or registration) in
// signal_container_failed; init then serves on where it is. `again`: a request came before
// (one per boot, whatever became of it). `layer`: where keepLayer leaves the writable layer's fds.
func setupContainer(mb uintptr, cfg uintptr, again bool, layer uintptr) {
	base := cfg + cfgCommand
	end := base + cfgCommandMax
	kind := runtime.Load32(base, cfgCtrRootKind)
	volumes := uint64(runtime.Load32(base, cfgCtrVolumes))
	binfmts := uint64(runtime.Load32(base, cfgCtrBinfmts))
	files := uint64(runtime.Load32(base, cfgCtrFiles))
	filesAt := uint64(runtime.Load32(base, cfgCtrFilesAt))
	step := int64(stepRequest)
	r := int64(-runtime.EBUSY)
	index := uint64(0)
	staged := false
	var path [4096]byte
	// the request: every string inside the area, the counts within bounds
	source := base + cfgCtrStrings
	fstype := stringAfter(source, end)
	hostname := stringAfter(fstype, end)
	p := stringAfter(hostname, end)
	volumeStrings := p
	i := uint64(0)
	flags := runtime.Load32(base, cfgCtrFlags)
	uidMap := uintptr(0) // with a user namespace: its maps, after the registrations
	gidMap := uintptr(0)
	mapsEnd := uintptr(0)
	if again {
		goto failed
	}
	r = -runtime.EINVAL
	if (kind != rootDir && kind != rootBlock && kind != rootVirtiofs) || volumes > cfgCtrVolumesMax || binfmts > cfgCtrBinfmtsMax || flags&^(ownMounts|userNamespace) != 0 {
		goto failed
	}
	for i < 2*volumes+binfmts {
		p = stringAfter(p, end)
		i++
	}
	if flags&userNamespace != 0 {
		uidMap = p
		gidMap = stringAfter(uidMap, end)
		p = stringAfter(gidMap, end)
		mapsEnd = p
		// each map a line at least, and one write (below a page) as the kernel takes it
		if p != 0 && (gidMap-uidMap < 2 || p-gidMap < 2 || gidMap-uidMap > cfgCtrUserMapMax+1 || p-gidMap > cfgCtrUserMapMax+1) {
			goto failed
		}
	}
	if p == 0 || volumeStrings-hostname > 65 || !filesFit(base, p, files, filesAt) { // HOST_NAME_MAX 64
		goto failed
	}
	step = stepDevices
	r = 0
	if kind == rootBlock {
		r = dropCachedBlocks(source)
	}
	if failed(r) {
		goto failed
	}
	// the root at /mnt
	step = stepRoot
	if kind == rootDir {
		r = mountOn(source, uintptr("/mnt"), 0, runtime.MS_BIND|runtime.MS_REC, 0)
	} else if kind == rootVirtiofs {
		r = mountOn(source, uintptr("/mnt"), uintptr("virtiofs"), 0, 0)
	} else {
		r = mountBlockRoot(source, fstype)
		if failed(r) {
			goto failed
		}
		prefetch(uint64(runtime.Load32(base, cfgCtrPrefetchMib)) << 20)
		// the writes go to a tmpfs over it, thrown away with the VM
		step = stepOverlay
		r = mountOn(uintptr("tmpfs"), uintptr("/crumble/rw"), uintptr("tmpfs"), 0, uintptr("mode=0755"))
		if !failed(r) {
			r = makeDir(uintptr("/crumble/rw/upper"))
		}
		if !failed(r) {
			r = likeLowerRoot(uintptr("/crumble/rw/upper"))
		}
		if !failed(r) {
			r = makeDir(uintptr("/crumble/rw/work"))
		}
		if !failed(r) {
			r = mountOn(uintptr("overlay"), uintptr("/mnt"), uintptr("overlay"), 0,
				uintptr("lowerdir=/crumble/lower,upperdir=/crumble/rw/upper,workdir=/crumble/rw/work"))
		}
	}
	if failed(r) {
		goto failed
	}
	// the binfmt registrations follow the volumes' strings
	p = volumeStrings
	i = 0
	for i < 2*volumes {
		p = stringAfter(p, end)
		i++
	}
	// binfmt_misc, while the interpreters (in the initramfs) are in reach: the 'F' flag makes the
	// kernel open each at registration
	step = stepBinfmt
	index = 0
	if binfmts > 0 {
		r = mountOn(uintptr("binfmt_misc"), uintptr("/proc/sys/fs/binfmt_misc"), uintptr("binfmt_misc"), 0, 0)
		if failed(r) && r != -runtime.EBUSY {
			goto failed
		}
		fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/proc/sys/fs/binfmt_misc/register", runtime.O_WRONLY|runtime.O_CLOEXEC, 0)
		r = fd
		for index < binfmts && !failed(fd) {
			next := stringAfter(p, end)
			r = runtime.Syscall(runtime.SYS_WRITE, fd, p, next-p-1)
			if failed(r) {
				break
			}
			p = next
			index++
		}
		if !failed(fd) {
			runtime.Syscall(runtime.SYS_CLOSE, fd)
		}
		if failed(r) {
			goto failed
		}
	}
	index = 0
	step = stepMounts
	r = 0
	if flags&ownMounts == 0 { // else the records mount the container's own
		r = containerMounts()
	}
	if failed(r) {
		goto failed
	}
	// the user namespace, while init's own /proc is at hand (the container's may be missing or
	// read-only) and init is at the initramfs's root (clone refuses CLONE_NEWUSER in a chroot):
	// a child cloned into a new one waits while init, root of the guest's namespace (so any map
	// the kernel takes), writes its maps and keeps the namespace open for the commands to join
	// (asUser); then the child goes
	step = stepUserNs
	if flags&userNamespace != 0 {
		pid := runtime.Syscall(runtime.SYS_CLONE, runtime.CLONE_NEWUSER|runtime.SIGCHLD, 0, 0, 0, 0)
		if pid == 0 {
			for {
				pause()
			}
		}
		r = pid
		if failed(r) {
			goto failed
		}
		index = 1
		r = writeProcFile(pid, uintptr("/uid_map"), uidMap, int64(gidMap-uidMap-1))
		if !failed(r) {
			index = 2
			r = writeProcFile(pid, uintptr("/gid_map"), gidMap, int64(mapsEnd-gidMap-1))
		}
		if !failed(r) {
			index = 3
			procFile(&path, pid, uintptr("/ns/user"))
			r = runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, &path, runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
			if !failed(r) {
				runtime.Store64(layer, lUserNs, r)
			}
		}
		runtime.Syscall(runtime.SYS_KILL, pid, runtime.SIGKILL)
		runtime.Syscall(runtime.SYS_WAIT4, pid, 0, 0, 0)
		if failed(r) {
			goto failed
		}
		index = 0
	}
	keepLayer(layer, kind)
	step = stepSwitchRoot
	r = switchRoot()
	if failed(r) {
		goto failed
	}
	// the volumes: virtio-fs tags at their paths, once inside the root (so that a symlink on the
	// way resolves in the container, and /tmp, /run, /dev... mounted above cannot hide them)
	step = stepVolume
	p = volumeStrings
	for index < volumes {
		target := stringAfter(p, end)
		r = -runtime.ENAMETOOLONG
		if !underRoot(&path, target) {
			goto failed
		}
		r = makeDirs(&path[4]) // the copy, without underRoot's /mnt
		if !failed(r) {
			mflags := int64(0)
			if runtime.Load32(base, cfgCtrVolumeFlags+4*index)&volumeReadOnly != 0 {
				mflags = runtime.MS_RDONLY
			}
			r = mountVolume(p, &path[4], mflags, 0)
		}
		if failed(r) {
			goto failed
		}
		p = stringAfter(target, end)
		index++
	}
	index = 0
	step = stepHostname
	if volumeStrings-hostname > 1 { // none given: the guest's stays
		r = runtime.Syscall(runtime.SYS_SETHOSTNAME, hostname, volumeStrings-hostname-1)
	}
	if failed(r) {
		goto failed
	}
	containerNetwork(cfg, kind)
	// the files and tmpfs mounts, last: over the volumes and the network's resolv.conf (the
	// caller's own file wins); the copies' tmpfs is detached once they are bound (the binds
	// keep it)
	step = stepFile
	p = base + uintptr(filesAt)
	for index < files {
		// the copies' tmpfs at the first copy, past the mount records (a tmpfs at /dev among them
		// would hide it)
		if runtime.Load32(p, cfgFileKind) == fileCopy && !staged {
			r = mountOn(uintptr("tmpfs"), uintptr("/dev/.crumble-files"), uintptr("tmpfs"), 0, uintptr("mode=0700"))
			if failed(r) {
				goto failed
			}
			staged = true
		}
		r = placeFile(p, &path, kind)
		if failed(r) {
			goto failed
		}
		p = fileAfter(p, end)
		index++
	}
	if staged {
		runtime.Syscall(runtime.SYS_UMOUNT2, "/dev/.crumble-files", runtime.MNT_DETACH)
		runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, "/dev/.crumble-files", runtime.AT_REMOVEDIR)
	}
	printLayer(layer)
	runtime.Store32(base, cfgCommandMagicAt, 0)
	signal(mb, signalCtrReady)
	return
failed:
	runtime.Printf("crumble-init: container step %d failed: errno %d\n", step, -r)
	runtime.Store32(mb, mbPhase, step)
	runtime.Store32(mb, mbError, -r)
	runtime.Store32(mb, mbIndex, index)
	runtime.Store32(base, cfgCommandMagicAt, 0)
	signal(mb, signalCtrFailed)
}

// ---- the network: the loopback always; eth0 when the host turned the network on ---------------
// (config::network: the addresses in network byte order, as they go into a sockaddr_in)

const (
	cfgNetwork        = runtime.Config("cfg_network")
	cfgNetworkMagicAt = runtime.Config("cfg_network_magic_at")
	cfgNetworkAddress = runtime.Config("cfg_network_address")
	cfgNetworkNetmask = runtime.Config("cfg_network_netmask")
	cfgNetworkGateway = runtime.Config("cfg_network_gateway")
	cfgNetworkDns     = runtime.Config("cfg_network_dns")
	networkMagic      = runtime.Config("cfg_network_magic")
)

// zero clears n bytes at p.
func zero(p uintptr, n uintptr) {
	i := uintptr(0)
	for i < n {
		runtime.Store8(p, i, 0)
		i++
	}
}

// ifreq lays out a struct ifreq (40 bytes) at ifr for the interface `name`: the name,
// NUL-terminated, at 0; the rest (the union: flags, or a struct sockaddr at 16) zero.
func ifreq(ifr uintptr, name string) {
	zero(ifr, 40)
	i := uintptr(0)
	for i < 15 && runtime.Load8(uintptr(name), i) != 0 {
		runtime.Store8(ifr, i, runtime.Load8(uintptr(name), i))
		i++
	}
}

// sockaddrIn lays out a struct sockaddr_in (16 bytes) at p: AF_INET, port 0, the address.
func sockaddrIn(p uintptr, address uint32) {
	zero(p, 16)
	runtime.Store16(p, 0, runtime.AF_INET)
	runtime.Store32(p, 4, address)
}

// interfaceUp sets IFF_UP on the interface (SIOCGIFFLAGS, then SIOCSIFFLAGS); 0 or the negative
// errno. The loopback gets 127.0.0.1/8 from the kernel as it comes up.
func interfaceUp(sock int64, name string) int64 {
	var ifr [40]byte
	ifreq(&ifr, name)
	r := runtime.Syscall(runtime.SYS_IOCTL, sock, runtime.SIOCGIFFLAGS, &ifr)
	if failed(r) {
		return r
	}
	runtime.Store16(&ifr, 16, runtime.Load16(&ifr, 16)|runtime.IFF_UP)
	return runtime.Syscall(runtime.SYS_IOCTL, sock, runtime.SIOCSIFFLAGS, &ifr)
}

// interfaceAddress sets an address of the interface: `request` is SIOCSIFADDR or SIOCSIFNETMASK.
func interfaceAddress(sock int64, name string, request int64, address uint32) int64 {
	var ifr [40]byte
	ifreq(&ifr, name)
	sockaddrIn(&ifr[16], address)
	return runtime.Syscall(runtime.SYS_IOCTL, sock, request, &ifr)
}

// defaultRoute adds the route to everywhere through `gateway` (SIOCADDRT). struct rtentry on a
// 64-bit kernel (120 bytes): rt_pad1 at 0, rt_dst at 8, rt_gateway at 24, rt_genmask at 40,
// rt_flags (u16) at 56, then fields left zero (no metric, the device found from the gateway).
func defaultRoute(sock int64, gateway uint32) int64 {
	var rt [120]byte
	zero(&rt, 120)
	sockaddrIn(&rt[8], 0)
	sockaddrIn(&rt[24], gateway)
	sockaddrIn(&rt[40], 0)
	runtime.Store16(&rt, 56, runtime.RTF_UP|runtime.RTF_GATEWAY)
	return runtime.Syscall(runtime.SYS_IOCTL, sock, runtime.SIOCADDRT, &rt)
}

// writeResolvConf writes the file at path (a file or symlink there is replaced) naming `dns` as
// the name server: "nameserver A.B.C.D\n". 0 or the negative errno.
func writeResolvConf(dns uint32, path uintptr) int64 {
	var text [40]byte
	n := int64(0)
	for n < 11 {
		text[n] = runtime.Load8(uintptr("nameserver "), n)
		n++
	}
	k := uint32(0)
	for k < 4 {
		v := (dns >> (8 * k)) & 0xff
		if v >= 100 {
			text[n] = byte('0' + v/100)
			n++
		}
		if v >= 10 {
			text[n] = byte('0' + (v/10)%10)
			n++
		}
		text[n] = byte('0' + v%10)
		n++
		if k < 3 {
			text[n] = '.'
			n++
		}
		k++
	}
	text[n] = '\n'
	n++
	runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, path, 0)
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, runtime.O_WRONLY|runtime.O_CREAT|runtime.O_TRUNC|runtime.O_CLOEXEC, 0644)
	if failed(fd) {
		return fd
	}
	r := runtime.Syscall(runtime.SYS_WRITE, fd, &text, n)
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	if !failed(r) && r != n {
		r = -runtime.EIO
	}
	return r
}

// resolvConf writes /etc/resolv.conf under the root init is in, making /etc when missing; a file
// or symlink there is replaced (a container image's may point into a /run that is empty here).
func resolvConf(dns uint32) int64 {
	r := makeDir(uintptr("/etc"))
	if failed(r) {
		return r
	}
	return writeResolvConf(dns, uintptr("/etc/resolv.conf"))
}

// networkOn tells whether the host turned the network on (config::network holds its magic).
func networkOn(cfg uintptr) bool {
	return runtime.Load32(cfg+cfgNetwork, cfgNetworkMagicAt) == networkMagic
}

// setupNetwork is phase 6's network step: the loopback up; with the network on, eth0 (virtio_net,
// loaded at boot) gets its address and netmask and comes up, the default route goes through the
// gateway, and /etc/resolv.conf names the name server. 0 or the negative errno. Without the
// network, a kernel without IPv4 (a caller's own) has no loopback to bring up: not an error.
func setupNetwork(cfg uintptr) int64 {
	on := networkOn(cfg)
	sock := runtime.Syscall(runtime.SYS_SOCKET, runtime.AF_INET, runtime.SOCK_DGRAM|runtime.SOCK_CLOEXEC, 0)
	if failed(sock) {
		if on {
			return sock
		}
		return 0
	}
	r := interfaceUp(sock, "lo")
	n := cfg + cfgNetwork
	if !failed(r) && on {
		r = interfaceAddress(sock, "eth0", runtime.SIOCSIFADDR, runtime.Load32(n, cfgNetworkAddress))
		if !failed(r) {
			r = interfaceAddress(sock, "eth0", runtime.SIOCSIFNETMASK, runtime.Load32(n, cfgNetworkNetmask))
		}
		if !failed(r) {
			r = interfaceUp(sock, "eth0")
		}
		if !failed(r) {
			r = defaultRoute(sock, runtime.Load32(n, cfgNetworkGateway))
		}
		if !failed(r) {
			r = resolvConf(runtime.Load32(n, cfgNetworkDns))
		}
	}
	runtime.Syscall(runtime.SYS_CLOSE, sock)
	if failed(r) {
		runtime.Printf("crumble-init: the network: errno %d\n", -r)
	}
	return r
}

// containerNetwork is the container request's last step with the network on: the name server in
// the container's /etc/resolv.conf (the interface and route are the guest's, already up). Roots
// whose writes are thrown away get the file written; a virtio-fs root is the host's directory,
// written through, so there a file in the container's /run (a tmpfs) is bound over its
// /etc/resolv.conf instead, then unlinked (the mount keeps it): nothing of the host's changes.
// Where neither works (no /etc/resolv.conf in a virtio-fs root) the root keeps its own; said on
// the console.
func containerNetwork(cfg uintptr, kind uint32) {
	if !networkOn(cfg) {
		return
	}
	dns := runtime.Load32(cfg+cfgNetwork, cfgNetworkDns)
	r := int64(0)
	if kind != rootVirtiofs {
		r = resolvConf(dns)
	} else {
		r = writeResolvConf(dns, uintptr("/run/crumble-resolv.conf"))
		if !failed(r) {
			r = runtime.Syscall(runtime.SYS_MOUNT, "/run/crumble-resolv.conf", "/etc/resolv.conf", 0, runtime.MS_BIND, 0)
			runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, "/run/crumble-resolv.conf", 0)
		}
	}
	if failed(r) {
		runtime.Printf("crumble-init: the container's /etc/resolv.conf: errno %d\n", -r)
	}
}

func main() {
	// 1: /dev and the node to reach physical memory
	mkdir(1, "/dev")
	check(1, runtime.Syscall(runtime.SYS_MKNODAT, runtime.AT_FDCWD, "/dev/mem", runtime.S_IFCHR|0600, 0x101), runtime.EEXIST)
	// 2: filesystems
	mount(2, "devtmpfs", "/dev", "devtmpfs", runtime.MS_NOSUID)
	mount(2, "tmpfs", "/dev/shm", "tmpfs", runtime.MS_NOSUID|runtime.MS_NODEV)
	mount(2, "devpts", "/dev/pts", "devpts", runtime.MS_NOSUID|runtime.MS_NOEXEC) // ptys for commands with a tty
	mount(2, "proc", "/proc", "proc", runtime.MS_NOSUID|runtime.MS_NODEV|runtime.MS_NOEXEC)
	mount(2, "sysfs", "/sys", "sysfs", runtime.MS_NOSUID|runtime.MS_NODEV|runtime.MS_NOEXEC)
	// for every reseed after a restore, also inside a container's root (where the path may not be this device)
	random := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/dev/urandom", runtime.O_RDWR|runtime.O_CLOEXEC, 0)
	check(2, random, 0)
	// 3: kernel modules
	check(3, loadModules("/crumble/modules.list"), 0)
	check(3, loadDeviceDrivers(), 0)
	// 4: console
	console()
	// 5: shared memory with the host, and memory to run payloads in
	var e [8]byte
	mb := mapRegion(mailboxPhys, mailboxSize, &e)
	if mb == 0 {
		fail(5, int64(runtime.Load64(&e, 0)))
	}
	cfg := mapRegion(configPhys, configSize, &e)
	if cfg == 0 {
		fail(5, int64(runtime.Load64(&e, 0)))
	}
	exec := runtime.Syscall(runtime.SYS_MMAP, 0, execSize, runtime.PROT_READ|runtime.PROT_WRITE|runtime.PROT_EXEC,
		runtime.MAP_PRIVATE|runtime.MAP_ANONYMOUS, -1, 0)
	check(5, exec, 0)
	if runtime.Ifdef("FAIL_PHASE_6") {
		fail(6, runtime.EPERM) // for the tests: a phase made to fail
	}
	// 6: clock, and the network
	setClock(cfg)
	check(6, setupNetwork(cfg), 0)
	// An early snapshot is taken here: the host asked us to hold, and lets us go on after it
	// has saved the VM (and again after each restore).
	if runtime.Load32(cfg, cfgHold) == holdMagic {
		signal(mb, signalHolding)
		for runtime.Load32(cfg, cfgHold) == holdMagic {
			pause()
		}
	}
	// 7: serve
	signal(mb, signalReady)
	inContainer := false
	var procs [processMax * procBytes]byte
	var layer [layerBytes]byte
	runtime.Store64(&layer, lBusybox, -1)
	runtime.Store64(&layer, lUpper, -1)
	runtime.Store64(&layer, lUserNs, -1)
	idle := 0
	for {
		if runtime.Load32(cfg, cfgPayload+cfgPayloadMagicAt) == payloadMagic {
			runPayload(mb, cfg, uintptr(exec))
			continue
		}
		if runtime.Load32(cfg, cfgReseed+cfgReseedMagicAt) == reseedMagic {
			reseed(mb, cfg, random, &layer)
			continue
		}
		m := runtime.Load32(cfg, cfgCommand+cfgCommandMagicAt)
		if m == commandMagic {
			startCommand(mb, cfg, &procs, &layer)
			continue
		}
		if m == ctrMagic {
			setupContainer(mb, cfg, inContainer, &layer)
			inContainer = true
			continue
		}
		if m == poweroffMagic {
			powerOff()
		}
		// the running processes: their output, stdin, signals and ends
		reap(&procs)
		running := false
		moved := int64(0)
		k := uint64(0)
		for k < processMax {
			if runtime.Load64(&procs, k*procBytes+pPid) != 0 {
				running = true
				moved |= pump(cfg, &procs, k)
			}
			k++
		}
		if moved != 0 {
			idle = 0
		} else if running {
			idle++
			if idle < idleLoops {
				waitIo(cfg, &procs, pollNs)
			} else if idle < idleLoops+restLoops {
				waitIo(cfg, &procs, idleNs)
			} else {
				waitIo(cfg, &procs, restNs)
			}
		} else {
			idle = 0
			pause()
		}
	}
}
