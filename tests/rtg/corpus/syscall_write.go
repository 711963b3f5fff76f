// SPDX-License-Identifier: Apache-2.0
// syscall_write: write(2) of embedded bytes with a NUL and 0xff inside, short and empty writes, a bad fd, a stack buffer
package main

import "crumble/rtg/runtime"

func main() int64 {
	raw, n := runtime.EmbedString("raw\x00bytes\xff\n")
	r := runtime.Syscall(runtime.SYS_WRITE, 1, raw, n)
	runtime.Printf("r=%d\n", r)
	r2 := runtime.Syscall(runtime.SYS_WRITE, 1, "abcdef", 2)
	r3 := runtime.Syscall(runtime.SYS_WRITE, 1, "x", 0)
	r4 := runtime.Syscall(runtime.SYS_WRITE, -1, "x", 1)
	runtime.Printf("\n%d %d %d\n", r2, r3, r4)
	runtime.Syscall(runtime.SYS_WRITE, 1, "stmt\n", 5)
	var b [16]byte
	b[0] = 'o'
	b[1] = 'k'
	b[2] = '\n'
	runtime.Syscall(runtime.SYS_WRITE, 1, &b, 3)
	return r + r2
}
