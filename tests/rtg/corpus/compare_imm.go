// SPDX-License-Identifier: Apache-2.0
// compare_imm: the ten comparisons against constants of every size (zero, 32-bit, 64-bit), the constant on
// either side; as ifs on the negated condition and as values
package main

import "crumble/rtg/runtime"

const (
	maxInt64 = 9223372036854775807
	minInt64 = -9223372036854775808
)

func main() int64 {
	var vals [80]byte
	runtime.Store64(&vals, 0, int64(0))
	runtime.Store64(&vals, 8, int64(-1))
	runtime.Store64(&vals, 16, int64(1))
	runtime.Store64(&vals, 24, int64(minInt64))
	runtime.Store64(&vals, 32, int64(maxInt64))
	runtime.Store64(&vals, 40, int64(0x80000000))
	runtime.Store64(&vals, 48, int64(-0x80000000))
	runtime.Store64(&vals, 56, int64(2147483647))
	runtime.Store64(&vals, 64, int64(5))
	runtime.Store64(&vals, 72, int64(-0x80000001))
	var i int64
	var x int64
	var n int64
	for i < 10 {
		x = int64(runtime.Load64(&vals, i*8))
		n = 0
		if !(x == 0) {
		} else {
			n |= 1
		}
		if !(x != 0) {
		} else {
			n |= 2
		}
		if !(x < 0) {
		} else {
			n |= 4
		}
		if !(x <= 0) {
		} else {
			n |= 8
		}
		if !(x > 0) {
		} else {
			n |= 16
		}
		if !(x >= 0) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 0) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 0) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 0) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 0) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == 0)|
				b2i(x != 0)<<1|
				b2i(x < 0)<<2|
				b2i(x <= 0)<<3|
				b2i(x > 0)<<4|
				b2i(x >= 0)<<5|
				b2i(uint64(x) < 0)<<6|
				b2i(uint64(x) <= 0)<<7|
				b2i(uint64(x) > 0)<<8|
				b2i(uint64(x) >= 0)<<9,
			n,
			b2i(0 == x)|
				b2i(0 != x)<<1|
				b2i(0 < x)<<2|
				b2i(0 <= x)<<3|
				b2i(0 > x)<<4|
				b2i(0 >= x)<<5|
				b2i(0 < uint64(x))<<6|
				b2i(0 <= uint64(x))<<7|
				b2i(0 > uint64(x))<<8|
				b2i(0 >= uint64(x))<<9)
		n = 0
		if !(x == -1) {
		} else {
			n |= 1
		}
		if !(x != -1) {
		} else {
			n |= 2
		}
		if !(x < -1) {
		} else {
			n |= 4
		}
		if !(x <= -1) {
		} else {
			n |= 8
		}
		if !(x > -1) {
		} else {
			n |= 16
		}
		if !(x >= -1) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 0xffffffffffffffff) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 0xffffffffffffffff) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 0xffffffffffffffff) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 0xffffffffffffffff) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == -1)|
				b2i(x != -1)<<1|
				b2i(x < -1)<<2|
				b2i(x <= -1)<<3|
				b2i(x > -1)<<4|
				b2i(x >= -1)<<5|
				b2i(uint64(x) < 0xffffffffffffffff)<<6|
				b2i(uint64(x) <= 0xffffffffffffffff)<<7|
				b2i(uint64(x) > 0xffffffffffffffff)<<8|
				b2i(uint64(x) >= 0xffffffffffffffff)<<9,
			n,
			b2i(-1 == x)|
				b2i(-1 != x)<<1|
				b2i(-1 < x)<<2|
				b2i(-1 <= x)<<3|
				b2i(-1 > x)<<4|
				b2i(-1 >= x)<<5|
				b2i(0xffffffffffffffff < uint64(x))<<6|
				b2i(0xffffffffffffffff <= uint64(x))<<7|
				b2i(0xffffffffffffffff > uint64(x))<<8|
				b2i(0xffffffffffffffff >= uint64(x))<<9)
		n = 0
		if !(x == 1) {
		} else {
			n |= 1
		}
		if !(x != 1) {
		} else {
			n |= 2
		}
		if !(x < 1) {
		} else {
			n |= 4
		}
		if !(x <= 1) {
		} else {
			n |= 8
		}
		if !(x > 1) {
		} else {
			n |= 16
		}
		if !(x >= 1) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 1) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 1) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 1) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 1) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == 1)|
				b2i(x != 1)<<1|
				b2i(x < 1)<<2|
				b2i(x <= 1)<<3|
				b2i(x > 1)<<4|
				b2i(x >= 1)<<5|
				b2i(uint64(x) < 1)<<6|
				b2i(uint64(x) <= 1)<<7|
				b2i(uint64(x) > 1)<<8|
				b2i(uint64(x) >= 1)<<9,
			n,
			b2i(1 == x)|
				b2i(1 != x)<<1|
				b2i(1 < x)<<2|
				b2i(1 <= x)<<3|
				b2i(1 > x)<<4|
				b2i(1 >= x)<<5|
				b2i(1 < uint64(x))<<6|
				b2i(1 <= uint64(x))<<7|
				b2i(1 > uint64(x))<<8|
				b2i(1 >= uint64(x))<<9)
		n = 0
		if !(x == minInt64) {
		} else {
			n |= 1
		}
		if !(x != minInt64) {
		} else {
			n |= 2
		}
		if !(x < minInt64) {
		} else {
			n |= 4
		}
		if !(x <= minInt64) {
		} else {
			n |= 8
		}
		if !(x > minInt64) {
		} else {
			n |= 16
		}
		if !(x >= minInt64) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 0x8000000000000000) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 0x8000000000000000) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 0x8000000000000000) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 0x8000000000000000) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == minInt64)|
				b2i(x != minInt64)<<1|
				b2i(x < minInt64)<<2|
				b2i(x <= minInt64)<<3|
				b2i(x > minInt64)<<4|
				b2i(x >= minInt64)<<5|
				b2i(uint64(x) < 0x8000000000000000)<<6|
				b2i(uint64(x) <= 0x8000000000000000)<<7|
				b2i(uint64(x) > 0x8000000000000000)<<8|
				b2i(uint64(x) >= 0x8000000000000000)<<9,
			n,
			b2i(minInt64 == x)|
				b2i(minInt64 != x)<<1|
				b2i(minInt64 < x)<<2|
				b2i(minInt64 <= x)<<3|
				b2i(minInt64 > x)<<4|
				b2i(minInt64 >= x)<<5|
				b2i(0x8000000000000000 < uint64(x))<<6|
				b2i(0x8000000000000000 <= uint64(x))<<7|
				b2i(0x8000000000000000 > uint64(x))<<8|
				b2i(0x8000000000000000 >= uint64(x))<<9)
		n = 0
		if !(x == maxInt64) {
		} else {
			n |= 1
		}
		if !(x != maxInt64) {
		} else {
			n |= 2
		}
		if !(x < maxInt64) {
		} else {
			n |= 4
		}
		if !(x <= maxInt64) {
		} else {
			n |= 8
		}
		if !(x > maxInt64) {
		} else {
			n |= 16
		}
		if !(x >= maxInt64) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 0x7fffffffffffffff) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 0x7fffffffffffffff) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 0x7fffffffffffffff) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 0x7fffffffffffffff) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == maxInt64)|
				b2i(x != maxInt64)<<1|
				b2i(x < maxInt64)<<2|
				b2i(x <= maxInt64)<<3|
				b2i(x > maxInt64)<<4|
				b2i(x >= maxInt64)<<5|
				b2i(uint64(x) < 0x7fffffffffffffff)<<6|
				b2i(uint64(x) <= 0x7fffffffffffffff)<<7|
				b2i(uint64(x) > 0x7fffffffffffffff)<<8|
				b2i(uint64(x) >= 0x7fffffffffffffff)<<9,
			n,
			b2i(maxInt64 == x)|
				b2i(maxInt64 != x)<<1|
				b2i(maxInt64 < x)<<2|
				b2i(maxInt64 <= x)<<3|
				b2i(maxInt64 > x)<<4|
				b2i(maxInt64 >= x)<<5|
				b2i(0x7fffffffffffffff < uint64(x))<<6|
				b2i(0x7fffffffffffffff <= uint64(x))<<7|
				b2i(0x7fffffffffffffff > uint64(x))<<8|
				b2i(0x7fffffffffffffff >= uint64(x))<<9)
		n = 0
		if !(x == 0x80000000) {
		} else {
			n |= 1
		}
		if !(x != 0x80000000) {
		} else {
			n |= 2
		}
		if !(x < 0x80000000) {
		} else {
			n |= 4
		}
		if !(x <= 0x80000000) {
		} else {
			n |= 8
		}
		if !(x > 0x80000000) {
		} else {
			n |= 16
		}
		if !(x >= 0x80000000) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 0x80000000) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 0x80000000) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 0x80000000) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 0x80000000) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == 0x80000000)|
				b2i(x != 0x80000000)<<1|
				b2i(x < 0x80000000)<<2|
				b2i(x <= 0x80000000)<<3|
				b2i(x > 0x80000000)<<4|
				b2i(x >= 0x80000000)<<5|
				b2i(uint64(x) < 0x80000000)<<6|
				b2i(uint64(x) <= 0x80000000)<<7|
				b2i(uint64(x) > 0x80000000)<<8|
				b2i(uint64(x) >= 0x80000000)<<9,
			n,
			b2i(0x80000000 == x)|
				b2i(0x80000000 != x)<<1|
				b2i(0x80000000 < x)<<2|
				b2i(0x80000000 <= x)<<3|
				b2i(0x80000000 > x)<<4|
				b2i(0x80000000 >= x)<<5|
				b2i(0x80000000 < uint64(x))<<6|
				b2i(0x80000000 <= uint64(x))<<7|
				b2i(0x80000000 > uint64(x))<<8|
				b2i(0x80000000 >= uint64(x))<<9)
		n = 0
		if !(x == -0x80000000) {
		} else {
			n |= 1
		}
		if !(x != -0x80000000) {
		} else {
			n |= 2
		}
		if !(x < -0x80000000) {
		} else {
			n |= 4
		}
		if !(x <= -0x80000000) {
		} else {
			n |= 8
		}
		if !(x > -0x80000000) {
		} else {
			n |= 16
		}
		if !(x >= -0x80000000) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 0xffffffff80000000) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 0xffffffff80000000) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 0xffffffff80000000) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 0xffffffff80000000) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == -0x80000000)|
				b2i(x != -0x80000000)<<1|
				b2i(x < -0x80000000)<<2|
				b2i(x <= -0x80000000)<<3|
				b2i(x > -0x80000000)<<4|
				b2i(x >= -0x80000000)<<5|
				b2i(uint64(x) < 0xffffffff80000000)<<6|
				b2i(uint64(x) <= 0xffffffff80000000)<<7|
				b2i(uint64(x) > 0xffffffff80000000)<<8|
				b2i(uint64(x) >= 0xffffffff80000000)<<9,
			n,
			b2i(-0x80000000 == x)|
				b2i(-0x80000000 != x)<<1|
				b2i(-0x80000000 < x)<<2|
				b2i(-0x80000000 <= x)<<3|
				b2i(-0x80000000 > x)<<4|
				b2i(-0x80000000 >= x)<<5|
				b2i(0xffffffff80000000 < uint64(x))<<6|
				b2i(0xffffffff80000000 <= uint64(x))<<7|
				b2i(0xffffffff80000000 > uint64(x))<<8|
				b2i(0xffffffff80000000 >= uint64(x))<<9)
		n = 0
		if !(x == 2147483647) {
		} else {
			n |= 1
		}
		if !(x != 2147483647) {
		} else {
			n |= 2
		}
		if !(x < 2147483647) {
		} else {
			n |= 4
		}
		if !(x <= 2147483647) {
		} else {
			n |= 8
		}
		if !(x > 2147483647) {
		} else {
			n |= 16
		}
		if !(x >= 2147483647) {
		} else {
			n |= 32
		}
		if !(uint64(x) < 2147483647) {
		} else {
			n |= 64
		}
		if !(uint64(x) <= 2147483647) {
		} else {
			n |= 128
		}
		if !(uint64(x) > 2147483647) {
		} else {
			n |= 256
		}
		if !(uint64(x) >= 2147483647) {
		} else {
			n |= 512
		}
		runtime.Printf("%x %x %x|",
			b2i(x == 2147483647)|
				b2i(x != 2147483647)<<1|
				b2i(x < 2147483647)<<2|
				b2i(x <= 2147483647)<<3|
				b2i(x > 2147483647)<<4|
				b2i(x >= 2147483647)<<5|
				b2i(uint64(x) < 2147483647)<<6|
				b2i(uint64(x) <= 2147483647)<<7|
				b2i(uint64(x) > 2147483647)<<8|
				b2i(uint64(x) >= 2147483647)<<9,
			n,
			b2i(2147483647 == x)|
				b2i(2147483647 != x)<<1|
				b2i(2147483647 < x)<<2|
				b2i(2147483647 <= x)<<3|
				b2i(2147483647 > x)<<4|
				b2i(2147483647 >= x)<<5|
				b2i(2147483647 < uint64(x))<<6|
				b2i(2147483647 <= uint64(x))<<7|
				b2i(2147483647 > uint64(x))<<8|
				b2i(2147483647 >= uint64(x))<<9)
		runtime.Printf("\n")
		i++
	}
	return n
}

// b2i gives a condition as a value: 1 or 0.
func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}
