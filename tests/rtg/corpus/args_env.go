// SPDX-License-Identifier: Apache-2.0
// args_env: main(argc, argv, envp) with the runner's fixed arguments and environment
package main

import "crumble/rtg/runtime"

func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}

func main(argc int64, argv uintptr, envp uintptr) int64 {
	runtime.Printf("argc=%d\n", argc)
	runtime.Printf("argv1=%s argv2=%s end=%d\n", runtime.Load64(argv, 8), runtime.Load64(argv, 16),
		b2i(runtime.Load64(argv, 24) == 0))
	p := uintptr(runtime.Load64(argv, 16))
	var n int64
	for runtime.Load8(p, 0) != 0 {
		n++
		p++
	}
	runtime.Printf("len=%d env=%s end=%d\n", n, runtime.Load64(envp, 0), b2i(runtime.Load64(envp, 8) == 0))
	runtime.Printf("envp follows argv %d\n", b2i(envp == argv+uintptr(argc+1)*8))
	return argc
}
