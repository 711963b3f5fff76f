// SPDX-License-Identifier: Apache-2.0
// string_ops: strlen, reversal and upper-casing into stack buffers, strcmp
package main

import "crumble/rtg/runtime"

func strlen(s string) int64 {
	p := uintptr(s)
	var n int64
	for runtime.Load8(p+uintptr(n), 0) != 0 {
		n++
	}
	return n
}

func strcmp(x string, y string) int64 {
	a := uintptr(x)
	b := uintptr(y)
	for runtime.Load8(a, 0) != 0 && runtime.Load8(a, 0) == runtime.Load8(b, 0) {
		a++
		b++
	}
	return int64(runtime.Load8(a, 0)) - int64(runtime.Load8(b, 0))
}

func main() int64 {
	var rev [32]byte
	var up [32]byte
	s := "Hello, World! 123"
	p := uintptr(s)
	n := strlen(s)
	var i int64
	for i < n {
		rev[i] = runtime.Load8(p+uintptr(n-1-i), 0)
		i++
	}
	rev[n] = 0
	i = 0
	for i <= n {
		c := runtime.Load8(p+uintptr(i), 0)
		if c >= 'a' && c <= 'z' {
			c -= 32
		}
		up[i] = c
		i++
	}
	runtime.Printf("%d [%s] [%s]\n", n, &rev, &up)
	runtime.Printf("%d %d %d %d\n", strcmp("abc", "abd"), strcmp("abc", "abc"), strcmp("b", "abc"), strcmp("ab", "abc"))
	return n
}
