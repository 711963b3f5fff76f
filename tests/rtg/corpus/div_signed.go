// SPDX-License-Identifier: Apache-2.0
// div_signed: signed / and % with every sign, at the int64 boundaries; divisor in a register, constant divisor, constant dividend
package main

import "crumble/rtg/runtime"

const (
	maxInt64 = 9223372036854775807
	minInt64 = -9223372036854775808
)

func main() int64 {
	var n int64
	var d int64
	n = 7
	d = 2
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/2, n%2, 7/d)
	n = -7
	d = 2
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/2, n%2, (-7)/d)
	n = 7
	d = -2
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/(-2), n%(-2), 7/d)
	n = -7
	d = -2
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/(-2), n%(-2), (-7)/d)
	n = minInt64
	d = 2
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/2, n%2, minInt64/d)
	n = minInt64
	d = maxInt64
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/maxInt64, n%maxInt64, minInt64/d)
	n = maxInt64
	d = -1
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/(-1), n%(-1), maxInt64/d)
	n = maxInt64
	d = minInt64
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/minInt64, n%minInt64, maxInt64/d)
	n = 0
	d = -5
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/(-5), n%(-5), 0/d)
	n = -1
	d = minInt64
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/minInt64, n%minInt64, (-1)/d)
	n = 100
	d = 7
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/7, n%7, 100/d)
	n = minInt64
	d = -2
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/(-2), n%(-2), minInt64/d)
	n = -1000000007
	d = 0x100000000
	runtime.Printf("%d %d %d %d %d\n", n/d, n%d, n/0x100000000, n%0x100000000, (-1000000007)/d)
	n = -7
	return n%3 + 100
}
