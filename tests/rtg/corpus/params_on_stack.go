// SPDX-License-Identifier: Apache-2.0
// params_on_stack: six parameters kept across a hot nested loop whose locals take the callee-saved registers
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d %d\n", six(1, 2, 3, 4, 5, 6), six(f1(3), 8, 7, 6, 5, 4))
	return six(9, 8, 7, 6, 5, 4) & 0x7f
}

func six(a int64, b int64, c int64, d int64, e int64, f int64) int64 {
	var h0 int64
	var h1 int64
	var h2 int64
	var h3 int64
	var h4 int64
	var i int64
	for i < 5 {
		j := int64(0)
		for j < 3 {
			h0 += i * j
			h1 ^= h0
			h2 += h1 + j
			h3 = h3*3 + h2
			h4 = h4 - h3 + i
			j++
		}
		i++
	}
	a += f1(f)
	// a b c d e f as decimal digits, times 1000, plus the loop's hash
	return (((((a*10+b)*10+c)*10+d)*10+e)*10+f)*1000 + (h4 & 511)
}

func f1(a int64) int64 {
	return a * 3
}
