// SPDX-License-Identifier: Apache-2.0
// shifts_imm: <<, logical >> (uint64) and arithmetic >> (int64) by constant counts; the corpus takes counts
// modulo 64, so counts 64 and above (and -1) are written masked with &63
package main

import "crumble/rtg/runtime"

const minInt64 = -9223372036854775808

func main() int64 {
	var v int64
	v = 1
	runtime.Printf("%x %x %x\n", v<<0, uint64(v)>>0, v>>0)
	runtime.Printf("%x %x %x\n", v<<1, uint64(v)>>1, v>>1)
	runtime.Printf("%x %x %x\n", v<<31, uint64(v)>>31, v>>31)
	runtime.Printf("%x %x %x\n", v<<32, uint64(v)>>32, v>>32)
	runtime.Printf("%x %x %x\n", v<<63, uint64(v)>>63, v>>63)
	runtime.Printf("%x %x %x\n", v<<(64&63), uint64(v)>>(64&63), v>>(64&63))
	runtime.Printf("%x %x %x\n", v<<(65&63), uint64(v)>>(65&63), v>>(65&63))
	runtime.Printf("%x %x %x\n", v<<(127&63), uint64(v)>>(127&63), v>>(127&63))
	runtime.Printf("%x %x %x\n", v<<(200&63), uint64(v)>>(200&63), v>>(200&63))
	runtime.Printf("%x %x %x\n", v<<(-1&63), uint64(v)>>(-1&63), v>>(-1&63))
	runtime.Printf("%x %x %x\n", v<<(0x100000001&63), uint64(v)>>(0x100000001&63), v>>(0x100000001&63))
	v = -1
	runtime.Printf("%x %x %x\n", v<<0, uint64(v)>>0, v>>0)
	runtime.Printf("%x %x %x\n", v<<1, uint64(v)>>1, v>>1)
	runtime.Printf("%x %x %x\n", v<<31, uint64(v)>>31, v>>31)
	runtime.Printf("%x %x %x\n", v<<32, uint64(v)>>32, v>>32)
	runtime.Printf("%x %x %x\n", v<<63, uint64(v)>>63, v>>63)
	runtime.Printf("%x %x %x\n", v<<(64&63), uint64(v)>>(64&63), v>>(64&63))
	runtime.Printf("%x %x %x\n", v<<(65&63), uint64(v)>>(65&63), v>>(65&63))
	runtime.Printf("%x %x %x\n", v<<(127&63), uint64(v)>>(127&63), v>>(127&63))
	runtime.Printf("%x %x %x\n", v<<(200&63), uint64(v)>>(200&63), v>>(200&63))
	runtime.Printf("%x %x %x\n", v<<(-1&63), uint64(v)>>(-1&63), v>>(-1&63))
	runtime.Printf("%x %x %x\n", v<<(0x100000001&63), uint64(v)>>(0x100000001&63), v>>(0x100000001&63))
	v = minInt64
	runtime.Printf("%x %x %x\n", v<<0, uint64(v)>>0, v>>0)
	runtime.Printf("%x %x %x\n", v<<1, uint64(v)>>1, v>>1)
	runtime.Printf("%x %x %x\n", v<<31, uint64(v)>>31, v>>31)
	runtime.Printf("%x %x %x\n", v<<32, uint64(v)>>32, v>>32)
	runtime.Printf("%x %x %x\n", v<<63, uint64(v)>>63, v>>63)
	runtime.Printf("%x %x %x\n", v<<(64&63), uint64(v)>>(64&63), v>>(64&63))
	runtime.Printf("%x %x %x\n", v<<(65&63), uint64(v)>>(65&63), v>>(65&63))
	runtime.Printf("%x %x %x\n", v<<(127&63), uint64(v)>>(127&63), v>>(127&63))
	runtime.Printf("%x %x %x\n", v<<(200&63), uint64(v)>>(200&63), v>>(200&63))
	runtime.Printf("%x %x %x\n", v<<(-1&63), uint64(v)>>(-1&63), v>>(-1&63))
	runtime.Printf("%x %x %x\n", v<<(0x100000001&63), uint64(v)>>(0x100000001&63), v>>(0x100000001&63))
	v = -0x7fffffffffffffff
	runtime.Printf("%x %x %x\n", v<<0, uint64(v)>>0, v>>0)
	runtime.Printf("%x %x %x\n", v<<1, uint64(v)>>1, v>>1)
	runtime.Printf("%x %x %x\n", v<<31, uint64(v)>>31, v>>31)
	runtime.Printf("%x %x %x\n", v<<32, uint64(v)>>32, v>>32)
	runtime.Printf("%x %x %x\n", v<<63, uint64(v)>>63, v>>63)
	runtime.Printf("%x %x %x\n", v<<(64&63), uint64(v)>>(64&63), v>>(64&63))
	runtime.Printf("%x %x %x\n", v<<(65&63), uint64(v)>>(65&63), v>>(65&63))
	runtime.Printf("%x %x %x\n", v<<(127&63), uint64(v)>>(127&63), v>>(127&63))
	runtime.Printf("%x %x %x\n", v<<(200&63), uint64(v)>>(200&63), v>>(200&63))
	runtime.Printf("%x %x %x\n", v<<(-1&63), uint64(v)>>(-1&63), v>>(-1&63))
	runtime.Printf("%x %x %x\n", v<<(0x100000001&63), uint64(v)>>(0x100000001&63), v>>(0x100000001&63))
	v = 12345
	runtime.Printf("%x %x %x\n", v<<0, uint64(v)>>0, v>>0)
	runtime.Printf("%x %x %x\n", v<<1, uint64(v)>>1, v>>1)
	runtime.Printf("%x %x %x\n", v<<31, uint64(v)>>31, v>>31)
	runtime.Printf("%x %x %x\n", v<<32, uint64(v)>>32, v>>32)
	runtime.Printf("%x %x %x\n", v<<63, uint64(v)>>63, v>>63)
	runtime.Printf("%x %x %x\n", v<<(64&63), uint64(v)>>(64&63), v>>(64&63))
	runtime.Printf("%x %x %x\n", v<<(65&63), uint64(v)>>(65&63), v>>(65&63))
	runtime.Printf("%x %x %x\n", v<<(127&63), uint64(v)>>(127&63), v>>(127&63))
	runtime.Printf("%x %x %x\n", v<<(200&63), uint64(v)>>(200&63), v>>(200&63))
	runtime.Printf("%x %x %x\n", v<<(-1&63), uint64(v)>>(-1&63), v>>(-1&63))
	runtime.Printf("%x %x %x\n", v<<(0x100000001&63), uint64(v)>>(0x100000001&63), v>>(0x100000001&63))
	v = 0x0123456789abcdef
	runtime.Printf("%x %x %x\n", v<<0, uint64(v)>>0, v>>0)
	runtime.Printf("%x %x %x\n", v<<1, uint64(v)>>1, v>>1)
	runtime.Printf("%x %x %x\n", v<<31, uint64(v)>>31, v>>31)
	runtime.Printf("%x %x %x\n", v<<32, uint64(v)>>32, v>>32)
	runtime.Printf("%x %x %x\n", v<<63, uint64(v)>>63, v>>63)
	runtime.Printf("%x %x %x\n", v<<(64&63), uint64(v)>>(64&63), v>>(64&63))
	runtime.Printf("%x %x %x\n", v<<(65&63), uint64(v)>>(65&63), v>>(65&63))
	runtime.Printf("%x %x %x\n", v<<(127&63), uint64(v)>>(127&63), v>>(127&63))
	runtime.Printf("%x %x %x\n", v<<(200&63), uint64(v)>>(200&63), v>>(200&63))
	runtime.Printf("%x %x %x\n", v<<(-1&63), uint64(v)>>(-1&63), v>>(-1&63))
	runtime.Printf("%x %x %x\n", v<<(0x100000001&63), uint64(v)>>(0x100000001&63), v>>(0x100000001&63))
	return int64(uint64(v)>>4) & 0xff
}
