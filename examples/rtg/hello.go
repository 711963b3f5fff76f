// SPDX-License-Identifier: Apache-2.0
// hello: the smallest useful RTG program — write a greeting, compute, print, exit with a status.
package main

import "crumble/rtg/runtime"

const greeting = "hello from RTG\n"

// fib returns the n-th Fibonacci number, recursively.
func fib(n int64) int64 {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func main() int64 {
	p, n := runtime.EmbedString(greeting)
	runtime.Syscall(runtime.SYS_WRITE, runtime.STDOUT_FILENO, p, n)
	var i int64
	for i < 10 {
		runtime.Printf("%d ", fib(i))
		i++
	}
	runtime.Printf("\nbuilt for %s\n", runtime.GOARCH)
	return fib(10) % 256
}
