// SPDX-License-Identifier: Apache-2.0
// init_demo: the shape of an init program, with its addresses injected at translation time.
//
// As PID 1 it would mount devtmpfs, map the mailbox and report there; run as an ordinary
// process (as the tests do) it only says what it would do, so it is safe anywhere.
//
//	crumble-rtg -c mailbox=0xf0000000 -c mailbox_size=4096 -D VERBOSE -o init_demo init_demo.go
package main

import "crumble/rtg/runtime"

const (
	phaseDev = iota + 1
	phaseMailbox
	phaseLoop
)

const mailbox = runtime.Config("mailbox")
const mailboxSize = runtime.Config("mailbox_size")

// fail reports a failed phase with its errno and gives the status init would exit with.
func fail(phase int64, errno int64) int64 {
	runtime.Printf("init phase %d failed: errno %d\n", phase, -errno)
	return 100 + phase
}

// step announces a phase; in a dry run it says what PID 1 would do.
func step(phase int64, what string, pid1 bool) {
	if runtime.Ifdef("VERBOSE") {
		runtime.Printf("[%d] ", phase)
	}
	if pid1 {
		runtime.Printf("%s\n", what)
	} else {
		runtime.Printf("would %s\n", what)
	}
}

func main() int64 {
	pid1 := runtime.Syscall(runtime.SYS_GETPID) == 1
	if !pid1 {
		runtime.Printf("not PID 1: dry run on %s\n", runtime.GOARCH)
	}
	step(phaseDev, "mount devtmpfs on /dev", pid1)
	if pid1 {
		if r := runtime.Syscall(runtime.SYS_MOUNT, "devtmpfs", "/dev", "devtmpfs", runtime.MS_NOSUID, 0); r < 0 && r != -runtime.EBUSY {
			return fail(phaseDev, r)
		}
	}
	step(phaseMailbox, "map the mailbox", pid1)
	runtime.Printf("mailbox at %x, %d bytes\n", mailbox, mailboxSize)
	var msg [32]byte
	i := 0
	for i < len(msg) {
		msg[i] = byte('a' + i%26)
		i++
	}
	msg[len(msg)-1] = '\n'
	runtime.Syscall(runtime.SYS_WRITE, 1, &msg, len(msg))
	step(phaseLoop, "wait for commands", pid1)
	return 0
}
