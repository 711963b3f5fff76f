// SPDX-License-Identifier: Apache-2.0
// stack_args_mixed: calls of 7 to 16 arguments (past 6 on AMD64 and 8 on ARM64 and RISC-V on the stack) of
// every width, nested calls among the stack-passed arguments, a call whose temporaries must survive, an indirect call
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%d %d %d %d\n", w7(1, 2, 3, 4, 5, 6, 7),
		w8(int64(int8(-7)), int64(int16(-300)), int64(int32(-100000)), int64(-0x7fffffffffffffff), int64(int32(0x7fffffff)), int64(int8(127)), int64(int16(0x7fff)), int64(int8(-128))),
		w9(0, 0, 0, 0, 0, 0, 0, 0, int64(int32(-1))),
		w10(10, 9, 8, 7, 6, 5, 4, 3, 2, -1))
	runtime.Printf("%d %d %d\n", w11(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
		w12(int64(int16(-2)), 0, 0, 0, 0, 0, 0, 0, 0, 0, int64(int8(-1)), int64(int32(-3))),
		w13(13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1))
	runtime.Printf("%d %d %d\n", w14(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14),
		w15(0x0123456789abcdef, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, int64(-0x0123456789abcdf0)),
		w16(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1))
	var m uint64 = 0x80f0e1d2c3b4a596
	a := int64(1000)
	b := int64(-3)
	runtime.Printf("%d\n", w16(int64(int8(m)), int64(uint8(m)), int64(uint16(m)), int64(int16(m)), int64(uint32(m)), int64(int32(m)), int64(m), a, b, a+b, a*b,
		int64(int32(m>>32)), int64(int16(m>>48)), int64(int8(m>>56)), int64(int8(-1)), a-1))
	runtime.Printf("%d\n", w16(a+1, a+2, a+3, a+4, a+5, a+6, a+7, w7(b, b, b, b, b, b, a), a+9, w9(1, 2, 3, 4, 5, 6, 7, 8, a),
		a+11, a+12, w8(a, 2, 3, 4, 5, 6, 7, b), a+14, f2(a, b), a+16))
	runtime.Printf("%d\n", w12(w7(1, 2, 3, 4, 5, 6, 7), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
		w12(12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, w8(a, 1, 1, 1, 1, 1, 1, 1))))
	x := int64(10)
	y := int64(20)
	runtime.Printf("%d\n", (x+0)*w9(x+1, y+1, x+2, y+2, x+3, y+3, x+4, y+4, x+5)+(y+0))
	runtime.Printf("%d\n", runtime.Call(w13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, b))
	return w10(1, 2, 3, 4, 5, 6, 7, 8, 9, a) & 0x7f
}

func f2(a, b int64) int64 {
	return a*10 + b
}

func w7(p0, p1, p2, p3, p4, p5, p6 int64) int64 {
	r := p0
	r = r*31 + p1
	r = r*31 + p2
	r = r*31 + p3
	r = r*31 + p4
	r = r*31 + p5
	r = r*31 + p6
	return r
}

func w8(p0, p1, p2, p3, p4, p5, p6, p7 int64) int64 {
	r := p0
	r = r*31 + p1
	r = r*31 + p2
	r = r*31 + p3
	r = r*31 + p4
	r = r*31 + p5
	r = r*31 + p6
	r = r*31 + p7
	return r
}

func w9(p0, p1, p2, p3, p4, p5, p6, p7, p8 int64) int64 {
	r := p0
	r = r*31 + p1
	r = r*31 + p2
	r = r*31 + p3
	r = r*31 + p4
	r = r*31 + p5
	r = r*31 + p6
	r = r*31 + p7
	r = r*31 + p8
	return r
}

func w10(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9 int64) int64 {
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
	return r
}

func w11(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10 int64) int64 {
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
	return r
}

func w12(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11 int64) int64 {
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
	return r
}

func w13(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12 int64) int64 {
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
	return r
}

func w14(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13 int64) int64 {
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
	return r
}

func w15(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14 int64) int64 {
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
	return r
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
