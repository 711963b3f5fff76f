// SPDX-License-Identifier: Apache-2.0
// discarded_values_evaluated: a value assigned to _ (also by var _ = ...) is still evaluated, so
// every call in it runs, in order
package main

import "crumble/rtg/runtime"

func f(k int64) int64 {
	runtime.Printf("f%d ", k)
	return k
}

func main() {
	_ = -f(1)
	var _ = f(2) + 1
	var _ int64 = f(3) * 2
	_, _ = f(4)+1, f(5)
	_ = f(6) < 3
	var _, _ = f(7), f(8)
	_ = uint8(f(9))
	runtime.Printf("\n")
}
