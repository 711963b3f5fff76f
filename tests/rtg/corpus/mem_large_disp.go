// SPDX-License-Identifier: Apache-2.0
// mem_large_disp: load and store displacements beyond 32 bits, positive and negative
package main

import "crumble/rtg/runtime"

func main() int64 {
	var b [32]byte
	var g [16]byte // the C++ program's global "g"
	p := &b
	runtime.Store64(p-0x100000000, 0x100000000, 0x1122334455667788)
	runtime.Printf("%x %x\n", runtime.Load64(p+0x100000000, -0x100000000), runtime.Load32(p, 0))
	runtime.Store16(&g+0x7fffffff00000000, -0x7fffffff00000000+8, 0xbeef)
	runtime.Store32(&b+0x123456789abc, -0x123456789abc+12, int64(int32(runtime.Load32(p-0x80000000, 0x80000000+4))))
	runtime.Printf("%x %x %d\n", runtime.Load64(&g, 8), runtime.Load64(p, 8), int64(int32(runtime.Load32(p, 12))))
	return int64(runtime.Load8(&g-0x8000000000000000, -0x8000000000000000+9))
}
