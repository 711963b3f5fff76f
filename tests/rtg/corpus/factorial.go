// SPDX-License-Identifier: Apache-2.0
// factorial: recursive factorial, with results that overflow 64 bits printed as %d %u %x
package main

import "crumble/rtg/runtime"

func fact(n int64) int64 {
	if n <= 1 {
		return 1
	}
	return n * fact(n-1)
}

func main() int64 {
	runtime.Printf("%d %d %d\n", fact(0), fact(5), fact(20))
	runtime.Printf("%d %u %x\n", fact(21), fact(21), fact(25))
	return fact(5)
}
