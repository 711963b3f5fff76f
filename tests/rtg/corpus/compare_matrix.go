// SPDX-License-Identifier: Apache-2.0
// compare_matrix: the ten comparisons (signed and unsigned) on every pair of boundary values, as values and as ifs
package main

import "crumble/rtg/runtime"

const (
	maxInt64 = 9223372036854775807
	minInt64 = -9223372036854775808
)

func main() int64 {
	var vals [56]byte
	runtime.Store64(&vals, 0, int64(0))
	runtime.Store64(&vals, 8, int64(-1))
	runtime.Store64(&vals, 16, int64(1))
	runtime.Store64(&vals, 24, int64(minInt64))
	runtime.Store64(&vals, 32, int64(maxInt64))
	runtime.Store64(&vals, 40, int64(2))
	runtime.Store64(&vals, 48, int64(0x80000000))
	var i int64
	var j int64
	var a int64
	var b int64
	var m int64
	var n int64
	for i < 7 {
		a = int64(runtime.Load64(&vals, i*8))
		j = 0
		for j < 7 {
			b = int64(runtime.Load64(&vals, j*8))
			m = b2i(a == b) |
				b2i(a != b)<<1 |
				b2i(a < b)<<2 |
				b2i(a <= b)<<3 |
				b2i(a > b)<<4 |
				b2i(a >= b)<<5 |
				b2i(uint64(a) < uint64(b))<<6 |
				b2i(uint64(a) <= uint64(b))<<7 |
				b2i(uint64(a) > uint64(b))<<8 |
				b2i(uint64(a) >= uint64(b))<<9
			n = 0
			if a == b {
				n |= 1
			}
			if a != b {
				n |= 2
			}
			if a < b {
				n |= 4
			}
			if a <= b {
				n |= 8
			}
			if a > b {
				n |= 16
			}
			if a >= b {
				n |= 32
			}
			if uint64(a) < uint64(b) {
				n |= 64
			}
			if uint64(a) <= uint64(b) {
				n |= 128
			}
			if uint64(a) > uint64(b) {
				n |= 256
			}
			if uint64(a) >= uint64(b) {
				n |= 512
			}
			runtime.Printf("%x:%x ", m, n)
			j++
		}
		runtime.Printf("\n")
		i++
	}
	return m
}

// b2i gives a condition as a value: 1 or 0.
func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}
