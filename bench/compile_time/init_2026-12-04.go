// SPDX-License-Identifier: Apache-2.0
// bench/compile_time fixture: the guest init as it was on 2026-12-04 (commit e2e54f7, 518 lines), the
// last commit with tools/crumble/init_elf.cpp, the file whose compile issue 18 measured when it set
// its goal for "the real init". Frozen here so the figure stays comparable while rtg/init/init.go
// grows; translated with init_2026-12-04.config, the protocol values of that commit. Not built into
// anything but a translation test (tests/rtg); compile_time_init.sh measures it.
// The guest's init: brings up a minimal Linux userland, then serves the host through shared
// memory — payloads (machine code to call) and commands (programs to run, output captured).
//
// Every address, offset, magic and signal comes from include/crumble/vm/protocol/layout.hpp as a
// Config value (docs/protocol.md); this file hard-codes none. Phases, as the spec numbers them:
//
//	1 create /dev          2 mount devtmpfs, /dev/shm, /proc, /sys     3 load kernel modules
//	4 console, session     5 map mailbox, config, executable memory     6 set the clock
//	7 main loop: signal ready, then serve payloads and commands until told to power off
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

	mbSignal      = runtime.Config("mb_signal")
	mbSeq         = runtime.Config("mb_seq")
	mbPhase       = runtime.Config("mb_phase")
	mbError       = runtime.Config("mb_error")
	mbResult      = runtime.Config("mb_result")
	mbExitKind    = runtime.Config("mb_exit_kind")
	mbExitCode    = runtime.Config("mb_exit_code")
	mbExecErrno   = runtime.Config("mb_exec_errno")
	mbChunkStream = runtime.Config("mb_chunk_stream")
	mbChunkLength = runtime.Config("mb_chunk_length")
	mbHostAck     = runtime.Config("mb_host_ack")

	signalReady       = runtime.Config("signal_ready")
	signalPayloadDone = runtime.Config("signal_payload_done")
	signalOutput      = runtime.Config("signal_output")
	signalCommandDone = runtime.Config("signal_command_done")
	signalFailed      = runtime.Config("signal_failed")
	signalReseeded    = runtime.Config("signal_reseeded")
	signalHolding     = runtime.Config("signal_holding")

	exitKindExited     = runtime.Config("exit_kind_exited")
	exitKindSignaled   = runtime.Config("exit_kind_signaled")
	exitKindNotStarted = runtime.Config("exit_kind_not_started")

	cfgPayload         = runtime.Config("cfg_payload")
	cfgPayloadCodeSize = runtime.Config("cfg_payload_code_size")
	cfgPayloadRelocs   = runtime.Config("cfg_payload_relocs")
	cfgPayloadEntry    = runtime.Config("cfg_payload_entry")
	cfgPayloadBssSize  = runtime.Config("cfg_payload_bss_size")
	cfgPayloadCode     = runtime.Config("cfg_payload_code")
	cfgPayloadMax      = runtime.Config("cfg_payload_max")
	cfgCommand         = runtime.Config("cfg_command")
	cfgCommandMax      = runtime.Config("cfg_command_max")
	cfgOutput          = runtime.Config("cfg_output")
	cfgOutputMax       = runtime.Config("cfg_output_max")
	cfgClock           = runtime.Config("cfg_clock")
	cfgClockSec        = runtime.Config("cfg_clock_sec")
	cfgClockNsec       = runtime.Config("cfg_clock_nsec")
	cfgReseed          = runtime.Config("cfg_reseed")
	cfgReseedEntropy   = runtime.Config("cfg_reseed_entropy")
	cfgReseedSec       = runtime.Config("cfg_reseed_sec")
	cfgReseedNsec      = runtime.Config("cfg_reseed_nsec")
	cfgHold            = runtime.Config("cfg_hold")

	payloadMagic  = runtime.Config("payload_magic")
	commandMagic  = runtime.Config("command_magic")
	poweroffMagic = runtime.Config("poweroff_magic")
	clockMagic    = runtime.Config("clock_magic")
	reseedMagic   = runtime.Config("reseed_magic")
	holdMagic     = runtime.Config("hold_magic")
)

// Executable memory for payloads: code and bss.
const execSize = 0x400000

// How long to sleep between looks at the shared memory (ns).
const pollNs = 50000

// Pointers for a command's argv and envp, at most.
const maxArgs = 8190

// failed tells whether a syscall result is an error (-4095..-1).
func failed(r int64) bool {
	return r < 0 && r > -4096
}

// pause sleeps for pollNs.
func pause() {
	var ts [16]byte
	runtime.Store64(&ts, 8, pollNs)
	runtime.Syscall(runtime.SYS_NANOSLEEP, &ts, 0)
}

// signal hands the host a signal: the fields are already written; seq goes last.
func signal(mb uintptr, value uint64) uint32 {
	seq := runtime.Load32(mb, mbSeq) + 1
	runtime.Store32(mb, mbSignal, value)
	runtime.Store32(mb, mbSeq, seq)
	return seq
}

// mapRegion maps guest-physical memory through /dev/mem; 0 on failure, with the errno in *err.
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

func mkdir(phase int64, path string) {
	check(phase, runtime.Syscall(runtime.SYS_MKDIRAT, runtime.AT_FDCWD, path, 0755), runtime.EEXIST)
}

func mount(phase int64, source string, target string, fstype string, flags int64) {
	mkdir(phase, target)
	check(phase, runtime.Syscall(runtime.SYS_MOUNT, source, target, fstype, flags, 0), runtime.EBUSY)
}

// loadModules loads the modules listed, NUL-separated and in order, in /crumble/modules.list.
func loadModules() {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/crumble/modules.list", runtime.O_RDONLY, 0)
	if fd == -runtime.ENOENT {
		return
	}
	check(3, fd, 0)
	var list [65536]byte
	n := int64(0)
	for n < int64(len(list)) {
		r := runtime.Syscall(runtime.SYS_READ, fd, &list[n], int64(len(list))-n)
		check(3, r, 0)
		if r == 0 {
			break
		}
		n += r
	}
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	start := int64(0)
	i := int64(0)
	for i < n {
		if list[i] == 0 {
			if i > start {
				m := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, &list[start], runtime.O_RDONLY|runtime.O_CLOEXEC, 0)
				check(3, m, 0)
				check(3, runtime.Syscall(runtime.SYS_FINIT_MODULE, m, "", 0), runtime.EEXIST)
				runtime.Syscall(runtime.SYS_CLOSE, m)
			}
			start = i + 1
		}
		i++
	}
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
	if runtime.Load32(cfg, cfgClock) != clockMagic {
		return
	}
	var up [16]byte
	check(6, runtime.Syscall(runtime.SYS_CLOCK_GETTIME, runtime.CLOCK_BOOTTIME, &up), 0)
	sec := int64(runtime.Load64(cfg, cfgClock+cfgClockSec)) + int64(runtime.Load64(&up, 0))
	nsec := int64(runtime.Load64(cfg, cfgClock+cfgClockNsec)) + int64(runtime.Load64(&up, 8))
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
	size := uint64(runtime.Load32(cfg, cfgPayloadCodeSize))
	relocs := uint64(runtime.Load32(cfg, cfgPayloadRelocs))
	entry := uint64(runtime.Load32(cfg, cfgPayloadEntry))
	bss := uint64(runtime.Load32(cfg, cfgPayloadBssSize))
	result := int64(-runtime.EINVAL)
	// The host checks these too; the guest does not trust them to stay in bounds.
	if size+bss <= execSize && entry < size && cfgPayloadCode+size+4*relocs <= cfgPayloadMax {
		i := uint64(0)
		for i < size {
			runtime.Store64(exec, i, runtime.Load64(cfg, cfgPayloadCode+i))
			i += 8
		}
		for i < size+bss {
			runtime.Store8(exec, i, 0)
			i++
		}
		k := uint64(0)
		for k < relocs {
			off := uint64(runtime.Load32(cfg, cfgPayloadCode+size+4*k))
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
	runtime.Store32(cfg, cfgPayload, 0)
	signal(mb, signalPayloadDone)
}

// reseed runs after a restore: the host's entropy goes into the kernel's pool (RNDADDENTROPY,
// credited), the CRNG is reseeded from it (RNDRESEEDCRNG) and the clock is set, so two VMs
// restored from one snapshot do not share random numbers or a stale time.
func reseed(mb uintptr, cfg uintptr) {
	r := cfg + cfgReseed
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, "/dev/urandom", runtime.O_RDWR, 0)
	if !failed(fd) {
		// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
		var info [72]byte
		runtime.Store32(&info, 0, 512)
		runtime.Store32(&info, 4, 64)
		i := uintptr(0)
		for i < 64 {
			runtime.Store64(&info, 8+i, runtime.Load64(r, cfgReseedEntropy+i))
			i += 8
		}
		runtime.Syscall(runtime.SYS_IOCTL, fd, runtime.RNDADDENTROPY, &info)
		runtime.Syscall(runtime.SYS_IOCTL, fd, runtime.RNDRESEEDCRNG, 0)
		runtime.Syscall(runtime.SYS_CLOSE, fd)
	}
	var ts [16]byte
	runtime.Store64(&ts, 0, runtime.Load64(r, cfgReseedSec))
	runtime.Store64(&ts, 8, runtime.Load64(r, cfgReseedNsec))
	runtime.Syscall(runtime.SYS_CLOCK_SETTIME, runtime.CLOCK_REALTIME, &ts)
	runtime.Store32(r, 0, 0)
	signal(mb, signalReseeded)
}

// waitAck waits until the host has consumed signal `seq`.
func waitAck(mb uintptr, seq uint32) {
	for runtime.Load32(mb, mbHostAck) != seq {
		pause()
	}
}

// sendOutput passes a captured output file to the host in chunks, then removes it.
func sendOutput(mb uintptr, cfg uintptr, path string, stream int64) {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, runtime.O_RDONLY, 0)
	if failed(fd) {
		return
	}
	for {
		n := runtime.Syscall(runtime.SYS_READ, fd, cfg+cfgOutput, cfgOutputMax)
		if n <= 0 {
			break
		}
		runtime.Store32(mb, mbChunkStream, stream)
		runtime.Store32(mb, mbChunkLength, n)
		waitAck(mb, signal(mb, signalOutput))
	}
	runtime.Syscall(runtime.SYS_CLOSE, fd)
	runtime.Syscall(runtime.SYS_UNLINKAT, runtime.AT_FDCWD, path, 0)
}

// redirect opens path as fd `target` in the child.
func redirect(path string, flags int64, target int64) {
	fd := runtime.Syscall(runtime.SYS_OPENAT, runtime.AT_FDCWD, path, flags, 0600)
	if !failed(fd) && fd != target {
		runtime.Syscall(runtime.SYS_DUP3, fd, target, 0)
		runtime.Syscall(runtime.SYS_CLOSE, fd)
	}
}

// child runs in the forked process: output to files the parent sends on, then execve. A name
// without a slash is looked for in /bin, /sbin, /usr/bin and /usr/sbin. Only if every execve
// fails does it get here: it leaves the errno in the mailbox (a shared mapping) and exits 127.
func child(mb uintptr, path uintptr, argv uintptr, envp uintptr) {
	redirect("/dev/null", runtime.O_RDONLY, 0)
	redirect("/dev/shm/.crumble-stdout", runtime.O_WRONLY|runtime.O_CREAT|runtime.O_TRUNC, 1)
	redirect("/dev/shm/.crumble-stderr", runtime.O_WRONLY|runtime.O_CREAT|runtime.O_TRUNC, 2)
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
		dirs, ndirs := runtime.EmbedBytes('/', 'b', 'i', 'n', 0, '/', 's', 'b', 'i', 'n', 0,
			'/', 'u', 's', 'r', '/', 'b', 'i', 'n', 0, '/', 'u', 's', 'r', '/', 's', 'b', 'i', 'n', 0)
		var full [4096]byte
		d := int64(0)
		for d < ndirs {
			k := int64(0)
			for runtime.Load8(dirs, d) != 0 {
				full[k] = runtime.Load8(dirs, d)
				k++
				d++
			}
			d++
			full[k] = '/'
			k++
			i := uintptr(0)
			for i <= n {
				full[k] = runtime.Load8(path, i)
				k++
				i++
			}
			e := runtime.Syscall(runtime.SYS_EXECVE, &full, argv, envp)
			if e != -runtime.ENOENT {
				r = e
			}
		}
	}
	runtime.Store32(mb, mbExecErrno, -r)
	runtime.Syscall(runtime.SYS_EXIT_GROUP, 127)
}

// reapOrphans collects processes a command left behind (they become init's children when
// their parent exits), so they do not stay zombies for the life of the VM.
func reapOrphans() {
	var st [8]byte
	for {
		w := runtime.Syscall(runtime.SYS_WAIT4, -1, &st, runtime.WNOHANG, 0)
		if w <= 0 {
			return
		}
	}
}

// runCommand runs the command at config::command with fork + execve + wait4 and reports its end.
func runCommand(mb uintptr, cfg uintptr) {
	base := cfg + cfgCommand
	end := base + cfgCommandMax
	argc := uint64(runtime.Load32(base, 8))
	envc := uint64(runtime.Load32(base, 12))
	var ptrs [65536]byte
	kind := uint64(exitKindExited)
	code := uint64(0)
	runtime.Store32(mb, mbExecErrno, 0)
	if argc+envc+2 > maxArgs {
		kind = exitKindNotStarted
		runtime.Store32(mb, mbExecErrno, runtime.E2BIG)
	} else {
		path := base + 16
		p := path
		// argv then envp: each string NUL-terminated, packed after the path
		i := uint64(0)
		for i <= argc+envc && p < end {
			for p < end && runtime.Load8(p, 0) != 0 {
				p++
			}
			p++
			slot := i
			if i >= argc {
				slot = i + 1 // envp starts after argv's terminating null
			}
			if i < argc+envc {
				runtime.Store64(&ptrs, slot*8, p)
			}
			i++
		}
		runtime.Store64(&ptrs, argc*8, 0)
		runtime.Store64(&ptrs, (argc+1+envc)*8, 0)
		pid := runtime.Syscall(runtime.SYS_CLONE, runtime.SIGCHLD, 0, 0, 0, 0)
		if pid == 0 {
			child(mb, path, &ptrs, &ptrs[(argc+1)*8])
		}
		if failed(pid) {
			kind = exitKindNotStarted
			runtime.Store32(mb, mbExecErrno, -pid)
		} else {
			var status [8]byte
			w := runtime.Syscall(runtime.SYS_WAIT4, pid, &status, 0, 0)
			for w == -runtime.EINTR {
				w = runtime.Syscall(runtime.SYS_WAIT4, pid, &status, 0, 0)
			}
			reapOrphans()
			st := uint64(runtime.Load32(&status, 0))
			if st&0x7f == 0 {
				code = (st >> 8) & 0xff
				if code == 127 && runtime.Load32(mb, mbExecErrno) != 0 {
					kind = exitKindNotStarted
				}
			} else {
				kind = exitKindSignaled
				code = st & 0x7f
			}
			sendOutput(mb, cfg, "/dev/shm/.crumble-stdout", 1)
			sendOutput(mb, cfg, "/dev/shm/.crumble-stderr", 2)
		}
	}
	runtime.Store32(mb, mbExitKind, kind)
	runtime.Store32(mb, mbExitCode, code)
	runtime.Store32(cfg, cfgCommand, 0)
	signal(mb, signalCommandDone)
}

func main() {
	// 1: /dev and the node to reach physical memory
	mkdir(1, "/dev")
	check(1, runtime.Syscall(runtime.SYS_MKNODAT, runtime.AT_FDCWD, "/dev/mem", runtime.S_IFCHR|0600, 0x101), runtime.EEXIST)
	// 2: filesystems
	mount(2, "devtmpfs", "/dev", "devtmpfs", runtime.MS_NOSUID)
	mount(2, "tmpfs", "/dev/shm", "tmpfs", runtime.MS_NOSUID|runtime.MS_NODEV)
	mount(2, "proc", "/proc", "proc", runtime.MS_NOSUID|runtime.MS_NODEV|runtime.MS_NOEXEC)
	mount(2, "sysfs", "/sys", "sysfs", runtime.MS_NOSUID|runtime.MS_NODEV|runtime.MS_NOEXEC)
	// 3: kernel modules
	loadModules()
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
	// 6: clock
	setClock(cfg)
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
	for {
		if runtime.Load32(cfg, cfgPayload) == payloadMagic {
			runPayload(mb, cfg, uintptr(exec))
			continue
		}
		if runtime.Load32(cfg, cfgReseed) == reseedMagic {
			reseed(mb, cfg)
			continue
		}
		m := runtime.Load32(cfg, cfgCommand)
		if m == commandMagic {
			runCommand(mb, cfg)
			continue
		}
		if m == poweroffMagic {
			powerOff()
		}
		pause()
	}
}
