// SPDX-License-Identifier: Apache-2.0
// return_paths: returns from inside nested loops and nested ifs, several returns per function
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d %d %d\n", find(42), find(9973), find(0))
	runtime.Printf("%d %d %d\n", sign(-5), sign(0), sign(7))
	runtime.Printf("%d %d %d %d\n", deep(-1), deep(5), deep(50), deep(500))
	return find(99 * 98)
}

// find returns i*1000+j for the first i, j below 100 with i*j == n, or -1.
func find(n int64) int64 {
	var i int64
	var j int64
	for i < 100 {
		j = 0
		for j < 100 {
			if i*j == n {
				return i*1000 + j
			}
			j++
		}
		i++
	}
	return -1
}

func sign(x int64) int64 {
	if x < 0 {
		return -1
	}
	if x == 0 {
		return 0
	}
	return 1
}

func deep(x int64) int64 {
	if x > 0 {
		if x > 10 {
			if x > 100 {
				return 3
			}
			return 2
		}
		return 1
	}
	return 0
}
