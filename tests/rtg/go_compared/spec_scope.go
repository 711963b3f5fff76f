// SPDX-License-Identifier: Apache-2.0
// spec_scope: the names of var a, b = ... and const c, d = ... come into scope at the end of
// their spec, so the values see the outer ones
package main

import "crumble/rtg/runtime"

const c = 10

func main() {
	x, y := 1, 2
	{
		var x, y = y, x
		runtime.Printf("%d %d\n", x, y)
	}
	const c, d = c + 1, c
	runtime.Printf("%d %d\n", c, d)
	s := "str"
	{
		var s, t = 5, s
		runtime.Printf("%d %s\n", s, t)
	}
	const str = "str"
	{
		const str, u = len(str), str
		runtime.Printf("%d %s\n", str, u)
	}
	var p, q int8 = 3, int8(x)
	runtime.Printf("%d %d %d %s\n", p, q, y, s)
}
