// SPDX-License-Identifier: Apache-2.0
// hello_example: the example from crumble's documentation (a loop, every Printf conversion, a call)
package main

import "crumble/rtg/runtime"

func main(argc int64) int64 {
	var x int64
	var i int64
	for i < 10 {
		x = x + i*3
		i = i + 1
	}
	runtime.Printf("x=%d neg=%d hex=%x s=%s c=%c %%\n", x, 0-x, 255, "hi", 'Z')
	return f(x, 2)
}

func f(a int64, b int64) int64 {
	return a/b - 60
}
