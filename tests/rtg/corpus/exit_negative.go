// SPDX-License-Identifier: Apache-2.0
// exit_negative: a negative result of main exits with its low 8 bits (-7 -> 249)
package main

import "crumble/rtg/runtime"

func main() int64 {
	var x int64 = 7
	return 0 - x
}
