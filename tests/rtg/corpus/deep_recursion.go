// SPDX-License-Identifier: Apache-2.0
// deep_recursion: 10000 nested non-tail calls
package main

import "crumble/rtg/runtime"

func sum(n int64) int64 {
	if n == 0 {
		return 0
	}
	return n + sum(n-1)
}

func main() int64 {
	runtime.Printf("%d\n", sum(10000))
	return sum(100) % 256
}
