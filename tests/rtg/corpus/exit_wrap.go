// SPDX-License-Identifier: Apache-2.0
// exit_wrap: only the low 8 bits of main's result reach the parent
package main

import "crumble/rtg/runtime"

func main() int64 {
	var x int64 = 1000
	return x + 0x12000
}
