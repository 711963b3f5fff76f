// SPDX-License-Identifier: Apache-2.0
// stack_params_forwarded: a 16-parameter function whose stack-passed parameters are read, written and passed
// on in another order, with busy locals, a print and a syscall
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d\n", fwd(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16))
	runtime.Printf("%d\n", fwd(-1, int64(int8(-2)), 3, -0x7fffffffffffffff-1, 5, 6, 7, 8, 9, int64(int16(-10)), 11, 12, 13, 14, int64(int32(-15)), 16))
	return fwd(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1) & 0x7f
}

func fwd(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15 int64) int64 {
	var h0, h1, h2, i int64
	for i < 4 {
		h0 = h0 + p12*i
		h1 = h1 ^ (h0 + p1)
		h2 = h2 + h1 - p15
		i = i + 1
	}
	p15 = p15 + p0
	p9 = p9 * 2
	runtime.Printf("%d %d %d|", p9, p14, p15)
	runtime.Syscall(runtime.SYS_WRITE, 1, "w|", 2)
	return w16(p15+0, p14+0, p13+0, p12+0, p11+0, p10+0, p9+0, p8+0, p7+0, p6+0, p5+0, p4+0, p3+0, p2+0, p1+0, p0+0)*3 + w16(p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15, p0) + h2 + (p10 ^ p13)
}

func w16(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15 int64) int64 {
	r := p0
	r = r*31 + p1
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
