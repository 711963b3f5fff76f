// SPDX-License-Identifier: Apache-2.0
// mem_global_widths: loads and stores of every width on a global-like area (an mmap'd page laid out as the C++ globals pad, g, h)
package main

import "crumble/rtg/runtime"

const (
	offG     = 16 // 64 bytes, 16-aligned
	offH     = 80 // 8 bytes
	pageSize = 4096
)

// memoryOps does the same stores and loads as mem_stack_widths on the 64 bytes at base.
func memoryOps(base uintptr) {
	runtime.Store64(base, 0, uint64(0x8877665544332211))
	runtime.Store64(base, 8, -1)
	runtime.Printf("%x %d %x %d\n", runtime.Load8(base, 0), int64(int8(runtime.Load8(base, 0))),
		runtime.Load8(base, 7), int64(int8(runtime.Load8(base, 7))))
	runtime.Printf("%x %d %x %d\n", runtime.Load16(base, 6), int64(int16(runtime.Load16(base, 6))),
		runtime.Load32(base, 4), int64(int32(runtime.Load32(base, 4))))
	runtime.Printf("%x %x %x %x\n", runtime.Load64(base, 0), runtime.Load64(base, 1),
		int64(runtime.Load64(base, 0)), runtime.Load32(base, 2))

	runtime.Store8(base, 8, 0x1234)
	runtime.Store16(base, 10, 0xABCDEF)
	runtime.Store32(base, 12, 0x1122334455667788)
	runtime.Printf("%x\n", runtime.Load64(base, 8))

	q := base + 16
	runtime.Printf("%x %x\n", runtime.Load64(q, -8), runtime.Load16(q, -15))
	runtime.Store8(q, 0, 0x7f)
	runtime.Store8(q, 1, 0x80)
	runtime.Store16(q, 2, 0x7fff)
	runtime.Store16(q, 4, 0x8000)
	runtime.Store32(q, 8, 0x7fffffff)
	runtime.Store32(q, 12, 0x80000000)
	runtime.Printf("%d %d %d %d %d %d\n", int64(int8(runtime.Load8(q, 0))), int64(int8(runtime.Load8(q, 1))),
		int64(int16(runtime.Load16(q, 2))), int64(int16(runtime.Load16(q, 4))),
		int64(int32(runtime.Load32(q, 8))), int64(int32(runtime.Load32(q, 12))))
	runtime.Printf("%d %d %d %d %d %d\n", runtime.Load8(q, 0), runtime.Load8(q, 1), runtime.Load16(q, 2),
		runtime.Load16(q, 4), runtime.Load32(q, 8), runtime.Load32(q, 12))

	var i int64
	for i < 32 {
		runtime.Store8(base+32+uintptr(i), 0, i*37)
		i++
	}
	i = 0
	var s int64
	for i < 32 {
		s = s*3 + int64(int16(runtime.Load16(base+32+uintptr(i), 0))) + int64(runtime.Load8(q+uintptr(i), 16))
		i += 2
	}
	runtime.Printf("%d %x\n", s, int64(runtime.Load64(base, 56))^int64(int32(runtime.Load32(base, 40))))
	runtime.Store32(base+uintptr(s&0)+40, 4, int64(int8(runtime.Load8(base, 0)))*2)
	runtime.Printf("%x %x\n", runtime.Load64(base, 40), runtime.Load64(base+1, 39))
}

func main() int64 {
	m := runtime.Syscall(runtime.SYS_MMAP, 0, pageSize, runtime.PROT_READ|runtime.PROT_WRITE,
		runtime.MAP_PRIVATE|runtime.MAP_ANONYMOUS, -1, 0)
	if m < 0 {
		runtime.Printf("mmap failed %d\n", m)
		return 1
	}
	g := uintptr(m) + offG
	h := uintptr(m) + offH

	memoryOps(g)

	runtime.Store64(h, 0, uint64(0xfedcba9876543210))
	runtime.Store8(h, 0, 0x55)
	runtime.Printf("%x %x %x\n", runtime.Load64(h, 0), int64(int32(runtime.Load32(h, 4))), runtime.Load64(g, 0))
	runtime.Store64(g, 0, runtime.Load64(h, 0)+1)
	runtime.Printf("%x %x\n", runtime.Load16(g, 0), runtime.Load64(g, 8))
	return int64(runtime.Load8(g, 7))
}
