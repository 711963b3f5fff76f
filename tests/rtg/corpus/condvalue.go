// SPDX-License-Identifier: Apache-2.0
// condvalue: conditions used as values, in sums, byte stores, arguments and further comparisons
package main

import "crumble/rtg/runtime"

func main() int64 {
	var b [112]byte
	var s int64
	var t int64
	var i int64
	for i < 100 {
		s = s + b2i(i%3 == 0) + 2*b2i(i%5 == 0 && i%2 == 1) + 4*b2i(!(i < 50) || i == 7)
		b[i] = byte(b2i(uint64(i) > 90))
		i++
	}
	i = 0
	for i < 100 {
		t += int64(b[i])
		i++
	}
	runtime.Printf("%d %d %d %d\n", s, t, b2i(s > t)*1000+b2i(s == t), id(b2i(s-s == 0)))
	if b2i(s < t) == 0 {
		runtime.Printf("not less\n")
	}
	return b2i(b2i(t == 9) == 1) + 40
}

func id(v int64) int64 {
	return v
}

// b2i gives a condition as a value: 1 or 0.
func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}
