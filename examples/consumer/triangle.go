// SPDX-License-Identifier: Apache-2.0
// triangle: a payload written in RTG, translated by the consumer's build (crumble_add_rtg) and
// called inside the microVM. It returns the sum 1 + 2 + ... + 100 and the guest's pid (init: 1)
// folded into one number, so the caller sees that it ran in the guest.
package main

import "crumble/rtg/runtime"

func main() int64 {
	var sum int64
	var i int64 = 1
	for i <= 100 {
		sum += i
		i++
	}
	pid := runtime.Syscall(runtime.SYS_GETPID)
	return sum*1000 + pid
}
