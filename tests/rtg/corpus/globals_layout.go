// SPDX-License-Identifier: Apache-2.0
// globals_layout: areas of several sizes and alignments (laid out in an mmap'd region, as the C++ globals are): aligned, zeroed, not overlapping
package main

import "crumble/rtg/runtime"

// Offsets of the C++ program's globals in the region; e is page-aligned.
const (
	offA   = 0    // 1 byte
	offB   = 2    // 2 bytes, 2-aligned
	offC   = 8    // 8 bytes, 8-aligned
	offF   = 16   // 3 bytes
	offD   = 32   // 16 bytes, 16-aligned
	offE   = 4096 // 4096 bytes, 4096-aligned
	offH   = 8192 // 8 bytes, 8-aligned
	region = 3 * 4096
)

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}

func main() int64 {
	m := runtime.Syscall(runtime.SYS_MMAP, 0, region, runtime.PROT_READ|runtime.PROT_WRITE,
		runtime.MAP_PRIVATE|runtime.MAP_ANONYMOUS, -1, 0)
	if m < 0 {
		runtime.Printf("mmap failed %d\n", m)
		return 1
	}
	base := uintptr(m)
	a := base + offA
	b := base + offB
	c := base + offC
	f := base + offF
	d := base + offD
	e := base + offE
	h := base + offH

	runtime.Printf("aligned %d%d%d%d%d\n", b2i(b&1 == 0), b2i(c&7 == 0), b2i(d&15 == 0), b2i(e&4095 == 0), b2i(h&7 == 0))
	var i uintptr
	var s uint64
	for i < 512 {
		s |= runtime.Load64(e+i*8, 0)
		i++
	}
	runtime.Printf("zero %d %d %d %d\n", s,
		uint64(runtime.Load8(a, 0))+uint64(runtime.Load16(b, 0))+runtime.Load64(c, 0)+runtime.Load64(d, 8),
		uint64(runtime.Load16(f, 0))+uint64(runtime.Load8(f, 2)), runtime.Load64(h, 0))

	runtime.Store8(a, 0, 0x11)
	runtime.Store16(b, 0, 0x2222)
	runtime.Store64(c, 0, 0x3333333333333333)
	runtime.Store64(d, 0, 0x4444444444444444)
	runtime.Store64(d, 8, 0x4545454545454545)
	runtime.Store16(f, 0, 0x5555)
	runtime.Store8(f, 2, 0x56)
	runtime.Store64(h, 0, 0x6666666666666666)
	runtime.Store64(e, 0, 0x7777777777777777)
	runtime.Store64(e, 4088, 0x7878787878787878)
	runtime.Printf("%x %x %x %x %x\n", runtime.Load8(a, 0), runtime.Load16(b, 0), runtime.Load64(c, 0),
		runtime.Load64(d, 0), runtime.Load64(d, 8))
	runtime.Printf("%x %x %x %x %x\n", runtime.Load16(f, 0), runtime.Load8(f, 2), runtime.Load64(h, 0),
		runtime.Load64(e, 0), runtime.Load64(e, 4088))
	return int64(runtime.Load8(a, 0)) + int64(runtime.Load8(f, 2))
}
