// SPDX-License-Identifier: Apache-2.0
// sorting: bubble sort (signed) of one array, insertion sort (unsigned) of a copy, both in stack buffers
package main

import "crumble/rtg/runtime"

const (
	lcgMul = 6364136223846793005
	lcgAdd = 1442695040888963407
)

// at is the address of element i of an array of 64-bit values at base.
func at(base uintptr, i int64) uintptr {
	return base + uintptr(i)*8
}

func main() int64 {
	var arr [160]byte
	var cp [160]byte
	a := &arr
	b := &cp
	x := int64(42)
	var i int64
	for i < 20 {
		x = x*lcgMul + lcgAdd
		runtime.Store64(at(a, i), 0, x>>40)
		runtime.Store64(at(b, i), 0, x>>40)
		i++
	}

	swapped := true
	for swapped {
		swapped = false
		i = 1
		for i < 20 {
			if int64(runtime.Load64(at(a, i-1), 0)) > int64(runtime.Load64(at(a, i), 0)) {
				t := runtime.Load64(at(a, i), 0)
				runtime.Store64(at(a, i), 0, runtime.Load64(at(a, i-1), 0))
				runtime.Store64(at(a, i), -8, t)
				swapped = true
			}
			i++
		}
	}

	i = 1
	for i < 20 {
		key := runtime.Load64(at(b, i), 0)
		j := i - 1
		for j >= 0 && runtime.Load64(at(b, j), 0) > key {
			runtime.Store64(at(b, j), 8, runtime.Load64(at(b, j), 0))
			j--
		}
		runtime.Store64(at(b, j), 8, key)
		i++
	}

	i = 0
	for i < 20 {
		runtime.Printf("%d ", int64(runtime.Load64(at(a, i), 0)))
		i++
	}
	runtime.Printf("\n")
	i = 0
	for i < 20 {
		runtime.Printf("%x ", runtime.Load64(at(b, i), 0))
		i++
	}
	runtime.Printf("\n")
	return int64(runtime.Load64(a, 0)) & 0xff
}
