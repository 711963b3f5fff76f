// SPDX-License-Identifier: Apache-2.0
// nested_call_args: calls as arguments of calls, several levels deep, up to six arguments
package main

import "crumble/rtg/runtime"

func g(x int64) int64 {
	return x*2 + 1
}

func h(y int64) int64 {
	return y * y
}

func f(a int64, b int64) int64 {
	return a*1000 + b
}

// f6 reads its arguments as the digits of a decimal number: each argument's place shows.
func f6(p1 int64, p2 int64, p3 int64, p4 int64, p5 int64, p6 int64) int64 {
	return ((((p1*10+p2)*10+p3)*10+p4)*10+p5)*10 + p6
}

func main() int64 {
	x := int64(3)
	runtime.Printf("%d %d %d\n", f(g(x), h(x+1)), f(g(h(2)), h(g(2))), f(f(g(1), h(2)), f(h(3), g(4))))
	runtime.Printf("%d\n", f6(g(1), h(2), g(3)+h(4), f(g(5), 6), 7, h(h(2))*g(0)))
	runtime.Printf("%d\n", g(g(g(g(g(g(g(g(x)))))))))
	runtime.Printf("%d\n", f(f(f(f(1, 2), f(3, 4)), f(f(5, 6), f(7, 8))), f(f(f(9, 10), f(11, 12)), f(f(13, 14), f(15, 16)))))
	return f(g(1), h(1))
}
