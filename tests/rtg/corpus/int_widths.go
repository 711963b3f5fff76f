// SPDX-License-Identifier: Apache-2.0
// int_widths: int8, int16 and int32 values from truncating conversions, sign-extended when widened
package main

import "crumble/rtg/runtime"

func main() int64 {
	var b200 int64 = 200
	var b384 int64 = 0x180
	runtime.Printf("%d %d %d %d\n", int8(b200), int8(-1), int8(127), int8(b384))
	var h8000 int64 = 0x8000
	var h17fff int64 = 0x17fff
	runtime.Printf("%d %d %d\n", int16(h8000), int16(h17fff), int16(-2))
	var wffffffff int64 = 0xffffffff
	var w80000000 int64 = 0x80000000
	var w123456789 int64 = 0x123456789
	runtime.Printf("%d %d %x\n", int32(wffffffff), int32(w80000000), int32(w123456789))
	var x int64 = 1000
	runtime.Printf("%d %d %d %d\n", x+int64(int8(b200)), x*int64(int16(h8000)), x-int64(int32(w80000000)),
		uint64(x)>>(0x42&63))
	var x8 int8 = -100
	var b156 uint8 = 156
	if x8 == int8(b156) {
		runtime.Printf("int8 compare ok\n")
	} else {
		runtime.Printf("int8 compare wrong\n")
	}
	if x8 < 0 {
		runtime.Printf("negative ok\n")
	}
	return int64(x8)
}
