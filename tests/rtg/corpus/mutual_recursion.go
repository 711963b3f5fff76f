// SPDX-License-Identifier: Apache-2.0
// mutual_recursion: even and odd calling each other, declared in either order
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d%d%d%d%d %d%d\n", even(0), even(1), even(10), even(77), even(1000), odd(77), odd(1000))
	return odd(999)*10 + even(999)
}

func even(n int64) int64 {
	if n == 0 {
		return 1
	}
	return odd(n - 1)
}

func odd(n int64) int64 {
	if n == 0 {
		return 0
	}
	return even(n - 1)
}
