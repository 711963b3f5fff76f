// SPDX-License-Identifier: Apache-2.0
// goto_loops: a loop made of a label and gotos, a goto out of two nested loops, forward gotos over code,
// and the same label names in another function
package main

import "crumble/rtg/runtime"

func main() {
	var i int64
	var j int64
	var s int64
top:
	if i >= 100 {
		goto done
	}
	s += i
	i++
	goto top
done:
	runtime.Printf("sum %d\n", s)
	i = 0
	for i < 10 {
		j = 0
		for j < 10 {
			if i*j == 42 {
				goto found
			}
			j++
		}
		i++
	}
	runtime.Printf("not found\n")
found:
	runtime.Printf("found %d %d\n", i, j)
	goto skip
	runtime.Printf("skipped!\n")
skip:
	s = 0
countdown:
	s++
	if s < 7 {
		goto countdown
	} else {
		goto last
	}
	runtime.Printf("unreachable\n")
last:
	runtime.Printf("count %d %d\n", s, countTo(5))
}

func countTo(n int64) int64 {
	var i int64
top:
	i++
	if i < n {
		goto top
	}
	goto done
done:
	return i * 10
}
