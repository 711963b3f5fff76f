// SPDX-License-Identifier: Apache-2.0
// fall_off_end: falling off the end of main exits 0, falling off a function without a result returns
package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("no return\n")
	runtime.Printf("f=%d\n", f()+5)
}

func f() int64 {
	say("f")
	return 0
}

func say(s string) {
	runtime.Printf("in %s\n", s)
}
