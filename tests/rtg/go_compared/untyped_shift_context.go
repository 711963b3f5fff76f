// SPDX-License-Identifier: Apache-2.0
// untyped_shift_context: an untyped constant shifted by a run-time count takes the type of its
// context; shift counts may hold calls and other run-time shifts
package main

import "crumble/rtg/runtime"

const K = 3

func f(k int64) int64 {
	runtime.Printf("f%d ", k)
	return k
}

func main() {
	var s uint = 7
	var x int64 = 1 << s
	var b8 int8 = 1 << s
	var u8 uint8 = 1<<(s+1) + 1
	u := uint64(5)
	v := u | 1<<s
	n := uint8(2)
	w := uint16(K << n)
	var m int8 = -(1 << s)
	i := 1 << s
	var big uint64 = 1 << (s + 56)
	runtime.Printf("%d %d %d %d %d %d %d %u\n", x, b8, u8, v, w, m, i, big)
	runtime.Printf("%d %d\n", 1<<s, 1<<s == 128)
	a, b := uint64(2), uint(3)
	runtime.Printf("%u\n", uint64(1)<<(a<<b))
	y := int64(3) << f(2)
	z := uint8(200) << uint8(f(1))
	q := int8(-128) >> f(70)
	r := uint32(f(5)) >> (f(1) + 31)
	runtime.Printf("%d %d %d %d\n", y, z, q, r)
	var t int16 = 'a' << s
	runtime.Printf("%d\n", t)
}
