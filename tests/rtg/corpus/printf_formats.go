// SPDX-License-Identifier: Apache-2.0
// printf_formats: every Printf conversion (%d %u %x %s %c %%) on edge values, empty formats and UTF-8 text
package main

import "crumble/rtg/runtime"

const (
	minInt64  = -1 << 63
	maxInt64  = 1<<63 - 1
	maxUint64 = uint64(1<<64 - 1)
)

func main() {
	runtime.Printf("%d|%d|%d|%d|%d\n", 0, 1, -1, minInt64, maxInt64)
	runtime.Printf("%u|%u|%u|%u\n", 0, 1, -1, minInt64)
	runtime.Printf("%x|%x|%x|%x|%x|%x\n", 0, 255, -1, minInt64, 0x0123456789abcdef, 16)
	runtime.Printf("%s|%s|%s|\n", "", "abc", "with space")
	runtime.Printf("%c%c%c|%c|%c\n", 'a', 'B', 0x141, '0', -190)
	runtime.Printf("100%% %%d %d%%\n", 50)
	runtime.Printf("no newline")
	runtime.Printf("")
	runtime.Printf("\n")
	runtime.Printf("%d%u%x%s%c%%\n", -12, 12, 0xabc, "s", 'c')
	nul, _ := runtime.EmbedCString("abc\x00def")
	runtime.Printf("%s\n", nul)
	runtime.Printf("[%d] [%d] [%d]\n", 1000000, -1000000, 9)
	runtime.Printf("%u %x %d\n", maxUint64, maxUint64, maxUint64)
	runtime.Printf("%%%%%c%%\n", '!')
	runtime.Printf("[%c] café %s\n", 0, "€")
}
