// SPDX-License-Identifier: Apache-2.0
// div_unsigned: unsigned / and % on uint64, dividends and divisors with the top bit set; register and constant divisors
package main

import "crumble/rtg/runtime"

func main() int64 {
	var n uint64
	var d uint64
	n = 0xffffffffffffffff
	d = 2
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/2, n%2)
	n = 0xffffffffffffffff
	d = 0xffffffffffffffff
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0xffffffffffffffff, n%0xffffffffffffffff)
	n = 0xfffffffffffffff9
	d = 3
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/3, n%3)
	n = 0x8000000000000000
	d = 3
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/3, n%3)
	n = 5
	d = 0xffffffffffffffff
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0xffffffffffffffff, n%0xffffffffffffffff)
	n = 123456789
	d = 1000
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/1000, n%1000)
	n = 0x8000000000000000
	d = 0x4000000000000000
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0x4000000000000000, n%0x4000000000000000)
	n = 0xffffffffffffffff
	d = 0x100000000
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0x100000000, n%0x100000000)
	n = 0
	d = 7
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/7, n%7)
	n = 0x8000000000000005
	d = 0x8000000000000000
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0x8000000000000000, n%0x8000000000000000)
	n = 0xfffffffffffffffe
	d = 0xffffffffffffffff
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0xffffffffffffffff, n%0xffffffffffffffff)
	n = 1000
	d = 0x80000000
	runtime.Printf("%u %u %u %u\n", n/d, n%d, n/0x80000000, n%0x80000000)
	return int64(0xffffffffffffffff / d) // d is 2^64-1 now: 1
}
