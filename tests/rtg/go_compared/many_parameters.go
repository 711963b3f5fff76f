// SPDX-License-Identifier: Apache-2.0
// many_parameters: functions of 7 to 16 parameters of every integer width, bool and string (past
// 6 on AMD64 and 8 on ARM64 and RISC-V they are passed on the stack), narrow values that wrap in
// the callee, parameters written and forwarded in another order, calls among the arguments of
// calls, and recursion 1000 deep through a 10-parameter function
package main

import "crumble/rtg/runtime"

func seven(a, b, c, d, e, f, g int64) int64 {
	return ((((((a*31+b)*31+c)*31+d)*31+e)*31+f)*31 + g)
}

func nine(a int8, b uint8, c int16, d uint16, e int32, f uint32, g int64, h uint64, i bool) int64 {
	a += 100 // wraps in int8
	b += 200 // wraps in uint8
	c *= 3
	d -= 7
	e <<= 4
	f >>= 1
	r := int64(a)*1000003 + int64(b)*10007 + int64(c)*101 + int64(d)
	r = r*31 + int64(e)
	r = r*31 + int64(f)
	r = r*31 + g
	r = r*31 + int64(h>>3)
	if i {
		r = -r
	}
	return r
}

func sixteen(a int8, b uint8, c int16, d uint16, e int32, f uint32, g int64, h uint64,
	i bool, s string, j int8, k uint16, l int32, m uint32, n int64, o uint8) int64 {
	runtime.Printf("%s:", s)
	o++
	j -= 1
	k = k * 2
	r := nine(a, b, c, d, e, f, g, h, i)
	r = r*31 + int64(j)
	r = r*31 + int64(k)
	r = r*31 + int64(l)
	r = r*31 + int64(m)
	r = r*31 + n
	r = r*31 + int64(o)
	return r
}

// The parameters go on to another call reversed and rotated, some changed first.
func forward(a int8, b uint8, c int16, d uint16, e int32, f uint32, g int64, h uint64,
	i bool, s string, j int8, k uint16, l int32, m uint32, n int64, o uint8) int64 {
	n = n + int64(a)
	x := sixteen(j, o, int16(k), uint16(l), int32(m), uint32(n), int64(a), uint64(b), !i, s, a, d, e, f, g, b)
	y := sixteen(a, b, c, d, e, f, g, h, i, "again", j, k, l, m, n, o)
	return x ^ y
}

func rec(n int64, a int8, b uint16, c int32, d uint32, e int64, f uint8, g int16, h uint64, i int8) int64 {
	if n == 0 {
		return ((((((((int64(a)*31+int64(b))*31+int64(c))*31+int64(d))*31+e)*31+int64(f))*31+int64(g))*31+int64(h))*31 + int64(i))
	}
	return rec(n-1, int8(b), uint16(c), int32(d), uint32(e), e+int64(a)*n, f+uint8(n), g-int16(n), h^uint64(n), a) + int64(i&1)
}

func main() {
	runtime.Printf("%d %d\n", seven(1, 2, 3, 4, 5, 6, 7), seven(-1, 0, 1<<62, -1<<63, 5, -6, 7))
	runtime.Printf("%d %d\n", nine(-128, 255, -32768, 0, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, true),
		nine(127, 0, 32767, 65535, 2147483647, 0, 9223372036854775807, 0, false))
	var w uint64 = 0x8899aabbccddeeff
	runtime.Printf("%d\n", sixteen(int8(w), uint8(w), int16(w), uint16(w), int32(w), uint32(w), int64(w), w,
		w > 5, "first", int8(w>>8), uint16(w>>16), int32(w>>24), uint32(w>>32), int64(w>>40), uint8(w>>56)))
	runtime.Printf("%d\n", forward(-5, 250, -300, 65000, -70000, 4000000000, 1<<40, 1<<63, true, "fwd", 127, 1, -1, 7, 8, 255))
	runtime.Printf("%d\n", seven(seven(1, 1, 1, 1, 1, 1, 1), 2, 3, 4, 5, seven(7, 6, 5, 4, 3, 2, 1), nine(1, 2, 3, 4, 5, 6, 7, 8, false)))
	runtime.Printf("%d %d\n", rec(1000, 1, 2, 3, 4, 5, 6, 7, 8, 9), rec(3, -1, 65535, -3, 4294967295, -5, 255, -32768, 1<<63, -128))
	runtime.Syscall(runtime.SYS_EXIT_GROUP, rec(10, 1, 2, 3, 4, 5, 6, 7, 8, 9)&0x7f)
}
