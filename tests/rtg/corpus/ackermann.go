// SPDX-License-Identifier: Apache-2.0
// ackermann: deeply nested recursion where a recursive call is the argument of another
package main

import "crumble/rtg/runtime"

func ack(m int64, n int64) int64 {
	if m == 0 {
		return n + 1
	}
	if n == 0 {
		return ack(m-1, 1)
	}
	return ack(m-1, ack(m, n-1))
}

func main() int64 {
	runtime.Printf("%d %d %d %d %d\n", ack(0, 0), ack(1, 2), ack(2, 3), ack(3, 3), ack(3, 5))
	return ack(2, 3)
}
