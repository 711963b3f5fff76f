// SPDX-License-Identifier: Apache-2.0
// printf_many_args: one Printf with 24 arguments of every kind, some of them calls that print themselves
package main

import "crumble/rtg/runtime"

const (
	minInt64 = -1 << 63
	maxInt64 = 1<<63 - 1
)

func sq(v int64) int64 {
	runtime.Printf("[sq %d]", v)
	return v * v
}

func main() int64 {
	x := int64(-77)
	// The arguments are evaluated, and sq prints, before the outer Printf writes anything.
	runtime.Printf("%d %u %x %s %c|%d %u %x %s %c|%d %u %x %s %c|%d %u %x %s %c|%d %d %d %d\n",
		x, x, x, "one", 'A',
		x*2, x*3, x*4, "two", x+'Z'+77,
		sq(x), 0, 0, "", '~',
		minInt64, maxInt64, 1, "four", '#',
		x-x, x+x, x*x, sq(sq(x)))
	return sq(3)
}
