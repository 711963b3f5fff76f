// SPDX-License-Identifier: Apache-2.0
// calls_in_deep_expr: calls at the leaves of deep expressions, and deep expressions as call arguments
package main

import "crumble/rtg/runtime"

func lf(k int64) int64 {
	return k*k*31 + 7
}

// The expressions are trees of + - * ^ | &; their leaves cycle through a load from arr, a
// variable, a constant and a load of the 64-bit cell g.
func main() int64 {
	var arr [128]byte
	var g [8]byte
	var k int64
	for k < 16 {
		runtime.Store64(&arr, k*8, uint64(k)*0x9e3779b97f4a7c15+12345)
		k++
	}
	v0 := int64(-77)
	v1 := int64(999926)
	v2 := int64(1999929)
	v3 := int64(2999932)
	runtime.Store64(&g, 0, 0x1234567)
	runtime.Printf("%x\n", (lf(0)^lf(1))&(lf(2)+lf(3))*(lf(4)+lf(5)^lf(6)*lf(7))+(lf(8)|lf(9)+lf(10)&lf(11)^(lf(12)-lf(13)|(lf(14)^lf(15)))))
	runtime.Printf("%x %x\n", lf(0)+(lf(1)-lf(2)*(lf(3)^(lf(4)|(lf(5)+lf(6)&(lf(7)+(lf(8)-lf(9)*(lf(10)^lf(11)))))))), (((lf(0)-lf(1))*lf(2)^lf(3)|lf(4)+lf(5))&lf(6)+lf(7)-lf(8))*lf(9)^lf(10)|lf(11))
	runtime.Printf("%x %x\n", (v0|-34162+lf(int64(runtime.Load64(&g, 0)))&int64(runtime.Load64(&arr, 32))^(v1-lf(-2486)|(int64(runtime.Load64(&g, 0))^int64(runtime.Load64(&arr, 64)))))&(lf(v2)+29190-(int64(runtime.Load64(&g, 0))+lf(int64(runtime.Load64(&arr, 96))))|(v3*60866+(lf(int64(runtime.Load64(&g, 0)))|int64(runtime.Load64(&arr, 0)))))*(v0&lf(92542)*(int64(runtime.Load64(&g, 0))-int64(runtime.Load64(&arr, 32)))+(lf(v1)^124218)&(int64(runtime.Load64(&g, 0))+lf(int64(runtime.Load64(&arr, 64))))-(v2+155894^lf(int64(runtime.Load64(&g, 0)))*int64(runtime.Load64(&arr, 96)))&(v3|lf(187570)+int64(runtime.Load64(&g, 0))&int64(runtime.Load64(&arr, 0)))), -34162*(lf(int64(runtime.Load64(&g, 0)))^(int64(runtime.Load64(&arr, 32))|(v1+lf(-2486)&(int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))-lf(v2)*(29190^(int64(runtime.Load64(&g, 0))|(lf(int64(runtime.Load64(&arr, 96)))+v3&(60866+(lf(int64(runtime.Load64(&g, 0)))-int64(runtime.Load64(&arr, 0))*v0)))))))))))
	runtime.Printf("%x\n", f2((lf(0)^lf(1))&(lf(2)+lf(3))*(lf(4)+lf(5)^lf(6)*lf(7)), int64(runtime.Load64(&arr, 0))+(v0- -34162*(int64(runtime.Load64(&g, 0))^(int64(runtime.Load64(&arr, 32))|(v1+-2486&int64(runtime.Load64(&g, 0))))))))
	runtime.Printf("%x\n", f6(lf(v0- -34162*(lf(int64(runtime.Load64(&g, 0)))^(int64(runtime.Load64(&arr, 32))|(v1+lf(-2486))))), lf(3)&lf(4)*(lf(5)-lf(6)), 1, f2(-34162+lf(int64(runtime.Load64(&g, 0)))-(int64(runtime.Load64(&arr, 32))+v1)|(lf(-2486)*int64(runtime.Load64(&g, 0))+(int64(runtime.Load64(&arr, 64))|lf(v2))), lf(5)), lf(0)+(lf(1)-lf(2)*(lf(3)^(lf(4)|(lf(5)+lf(6))))), ((lf(int64(runtime.Load64(&arr, 0)))-v0)*-34162^lf(int64(runtime.Load64(&g, 0)))|int64(runtime.Load64(&arr, 32))+v1)&lf(-2486)))
	return (lf(0) ^ lf(1)) & (lf(2) + lf(3)) * (lf(4) + lf(5) ^ lf(6)*lf(7))
}

// f2 and f6 read their arguments as the digits of a decimal number: each argument's place shows.
func f2(a int64, b int64) int64 {
	return a*10 + b
}

func f6(a int64, b int64, c int64, d int64, e int64, f int64) int64 {
	return ((((a*10+b)*10+c)*10+d)*10+e)*10 + f
}
