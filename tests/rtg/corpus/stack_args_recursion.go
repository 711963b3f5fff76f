// SPDX-License-Identifier: Apache-2.0
// stack_args_recursion: recursion 2000 deep through 10- and 16-parameter functions, the parameters rotated
// at each level so a stack-passed one reaches a register and back
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d %d\n", r10(2000, 1, 2, 3, 4, 5, 6, 7, 8, 9), r10(3, 9, 8, 7, 6, 5, 4, 3, 2, 1))
	runtime.Printf("%d %d\n", r16(2000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
		r16(7, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15))
	return r10(100, 1, 1, 1, 1, 1, 1, 1, 1, 1) & 0x7f
}

func r10(n, p1, p2, p3, p4, p5, p6, p7, p8, p9 int64) int64 {
	if n == 0 {
		r := p1
		r = r*31 + p2
		r = r*31 + p3
		r = r*31 + p4
		r = r*31 + p5
		r = r*31 + p6
		r = r*31 + p7
		r = r*31 + p8
		r = r*31 + p9
		return r
	}
	return r10(n-1, p2, p3, p4, p5, p6, p7, p8, p9, p1+n) + (p9 & 1)
}

func r16(n, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15 int64) int64 {
	if n == 0 {
		r := p1
		r = r*31 + p2
		r = r*31 + p3
		r = r*31 + p4
		r = r*31 + p5
		r = r*31 + p6
		r = r*31 + p7
		r = r*31 + p8
		r = r*31 + p9
		r = r*31 + p10
		r = r*31 + p11
		r = r*31 + p12
		r = r*31 + p13
		r = r*31 + p14
		r = r*31 + p15
		return r
	}
	return r16(n-1, p2^n, p3^n, p4^n, p5^n, p6^n, p7^n, p8^n, p9^n, p10^n, p11^n, p12^n, p13^n, p14^n, p15^n, p1*3+n) - p15
}
