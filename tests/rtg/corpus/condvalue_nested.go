// SPDX-License-Identifier: Apache-2.0
// condvalue_nested: comparison results used as values inside comparisons, nested seven deep, each level holding temporaries
package main

import "crumble/rtg/runtime"

// b2i is a comparison's result as a value: 1 or 0.
func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}

func main() int64 {
	var out [8]byte
	ptr := &out
	var vals [64]byte
	runtime.Store64(&vals, 0, 7)
	runtime.Store64(&vals, 8, 1)
	runtime.Store64(&vals, 16, 0)
	runtime.Store64(&vals, 24, 0)
	runtime.Store64(&vals, 32, 1)
	runtime.Store64(&vals, 40, 5)
	runtime.Store64(&vals, 48, 0)
	// level k compares vals[k] with level k-1; level 0 compares vals[0] with 7
	runtime.Printf("%d %d %d\n",
		b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7)),
		b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7))),
		b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7)))))
	runtime.Printf("%d %d %d\n",
		b2i(int64(runtime.Load64(&vals, 32)) == b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7))))),
		b2i(int64(runtime.Load64(&vals, 40)) == b2i(int64(runtime.Load64(&vals, 32)) == b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7)))))),
		b2i(int64(runtime.Load64(&vals, 48)) == b2i(int64(runtime.Load64(&vals, 40)) == b2i(int64(runtime.Load64(&vals, 32)) == b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7))))))))
	if int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 40)) == b2i(int64(runtime.Load64(&vals, 32)) == b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7)))))) {
		runtime.Printf("if yes\n")
	} else {
		runtime.Printf("if no\n")
	}
	runtime.Store64(ptr+uintptr(runtime.Load64(&vals, 16)), 0, b2i(int64(runtime.Load64(&vals, 48)) == b2i(int64(runtime.Load64(&vals, 40)) == b2i(int64(runtime.Load64(&vals, 32)) == b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7)))))))+40)
	x := (int64(runtime.Load64(&vals, 0))+0)*100 + b2i(int64(runtime.Load64(&vals, 32)) == b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7)))))*10 + b2i(int64(runtime.Load64(&vals, 24)) == b2i(int64(runtime.Load64(&vals, 16)) == b2i(int64(runtime.Load64(&vals, 8)) == b2i(int64(runtime.Load64(&vals, 0)) == 7))))
	runtime.Printf("%d %d\n", runtime.Load64(&out, 0), x)
	return x
}
