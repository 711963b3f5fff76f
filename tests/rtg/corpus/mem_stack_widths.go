// SPDX-License-Identifier: Apache-2.0
// mem_stack_widths: loads and stores of every width on a stack buffer, zero- and sign-extended
package main

import "crumble/rtg/runtime"

func main() int64 {
	var pad [8]byte
	var buf [64]byte
	var pad2 [24]byte
	pad[7] = 0x5a
	pad2[0] = 0xa5

	runtime.Store64(&buf, 0, uint64(0x8877665544332211))
	runtime.Store64(&buf, 8, -1)
	runtime.Printf("%x %d %x %d\n", runtime.Load8(&buf, 0), int64(int8(runtime.Load8(&buf, 0))),
		runtime.Load8(&buf, 7), int64(int8(runtime.Load8(&buf, 7))))
	runtime.Printf("%x %d %x %d\n", runtime.Load16(&buf, 6), int64(int16(runtime.Load16(&buf, 6))),
		runtime.Load32(&buf, 4), int64(int32(runtime.Load32(&buf, 4))))
	runtime.Printf("%x %x %x %x\n", runtime.Load64(&buf, 0), runtime.Load64(&buf, 1),
		int64(runtime.Load64(&buf, 0)), runtime.Load32(&buf, 2))

	// narrow stores keep only their low bytes
	runtime.Store8(&buf, 8, 0x1234)
	runtime.Store16(&buf, 10, 0xABCDEF)
	runtime.Store32(&buf, 12, 0x1122334455667788)
	runtime.Printf("%x\n", runtime.Load64(&buf, 8))

	// negative displacements from a pointer into the middle of the buffer
	q := &buf[16]
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

	// computed addresses
	var i int64
	for i < 32 {
		buf[32+i] = byte(i * 37)
		i++
	}
	i = 0
	var s int64
	for i < 32 {
		s = s*3 + int64(int16(runtime.Load16(&buf[32]+uintptr(i), 0))) + int64(runtime.Load8(q+uintptr(i), 16))
		i += 2
	}
	runtime.Printf("%d %x\n", s, int64(runtime.Load64(&buf, 56))^int64(int32(runtime.Load32(&buf, 40))))
	runtime.Store32(&buf[40]+uintptr(s&0), 4, int64(int8(runtime.Load8(&buf, 0)))*2)
	runtime.Printf("%x %x\n", runtime.Load64(&buf, 40), runtime.Load64(&buf[1], 39))

	// the neighbouring buffers are untouched
	if pad[7] != 0x5a || pad2[0] != 0xa5 {
		runtime.Printf("neighbour overwritten\n")
		return 1
	}
	return int64(runtime.Load8(&buf, 7))
}
