// SPDX-License-Identifier: Apache-2.0
// syscall_in_expr: syscalls as values inside expressions, with arguments that are calls
package main

import "crumble/rtg/runtime"

func one() int64 {
	return 1
}

func two() int64 {
	return 2
}

func main() int64 {
	x := runtime.Syscall(runtime.SYS_WRITE, 1, "xy", 2)*10 + 1
	runtime.Printf(" %d\n", x)
	hello := "hello"
	x = runtime.Syscall(runtime.SYS_WRITE, 1, uintptr(hello)+uintptr(one()), two()+1) + 100
	runtime.Printf(" %d\n", x)
	runtime.Printf("%d\n", (x+0)+runtime.Syscall(runtime.SYS_GETPID)-runtime.Syscall(runtime.SYS_GETPID))
	if runtime.Syscall(runtime.SYS_GETPID) > 0 {
		runtime.Printf("pid ok\n")
	}
	return runtime.Syscall(runtime.SYS_WRITE, 1, "!\n", 2)
}
