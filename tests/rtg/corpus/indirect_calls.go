// SPDX-License-Identifier: Apache-2.0
// indirect_calls: calls through function addresses held in a table, in variables and in parameters, with computed targets
package main

import "crumble/rtg/runtime"

func main() int64 {
	sqAddr := sq
	var table [32]byte
	runtime.Store64(&table, 0, add)
	runtime.Store64(&table, 8, sub)
	runtime.Store64(&table, 16, mul)
	runtime.Store64(&table, 24, pick)
	var i int64
	for i < 4 {
		runtime.Printf("%d ", runtime.Call(uintptr(runtime.Load64(&table, i*8)), 7, 3))
		i++
	}
	fp := sq
	runtime.Printf("%d %d %d\n", runtime.Call(fp, 9), apply(sq, 5), apply(neg, 5))
	runtime.Printf("%d %d\n", runtime.Call(fp, runtime.Call(fp, 3)), compose(neg, fp, 4))
	fp = f6
	runtime.Printf("%d\n", runtime.Call(fp, 1, 2, 3, 4, 5, 6))
	x := int64(10)
	y := int64(20)
	runtime.Printf("%d\n", (x+0)*runtime.Call(uintptr(runtime.Load64(&table, 16)), x+1, y+0)+(y+0))
	runtime.Printf("%d %d\n", b2i(sq == sqAddr), b2i(sq != neg))
	// the target is itself computed by a call; an argument calls through an address too
	runtime.Printf("%d %d\n", runtime.Call(getf(&table, 2), runtime.Call(uintptr(runtime.Load64(&table, 0)), x, 1), 3),
		runtime.Call(getf(&table, 0), getf(&table, 3)-getf(&table, 3)+5, y+0))
	return runtime.Call(uintptr(runtime.Load64(&table, 24)), 200, 100)
}

func add(a int64, b int64) int64 {
	return a + b
}

func sub(a int64, b int64) int64 {
	return a - b
}

func mul(a int64, b int64) int64 {
	return a * b
}

func pick(a int64, b int64) int64 {
	return b
}

func sq(a int64) int64 {
	return a * a
}

func neg(a int64) int64 {
	return 0 - a
}

func apply(f uintptr, x int64) int64 {
	return runtime.Call(f, x)
}

func compose(f uintptr, g uintptr, x int64) int64 {
	return runtime.Call(f, runtime.Call(g, x))
}

// getf is entry k of the function table at table.
func getf(table uintptr, k int64) uintptr {
	return uintptr(runtime.Load64(table, k*8))
}

// f6 reads its arguments as the digits of a decimal number: each argument's place shows.
func f6(a int64, b int64, c int64, d int64, e int64, f int64) int64 {
	return ((((a*10+b)*10+c)*10+d)*10+e)*10 + f
}

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}
