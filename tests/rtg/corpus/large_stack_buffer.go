// SPDX-License-Identifier: Apache-2.0
// large_stack_buffer: a 64 KiB stack buffer, and recursion with a 16 KiB buffer in every frame
package main

import "crumble/rtg/runtime"

func big(seed int64) int64 {
	var b [65536]byte
	var i, s int64
	for i < 8192 {
		runtime.Store64(&b+uintptr(i)*8, 0, seed*i)
		i++
	}
	i = 0
	for i < 8192 {
		s += int64(runtime.Load64(&b+uintptr(i)*8, 0))
		i++
	}
	return s
}

func nest(n int64) int64 {
	var b [16384]byte
	runtime.Store64(&b, 0, n)
	runtime.Store64(&b, 16376, n*2)
	if n == 0 {
		return 0
	}
	s := nest(n - 1)
	return s + int64(runtime.Load64(&b, 0)) + int64(runtime.Load64(&b, 16376))
}

func main() int64 {
	runtime.Printf("%d %d\n", big(3), nest(8))
	return nest(2) & 0xff
}
