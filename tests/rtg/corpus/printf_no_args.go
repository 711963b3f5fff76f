// SPDX-License-Identifier: Apache-2.0
// printf_no_args: Printf without arguments (also an empty format, and %%), an indirect call
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("hello\n")
	runtime.Call(f)
	runtime.Printf("100%% done\n")
	return 3
}

func f() {
	runtime.Printf("")
	runtime.Printf("from f\n")
}
