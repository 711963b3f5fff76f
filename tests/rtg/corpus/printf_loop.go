// SPDX-License-Identifier: Apache-2.0
// printf_loop: Printf with computed arguments in a loop of 100 iterations
package main

import "crumble/rtg/runtime"

func main() int64 {
	var i int64
	for i < 100 {
		runtime.Printf("%d: %d %x %u\n", i, i*i*i-5000, i*12345, 0-i)
		i++
	}
	return i
}
