// SPDX-License-Identifier: Apache-2.0
// shift_past_width_keeps_calls: a constant shift count of 64 or more gives 0 (or -1), and the
// shifted operand is still evaluated for its calls
package main

import "crumble/rtg/runtime"

func f(k int64) int64 {
	runtime.Printf("f%d ", k)
	return k
}

func main() {
	x := f(1) >> 64
	y := f(2) << 70
	z := uint8(f(3)) >> 64
	w := int8(-f(4)) >> 64
	v := uint64(f(5)) << 64
	runtime.Printf("%d %d %d %d %d\n", x, y, z, w, v)
}
