// SPDX-License-Identifier: Apache-2.0
// while_complex_cond: loop conditions made of && || ! and an unsigned range check
package main

import "crumble/rtg/runtime"

func main() int64 {
	var i int64
	var j int64 = 5
	var n int64
	var k int64
	for (i < 100 && i*i < 2000) || (j > 0 && i < 120) {
		if i*i >= 2000 {
			j--
		}
		i++
		n += i
	}
	for !(k >= 10) {
		k++
	}
	for uint64(k-20) < 5 || k < 20 {
		k += 2
	}
	runtime.Printf("%d %d %d %d\n", i, j, n, k)
	return i
}
