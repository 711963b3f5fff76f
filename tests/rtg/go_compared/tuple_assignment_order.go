// SPDX-License-Identifier: Apache-2.0
// tuple_assignment_order: Go's two phases — index operands on the left and values on the right are
// evaluated first (calls left to right), then stored: i, buf[i] = 2, 7 stores into buf[1]
package main

import "crumble/rtg/runtime"

func f(k int64) int64 {
	runtime.Printf("f%d ", k)
	return k
}

func main() {
	var buf [8]byte
	i := 1
	i, buf[i] = 2, 7
	runtime.Printf("%d %d %d\n", i, buf[1], buf[2])
	var a int64
	buf[f(1)], a = byte(f(2)), f(3)
	runtime.Printf("%d %d\n", buf[1], a)
	x, y := 1, 2
	x, y = y, x
	j := 0
	buf[j], j, buf[j] = 5, 3, 6
	runtime.Printf("%d %d %d %d %d\n", x, y, j, buf[0], buf[3])
	buf[f(4)] = byte(f(5))
	buf[f(6)] += byte(f(7))
	runtime.Printf("%d %d\n", buf[4], buf[6])
	runtime.Syscall(runtime.SYS_EXIT_GROUP, int64(buf[4])+256)
}
