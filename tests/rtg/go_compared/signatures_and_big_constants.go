// SPDX-License-Identifier: Apache-2.0
// signatures_and_big_constants: named results (bare return), unnamed parameters, var p, n =
// runtime.EmbedString(...), and untyped constants past 100 bits
package main

import "crumble/rtg/runtime"

func named(a int64) (r int64) {
	if a > 0 {
		r = a * 2
		return
	}
	return a - 1
}

func zero() (r uint8) {
	return
}

func unnamed(int64, uint8) int64 { return 7 }

func under(_ int64, b int64) (_ int64) {
	if b > 0 {
		return b
	}
	return
}

func main() {
	var p, n = runtime.EmbedString("hello\n")
	runtime.Syscall(runtime.SYS_WRITE, 1, p, n)
	runtime.Printf("%d %d %d %d %d %d %d\n", named(3), named(-3), zero(), unnamed(1, 2), under(1, 5), under(1, -5), n)
	const big = 1 << 101 >> 99
	const h = (1<<120 - 1) >> 110
	runtime.Printf("%d %d\n", big, h)
}
