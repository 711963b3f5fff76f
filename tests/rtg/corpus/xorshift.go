// SPDX-License-Identifier: Apache-2.0
// xorshift: xorshift64 with logical and arithmetic shifts and a multiplicative hash, all wrapping
package main

import "crumble/rtg/runtime"

func main() int64 {
	x := uint64(88172645463325252)
	var h uint64
	var i int64
	for i < 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		h = (h ^ uint64(int64(x)>>29)) * 0x9e3779b97f4a7c15
		runtime.Printf("%x %x\n", x, h)
		i++
	}
	return int64(x >> 56)
}
