// SPDX-License-Identifier: Apache-2.0
// locals_zero_init: locals start at zero on every call, even after another call left garbage in
// registers and on the stack
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d %d %d %d\n", dirty(), zero(1), acc(10), zero(12345))
	runtime.Printf("%d %d\n", dirty()+zero(2), acc(0))
	return zero(3)
}

func dirty() int64 {
	var a int64 = -1
	var b int64 = -2
	var c int64 = -3
	var d int64 = -4
	var e int64 = -5
	var f int64 = -6
	var g int64 = -7
	var h int64 = -8
	var x int64 = -9
	var y int64 = -10
	var i int64 = -11
	var s int64 = -12
	return a + b + c + d + e + f + g + h + x + y + i + s
}

func zero(flag int64) int64 {
	var x int64
	var y int64
	if flag == 12345 {
		x = 5
		y = 6
	}
	return x*100 + y
}

func acc(n int64) int64 {
	var i int64
	var s int64
	for i < n {
		s += i
		i++
	}
	return s
}
