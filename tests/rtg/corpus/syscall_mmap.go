// SPDX-License-Identifier: Apache-2.0
// syscall_mmap: an anonymous read-write mapping (PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS), written, summed, unmapped; then one with every argument computed
package main

import "crumble/rtg/runtime"

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}

func main() int64 {
	p := runtime.Syscall(runtime.SYS_MMAP, 0, 8192, runtime.PROT_READ|runtime.PROT_WRITE,
		runtime.MAP_PRIVATE|runtime.MAP_ANONYMOUS, -1, 0)
	if uint64(p) >= 1<<64-4096 {
		runtime.Printf("mmap failed %d\n", p)
		return 1
	}
	base := uintptr(p)
	runtime.Printf("aligned %d zero %d\n", b2i(base&4095 == 0), runtime.Load64(base, 8184))
	var i int64
	for i < 1024 {
		runtime.Store64(base+uintptr(i)*8, 0, i*i)
		i++
	}
	i = 0
	var s uint64
	for i < 1024 {
		s += runtime.Load64(base, 0)
		base += 8
		i++
	}
	r := runtime.Syscall(runtime.SYS_MUNMAP, base-8192, 8192)
	runtime.Printf("sum %d munmap %d\n", s, r)

	// every argument computed, so they sit in temporaries that overlap the syscall registers
	i = 3
	p = runtime.Syscall(runtime.SYS_MMAP, (i+0)*0, (i+0)*1365+1, i+0, (i+0)*11+1, 0-(i+0)/3, (i+0)-3)
	if uint64(p) >= 1<<64-4096 {
		runtime.Printf("mmap 2 failed %d\n", p)
		return 2
	}
	runtime.Store64(uintptr(p), 4088, 77)
	runtime.Printf("second %d %d\n", runtime.Load64(uintptr(p), 4088),
		runtime.Syscall(runtime.SYS_MUNMAP, uintptr(p)+0, (i+0)*1365+1))
	return r
}
