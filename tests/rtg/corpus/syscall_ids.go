// SPDX-License-Identifier: Apache-2.0
// syscall_ids: getpid, getppid, gettid, clock_gettime into a stack buffer, getrandom
package main

import "crumble/rtg/runtime"

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}

func main() int64 {
	var ts [16]byte
	var rnd [16]byte
	pid := runtime.Syscall(runtime.SYS_GETPID)
	ppid := runtime.Syscall(runtime.SYS_GETPPID)
	tid := runtime.Syscall(runtime.SYS_GETTID)
	runtime.Printf("%d %d %d %d\n", b2i(pid > 0), b2i(ppid > 0), b2i(tid == pid), b2i(pid != ppid))
	r := runtime.Syscall(runtime.SYS_CLOCK_GETTIME, runtime.CLOCK_REALTIME, &ts)
	runtime.Printf("clock %d %d %d\n", r, b2i(int64(runtime.Load64(&ts, 0)) > 1000000000),
		b2i(runtime.Load64(&ts, 8) < 1000000000))
	runtime.Printf("random %d\n", runtime.Syscall(runtime.SYS_GETRANDOM, &rnd, 16, 0))
	return b2i(runtime.Syscall(runtime.SYS_GETPID) == pid)
}
