// SPDX-License-Identifier: Apache-2.0
// many_locals: 14 variables live across calls in a loop, more than the callee-saved registers, while callees use many of their own
package main

import "crumble/rtg/runtime"

func main() int64 {
	v0 := int64(1)
	v1 := int64(12)
	v2 := int64(23)
	v3 := int64(34)
	v4 := int64(45)
	v5 := int64(56)
	v6 := int64(67)
	v7 := int64(78)
	v8 := int64(89)
	v9 := int64(100)
	v10 := int64(111)
	v11 := int64(122)
	v12 := int64(133)
	v13 := int64(144)
	var i int64
	for i < 10 {
		v0 = mix(v0, v13)
		v1 = v1 ^ (v0*3 + i)
		v2 = mix(v1+i, v2) - clobber(v2)
		v3 = mix(v3, v2)
		v4 = v4 ^ (v3*3 + i)
		v5 = mix(v4+i, v5) - clobber(v5)
		v6 = mix(v6, v5)
		v7 = v7 ^ (v6*3 + i)
		v8 = mix(v7+i, v8) - clobber(v8)
		v9 = mix(v9, v8)
		v10 = v10 ^ (v9*3 + i)
		v11 = mix(v10+i, v11) - clobber(v11)
		v12 = mix(v12, v11)
		v13 = v13 ^ (v12*3 + i)
		runtime.Call(clobber, i)
		i++
	}
	runtime.Printf("%x %x %x %x %x %x %x\n", v0, v1, v2, v3, v4, v5, v6)
	runtime.Printf("%x %x %x %x %x %x %x\n", v7, v8, v9, v10, v11, v12, v13)
	return v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9 + v10 + v11 + v12 + v13
}

func mix(a int64, b int64) int64 {
	return a*31 + b
}

func clobber(x int64) int64 {
	v0 := x*2 - 1
	v1 := x*3 - 1
	v2 := x*4 - 1
	v3 := x*5 - 1
	v4 := x*6 - 1
	v5 := x*7 - 1
	v6 := x*8 - 1
	v7 := x*9 - 1
	v8 := x*10 - 1
	v9 := x*11 - 1
	v10 := x*12 - 1
	v11 := x*13 - 1
	v12 := x*14 - 1
	v13 := x*15 - 1
	return (v0 ^ v1 ^ v2 ^ v3 ^ v4 ^ v5 ^ v6 ^ v7 ^ v8 ^ v9 ^ v10 ^ v11 ^ v12 ^ v13) & 0xffff
}
