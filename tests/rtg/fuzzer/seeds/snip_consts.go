// SPDX-License-Identifier: Apache-2.0
package main

import "crumble/rtg/runtime"

const (
	a = iota
	b
	c int8 = 1 << iota
	d      = int64(len("xyz")) + 'a' - 0x10 + 0b11 + 0o7 + 0755 + 1_000
)

const big uint64 = 0xffffffffffffffff
const s = "tab\there\x41\101\u00e9\U0001f600"
const r = `raw
string`

func main() int64 {
	var x int8 = c
	x += 127
	return int64(x) + d + int64(big>>63) + int64(len(s)+len(r))
}
