// SPDX-License-Identifier: Apache-2.0
// fib_recursive: doubly recursive fib, counting its calls in a memory cell every call updates
package main

import "crumble/rtg/runtime"

// fib counts each call in the 64-bit cell at calls.
func fib(n int64, calls uintptr) int64 {
	runtime.Store64(calls, 0, runtime.Load64(calls, 0)+1)
	if n < 2 {
		return n
	}
	return fib(n-1, calls) + fib(n-2, calls)
}

func main() int64 {
	var counter [8]byte
	calls := &counter
	var i int64
	for i < 25 {
		runtime.Printf("%d,", fib(i, calls))
		i++
	}
	runtime.Store64(calls, 0, 0)
	runtime.Printf("\nfib(15)=%d calls=%d\n", fib(15, calls), runtime.Load64(calls, 0))
	return fib(13, calls)
}
