// SPDX-License-Identifier: Apache-2.0
// matrix_mul: 4x4 integer matrix product in stack buffers, signed values
package main

import "crumble/rtg/runtime"

// at is the address of element (r, c) of a 4x4 matrix of 64-bit values at m.
func at(m uintptr, r int64, c int64) uintptr {
	return m + uintptr((r*4+c)*8)
}

func main() int64 {
	var A [128]byte
	var B [128]byte
	var C [128]byte
	var i int64
	for i < 4 {
		j := int64(0)
		for j < 4 {
			runtime.Store64(at(&A, i, j), 0, i*4+j-5)
			runtime.Store64(at(&B, i, j), 0, (i+1)*(j+2)%7-3)
			j++
		}
		i++
	}
	i = 0
	for i < 4 {
		j := int64(0)
		for j < 4 {
			var acc int64
			k := int64(0)
			for k < 4 {
				acc += int64(runtime.Load64(at(&A, i, k), 0)) * int64(runtime.Load64(at(&B, k, j), 0))
				k++
			}
			runtime.Store64(at(&C, i, j), 0, acc)
			j++
		}
		runtime.Printf("%d %d %d %d\n", int64(runtime.Load64(at(&C, i, 0), 0)), int64(runtime.Load64(at(&C, i, 1), 0)),
			int64(runtime.Load64(at(&C, i, 2), 0)), int64(runtime.Load64(at(&C, i, 3), 0)))
		i++
	}
	return int64(runtime.Load64(at(&C, 3, 3), 0))
}
