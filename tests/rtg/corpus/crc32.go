// SPDX-License-Identifier: Apache-2.0
// crc32: bitwise CRC-32 of an embedded string
package main

import "crumble/rtg/runtime"

func main() int64 {
	p := uintptr("The quick brown fox jumps over the lazy dog")
	crc := uint64(0xffffffff)
	for runtime.Load8(p, 0) != 0 {
		crc ^= uint64(runtime.Load8(p, 0))
		k := 0
		for k < 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xedb88320
			} else {
				crc = crc >> 1
			}
			k++
		}
		p++
	}
	crc ^= 0xffffffff
	runtime.Printf("%x\n", crc)
	return int64(crc & 0xff)
}
