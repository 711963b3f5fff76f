// SPDX-License-Identifier: Apache-2.0
// embed_bytes: embedded bytes read at every width, written with write(2), with and without a terminating NUL, and as a lookup table
package main

import "crumble/rtg/runtime"

func main() int64 {
	e, _ := runtime.EmbedBytes(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x80, 0x90, 0xa0, 0xb0)
	runtime.Printf("%x %x %x %d %d\n", runtime.Load64(e, 0), runtime.Load16(e, 3), runtime.Load32(e, 8),
		int64(int32(runtime.Load32(e, 8))), int64(int8(runtime.Load8(e, 9))))
	chunk, n := runtime.EmbedString("chunk one|")
	runtime.Syscall(runtime.SYS_WRITE, 1, chunk, n)
	again, _ := runtime.EmbedString("chunk one|")
	runtime.Syscall(runtime.SYS_WRITE, 1, again, 5)
	nul, n := runtime.EmbedString("\nnul\x00inside\n")
	runtime.Syscall(runtime.SYS_WRITE, 1, nul, n)
	empty, _ := runtime.EmbedString("")
	runtime.Printf("%d\n", runtime.Syscall(runtime.SYS_WRITE, 1, empty, 0))
	abc, _ := runtime.EmbedCString("abc\x00def")
	hello, _ := runtime.EmbedCString("hello")
	runtime.Printf("%s|%s|%s\n", abc, "hello", hello)

	// prefixes and suffixes of each other, with and without terminating NUL
	abcd, _ := runtime.EmbedString("abcd")
	runtime.Syscall(runtime.SYS_WRITE, 1, abcd, 4)
	runtime.Printf("|%s|%s|%s|%s|%s|%s|\n", "abc", "bc", "c", "", "abcd", "ab")

	// hex digits through a table of embedded bytes
	var out [24]byte
	digits := "0123456789abcdef"
	v := uint64(0xc0ffee123)
	i := 16
	for i > 0 {
		i--
		out[i] = runtime.Load8(uintptr(digits)+uintptr(v&15), 0)
		v >>= 4
	}
	out[16] = '\n'
	runtime.Syscall(runtime.SYS_WRITE, 1, &out, 17)
	return int64(runtime.Load8(e, 11))
}
