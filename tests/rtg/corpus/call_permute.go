// SPDX-License-Identifier: Apache-2.0
// call_permute: arguments permuted into the argument registers (chains and cycles), plain and computed
package main

import "crumble/rtg/runtime"

func main() int64 {
	a := int64(1)
	runtime.Printf("%d\n", perm(a+0, a+1, a+2, a+3, a+4, a+5))
	return perm(6, 5, 4, 3, 2, 1) & 0x7f
}

func perm(a int64, b int64, c int64, d int64, e int64, f int64) int64 {
	runtime.Printf("%d %d %d %d\n", f6(f, e, d, c, b, a), f6(b, a, d, c, f, e), f6(b, c, d, e, f, a), f6(a, a, b, b, c, c))
	runtime.Printf("%d %d %d\n", f6(a+0, b+0, c+0, d+0, e+0, f+0), f6(f+0, e+0, d+0, c+0, b+0, a+0), f6(b+0, c+0, d+0, e+0, f+0, a+0))
	runtime.Printf("%d %d %d\n", f6(a+0, a+0, b+0, b+0, c+0, c+0), f6(7, b+0, 8, a+0, f, e+0), f6((a+0)*(b+0), c+0, (d+0)-(e+0), f, 0, a+0))
	runtime.Printf("%d %d\n", (a+0)+(b+0)*f2(d+0, c+0), (f+0)*1000+f3(c+0, b+0, a+0))
	runtime.Printf("%d %d\n", f2(b, a), f2(b+0, a+0))
	return f2(b, a)
}

// f2, f3 and f6 read their arguments as the digits of a decimal number: each argument's place shows.
func f2(a int64, b int64) int64 {
	return a*10 + b
}

func f3(a int64, b int64, c int64) int64 {
	return (a*10+b)*10 + c
}

func f6(a int64, b int64, c int64, d int64, e int64, f int64) int64 {
	return ((((a*10+b)*10+c)*10+d)*10+e)*10 + f
}
