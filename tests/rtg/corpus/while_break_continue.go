// SPDX-License-Identifier: Apache-2.0
// while_break_continue: nested loops with break and continue in both, a constant-true loop left by
// break, a loop that never runs
package main

import "crumble/rtg/runtime"

func main() int64 {
	var i int64
	var s int64
	var t int64
	var k int64
	for i < 1000 {
		i++
		if i%3 == 0 {
			continue
		}
		if i > 200 {
			break
		}
		s += i
		var j int64
		for j < 100 {
			j++
			if j == i%7 {
				break
			}
			if j&1 == 0 {
				continue
			}
			t += j
		}
	}
	for true {
		k += 3
		if k > 50 {
			break
		}
	}
	for i > 1000 {
		runtime.Printf("never\n")
	}
	runtime.Printf("%d %d %d %d\n", s, i, t, k)
	return k
}
