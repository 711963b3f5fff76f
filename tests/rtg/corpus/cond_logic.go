// SPDX-License-Identifier: Apache-2.0
// cond_logic: ==0, <0, !, && and || and their combinations, both as values and as if/else branches
package main

import "crumble/rtg/runtime"

const (
	maxInt64 = 9223372036854775807
	minInt64 = -9223372036854775808
)

func main() int64 {
	var vals [72]byte
	runtime.Store64(&vals, 0, int64(0))
	runtime.Store64(&vals, 8, int64(1))
	runtime.Store64(&vals, 16, int64(-1))
	runtime.Store64(&vals, 24, int64(minInt64))
	runtime.Store64(&vals, 32, int64(maxInt64))
	runtime.Store64(&vals, 40, int64(7))
	runtime.Store64(&vals, 48, int64(12))
	runtime.Store64(&vals, 56, int64(-12))
	runtime.Store64(&vals, 64, int64(100))
	var i int64
	var m int64
	for i < 9 {
		x := int64(runtime.Load64(&vals, i*8))
		m = 0
		var n int64
		m |= b2i(x == 0) << 0
		if x == 0 {
			n |= 1
		} else {
			n |= 0x10000
		}
		m |= b2i(x < 0) << 1
		if x < 0 {
			n |= 2
		} else {
			n |= 0x20000
		}
		m |= b2i(!(x == 0)) << 2
		if !(x == 0) {
			n |= 4
		} else {
			n |= 0x40000
		}
		m |= b2i(!(x < 0)) << 3
		if !(x < 0) {
			n |= 8
		} else {
			n |= 0x80000
		}
		m |= b2i(x < 0 && !(x == 0)) << 4
		if x < 0 && !(x == 0) {
			n |= 16
		} else {
			n |= 0x100000
		}
		m |= b2i(x == 0 || x < 0) << 5
		if x == 0 || x < 0 {
			n |= 32
		} else {
			n |= 0x200000
		}
		m |= b2i(!(x == 0 || x < 0)) << 6
		if !(x == 0 || x < 0) {
			n |= 64
		} else {
			n |= 0x400000
		}
		m |= b2i(!(x > 0 && x < 100)) << 7
		if !(x > 0 && x < 100) {
			n |= 128
		} else {
			n |= 0x800000
		}
		m |= b2i((x == 0 || x == 1) && !(x == 1)) << 8
		if (x == 0 || x == 1) && !(x == 1) {
			n |= 256
		} else {
			n |= 0x1000000
		}
		m |= b2i((x < 0 || x > 10) && (x&1 == 0 || x+0 < 0)) << 9
		if (x < 0 || x > 10) && (x&1 == 0 || x+0 < 0) {
			n |= 512
		} else {
			n |= 0x2000000
		}
		m |= b2i(!!(x == 0)) << 10
		if !!(x == 0) {
			n |= 1024
		} else {
			n |= 0x4000000
		}
		m |= b2i(x-1 < 0) << 11
		if x-1 < 0 {
			n |= 2048
		} else {
			n |= 0x8000000
		}
		m |= b2i(x+1 == 0) << 12
		if x+1 == 0 {
			n |= 4096
		} else {
			n |= 0x10000000
		}
		m |= b2i((x == 0 && x == 0) || (!(x < 0) && x&3 == 3) || (x == 12 && !(x != 12))) << 13
		if (x == 0 && x == 0) || (!(x < 0) && x&3 == 3) || (x == 12 && !(x != 12)) {
			n |= 8192
		} else {
			n |= 0x20000000
		}
		runtime.Printf("%x %x\n", m, n)
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
