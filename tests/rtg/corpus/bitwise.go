// SPDX-License-Identifier: Apache-2.0
// bitwise: & | ^ with registers and immediates of every size, and &= |= ^= in place
package main

import "crumble/rtg/runtime"

func main() int64 {
	var x int64 = 0x0123456789abcdef
	var y int64 = ^0x00ff00ff00ff00ff // 0xff00ff00ff00ff00
	runtime.Printf("%x %x %x\n", x&y, x|y, x^y)
	runtime.Printf("%x %x %x %x\n", x&0xff, x&-256, x|0x80000000, x^-1)
	runtime.Printf("%x %x %x %x\n", x&-0x100000000, x^x, (x|y)&(x^y), y^(^0x0f0f0f0f0f0f0f0f))
	runtime.Printf("%x %x %x\n", -1&x, (x+0)|0x7fffffff, (x+0)^(-2147483648))
	z := x
	z &= y
	z |= 0x0f
	z ^= -0x8000000000000000
	runtime.Printf("%x\n", z)
	return (x ^ y) & 0x7f
}
