// SPDX-License-Identifier: Apache-2.0
// syscall_exit_nested: exit_group(2) from a nested call, with live frames below it
package main

import "crumble/rtg/runtime"

func down(n int64) int64 {
	runtime.Printf("depth %d\n", n)
	if n == 5 {
		runtime.Syscall(runtime.SYS_EXIT_GROUP, 99+n*0)
	}
	return down(n+1) + 1
}

func main() int64 {
	runtime.Printf("result %d\n", down(1)+1)
	return 2
}
