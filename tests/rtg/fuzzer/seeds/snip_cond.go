// SPDX-License-Identifier: Apache-2.0
package main

import "crumble/rtg/runtime"

func f(a int64, b uint32, c bool, s string, p uintptr, q int16) int64 {
	if r := a * 2; r < 0 && !c || b >= 3 {
		return -r
	} else if q&^1 != 0 {
		return int64(q) % 7
	}
	return int64(p) ^ int64(b) | int64(len("z"))
}

func main(argc int64, argv uintptr, envp uintptr) int64 {
	if runtime.GOARCH == "arm64" {
		runtime.ISB()
	}
	if runtime.Ifdef("GPU") {
		runtime.CacheFlush(argv, 16)
	}
	var buf [16]byte
	buf[0] = 'x'
	buf[argc] = 1
	runtime.Store32(uintptr(&buf), 4, 0xdeadbeef)
	p, n := runtime.EmbedCString("hi")
	runtime.Syscall(runtime.SYS_WRITE, 1, p, n)
	runtime.Printf("%d %u %x %s %c %%\n", argc, argv, envp, "s", 'c')
	return runtime.Call(f, 1, 2, true, "s", &buf[1], 3) + f(1, 2, false, "t", envp, -1)
}
