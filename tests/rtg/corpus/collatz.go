// SPDX-License-Identifier: Apache-2.0
// collatz: nested loops with a data-dependent branch, tracking the longest chain below 1000
package main

import "crumble/rtg/runtime"

func main() int64 {
	var best int64
	var arg int64
	var total int64
	n := int64(1)
	for n < 1000 {
		x := n
		var steps int64
		for x != 1 {
			if x&1 == 0 {
				x >>= 1
			} else {
				x = x*3 + 1
			}
			steps++
		}
		if steps > best {
			best = steps
			arg = n
		}
		total += steps
		n++
	}
	runtime.Printf("%d %d %d\n", arg, best, total)
	return best
}
