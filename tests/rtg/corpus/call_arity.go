// SPDX-License-Identifier: Apache-2.0
// call_arity: calls with 0 to 6 arguments, constant and variable arguments, an indirect call, calls as arguments
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d %d %d %d %d %d %d\n", f0(), f1(5), f2(1, 2), f3(1, 2, 3), f4(1, 2, 3, 4), f5(1, 2, 3, 4, 5), f6(1, 2, 3, 4, 5, 6))
	a := int64(9)
	b := int64(8)
	c := int64(7)
	d := int64(6)
	e := int64(5)
	f := int64(4)
	runtime.Printf("%d %d %d\n", f6(a, b, c, d, e, f), f6(f, e, d, c, b, a), f2(-1, -2))
	var g [8]byte
	var m [16]byte
	runtime.Call(setg, &g, 77)
	runtime.Store64(&m, 8, 3)
	runtime.Printf("%d %d\n", runtime.Load64(&g, 0), f6(a+1, b*2, c-3, int64(runtime.Load64(&g, 0)), int64(runtime.Load64(&m, 8)), b2i(a > b)))
	runtime.Printf("%d %d\n", f3(f0(), f1(1), f2(a, b)), f1(f1(f1(1))))
	return f2(a, b)
}

// setg stores v in the 64-bit cell at p; main calls it through its address.
func setg(p uintptr, v int64) {
	runtime.Store64(p, 0, v)
}

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}

func f0() int64 {
	return 7
}

func f1(a int64) int64 {
	return a * 3
}

// f2 and up read their arguments as the digits of a decimal number: each argument's place shows.
func f2(a int64, b int64) int64 {
	return a*10 + b
}

func f3(a int64, b int64, c int64) int64 {
	return (a*10+b)*10 + c
}

func f4(a int64, b int64, c int64, d int64) int64 {
	return ((a*10+b)*10+c)*10 + d
}

func f5(a int64, b int64, c int64, d int64, e int64) int64 {
	return (((a*10+b)*10+c)*10+d)*10 + e
}

func f6(a int64, b int64, c int64, d int64, e int64, f int64) int64 {
	return ((((a*10+b)*10+c)*10+d)*10+e)*10 + f
}
