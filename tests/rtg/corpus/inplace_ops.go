// SPDX-License-Identifier: Apache-2.0
// inplace_ops: x = x op y (as op=) for every operator, in a function where x, y, r stay in registers and
// in one where a hot loop pushes them to stack slots
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("%x %x\n", regs(), slots())
	return regs()
}

func regs() int64 {
	var x int64 = 1000
	var y int64 = 7
	var r int64
	x += y
	r ^= x
	x -= y
	r += x
	x *= y
	r ^= x
	x /= y
	r += x
	x %= y
	r = r*3 + x
	x = -1000
	x = int64(uint64(x) / uint64(y))
	r ^= x
	x = int64(uint64(x) % uint64(y))
	r += x
	x = -1000
	x <<= y
	r += x
	x = int64(uint64(x) >> y)
	r ^= x
	x >>= 60
	r += x
	x = -5
	x >>= y
	r += x
	x |= 0x7000000000000000
	r ^= x
	x &= y
	r += x
	x ^= 0x123456789
	r += x
	x -= x
	r = r + x + 1
	x = 12
	x *= x
	r += x
	x <<= x & 63
	r ^= x
	x = 5
	x /= x
	r += x
	x = 9
	y -= x
	r += y
	y = x / y
	r += y
	x += 0x100000000
	r ^= x
	x -= -2147483648
	r += x
	x *= 0x100000001
	r ^= x
	x %= -10
	r += x
	return r
}

func slots() int64 {
	var h0 int64
	var h1 int64
	var h2 int64
	var h3 int64
	var h4 int64
	var h5 int64
	var i int64
	for i < 10 {
		var j int64
		for j < 1 {
			h0 += i
			h1 += h0
			h2 ^= h1
			h3 = h3 + h2 + i
			h4 -= h3
			h5 = h5 + h4 - i
			j++
		}
		i++
	}
	var x int64 = 1000
	var y int64 = 7
	var r int64
	x += y
	r ^= x
	x -= y
	r += x
	x *= y
	r ^= x
	x /= y
	r += x
	x %= y
	r = r*3 + x
	x = -1000
	x = int64(uint64(x) / uint64(y))
	r ^= x
	x = int64(uint64(x) % uint64(y))
	r += x
	x = -1000
	x <<= y
	r += x
	x = int64(uint64(x) >> y)
	r ^= x
	x >>= 60
	r += x
	x = -5
	x >>= y
	r += x
	x |= 0x7000000000000000
	r ^= x
	x &= y
	r += x
	x ^= 0x123456789
	r += x
	x -= x
	r = r + x + 1
	x = 12
	x *= x
	r += x
	x <<= x & 63
	r ^= x
	x = 5
	x /= x
	r += x
	x = 9
	y -= x
	r += y
	y = x / y
	r += y
	x += 0x100000000
	r ^= x
	x -= -2147483648
	r += x
	x *= 0x100000001
	r ^= x
	x %= -10
	r += x
	return r + (h0 ^ h1 ^ h2 ^ h3 ^ h4 ^ h5)
}
