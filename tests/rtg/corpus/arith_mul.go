// SPDX-License-Identifier: Apache-2.0
// arith_mul: multiplication wrapping at 64 bits, by registers and immediates of every size
package main

import "crumble/rtg/runtime"

const (
	maxInt64 = 9223372036854775807
	minInt64 = -9223372036854775808
)

func main() int64 {
	var x int64 = maxInt64
	var y int64 = 2
	var z int64 = -3
	var w int64 = 0x100000001
	var v int64 = 0xffffffff
	var m int64 = minInt64
	runtime.Printf("%d %d %d %d\n", x*y, x*x, z*7, w*v)
	runtime.Printf("%d %d %d %d %d\n", m*-1, m*z, x*3, x*(-1), x*0x100000000)
	runtime.Printf("%x %x %d %d\n", x*minInt64, w*w, (z*z)*(z*z)*z, (y+0)*0x4000000000000000)
	runtime.Printf("%d %d\n", int64(123456789)*1000000007, (x+0)*(-2147483648))
	return z * z
}
