// SPDX-License-Identifier: Apache-2.0
// shifts_var: <<, logical and arithmetic >> by counts held in variables, read from a stack buffer;
// the corpus takes counts modulo 64 (also negative ones), written here as c&63
package main

import "crumble/rtg/runtime"

func main() int64 {
	var vals [64]byte
	var cnts [128]byte
	runtime.Store64(&vals, 0, int64(1))
	runtime.Store64(&vals, 8, int64(-1))
	runtime.Store64(&vals, 16, int64(-9223372036854775808))
	runtime.Store64(&vals, 24, int64(-0x7fffffffffffffff))
	runtime.Store64(&vals, 32, int64(12345))
	runtime.Store64(&vals, 40, int64(0x0123456789abcdef))
	runtime.Store64(&cnts, 0, int64(0))
	runtime.Store64(&cnts, 8, int64(1))
	runtime.Store64(&cnts, 16, int64(2))
	runtime.Store64(&cnts, 24, int64(31))
	runtime.Store64(&cnts, 32, int64(32))
	runtime.Store64(&cnts, 40, int64(63))
	runtime.Store64(&cnts, 48, int64(64))
	runtime.Store64(&cnts, 56, int64(65))
	runtime.Store64(&cnts, 64, int64(100))
	runtime.Store64(&cnts, 72, int64(127))
	runtime.Store64(&cnts, 80, int64(128))
	runtime.Store64(&cnts, 88, int64(-1))
	runtime.Store64(&cnts, 96, int64(-63))
	var v int64
	var c int64
	var i int64
	for i < 6 {
		v = int64(runtime.Load64(&vals, i*8))
		var j int64
		for j < 13 {
			c = int64(runtime.Load64(&cnts, j*8))
			runtime.Printf("%x %x %x %x\n", v<<(c&63), uint64(v)>>(c&63), v>>(c&63),
				(v+0)>>((c+0)&63)^(v+0)<<((c+1)&63))
			j++
		}
		i++
	}
	return int64(-9223372036854775808) >> (c & 63) // c = -63: shift by 1
}
