// SPDX-License-Identifier: Apache-2.0
// arith_add_sub: add and subtract wrapping at the int64 boundaries, immediates of every size
package main

import "crumble/rtg/runtime"

const (
	maxInt64 = 9223372036854775807
	minInt64 = -9223372036854775808
)

func main() int64 {
	var a int64 = maxInt64
	var b int64 = 1
	var c int64 = -1
	runtime.Printf("%d %d %d %d\n", a+b, a+1, a-c, a-(-1))
	a = minInt64
	runtime.Printf("%d %d %d %d\n", a-b, a-1, a+c, 0-a)
	runtime.Printf("%d %d %d %u\n", a+a, b-a, a+maxInt64, 0-b)
	a = 1000
	runtime.Printf("%d %d %d %d %d\n", a+0x123456789, a-0x7fffffff00000000, a-(-2147483648),
		a+(-2147483648), a-2147483647)
	runtime.Printf("%d %d %d %d\n", a+2147483647+1, (a+0)-(-2147483648), (a+0)+0x100000000,
		(a+0)-minInt64)
	return a + b + c
}
