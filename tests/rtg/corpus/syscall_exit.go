// SPDX-License-Identifier: Apache-2.0
// syscall_exit: exit(2) ends the program at once, with its status; nothing after it runs
package main

import "crumble/rtg/runtime"

func main() int64 {
	runtime.Printf("before\n")
	runtime.Syscall(runtime.SYS_EXIT, 17)
	runtime.Printf("after %d\n", 1)
	return 1
}
