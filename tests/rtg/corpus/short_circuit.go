// SPDX-License-Identifier: Apache-2.0
// short_circuit: && and || evaluate their right operand only when needed; bump appends its tag to a log
// kept in main's buffer, so the log shows which calls ran, in order
package main

import "crumble/rtg/runtime"

func main() int64 {
	var buf [8]byte
	log := &buf
	var r int64
	runtime.Store64(log, 0, int64(0))
	if bump(log, 0, 1) != 0 && bump(log, 1, 2) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(bump(log, 0, 1) != 0 && bump(log, 1, 2) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if bump(log, 1, 1) != 0 && bump(log, 1, 2) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(bump(log, 1, 1) != 0 && bump(log, 1, 2) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if bump(log, 1, 1) != 0 || bump(log, 0, 2) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(bump(log, 1, 1) != 0 || bump(log, 0, 2) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if bump(log, 0, 1) != 0 || bump(log, 1, 2) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(bump(log, 0, 1) != 0 || bump(log, 1, 2) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if !(bump(log, 0, 1) != 0 && bump(log, 1, 2) != 0) {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(!(bump(log, 0, 1) != 0 && bump(log, 1, 2) != 0)) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if !(bump(log, 1, 1) != 0 || bump(log, 1, 2) != 0) {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(!(bump(log, 1, 1) != 0 || bump(log, 1, 2) != 0)) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if (bump(log, 1, 1) != 0 || bump(log, 1, 2) != 0) && bump(log, 0, 3) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i((bump(log, 1, 1) != 0 || bump(log, 1, 2) != 0) && bump(log, 0, 3) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if (bump(log, 0, 1) != 0 && bump(log, 1, 2) != 0) || bump(log, 1, 3) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i((bump(log, 0, 1) != 0 && bump(log, 1, 2) != 0) || bump(log, 1, 3) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if (bump(log, 0, 1) != 0 || bump(log, 0, 2) != 0) || (bump(log, 1, 3) != 0 && bump(log, 0, 4) != 0) {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i((bump(log, 0, 1) != 0 || bump(log, 0, 2) != 0) || (bump(log, 1, 3) != 0 && bump(log, 0, 4) != 0)) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if bump(log, 1, 1) != 0 && (bump(log, 0, 2) != 0 || (bump(log, 1, 3) != 0 && bump(log, 1, 4) != 0)) {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(bump(log, 1, 1) != 0 && (bump(log, 0, 2) != 0 || (bump(log, 1, 3) != 0 && bump(log, 1, 4) != 0))) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	if !(!(bump(log, 0, 1) != 0) || bump(log, 1, 2) != 0) && bump(log, 1, 3) != 0 {
		r = 1
	} else {
		r = 0
	}
	runtime.Printf("%d:%d ", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = b2i(!(!(bump(log, 0, 1) != 0) || bump(log, 1, 2) != 0) && bump(log, 1, 3) != 0) + 10
	runtime.Printf("%d:%d\n", r, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	var i int64
	for i < 3 && bump(log, 1, 5) != 0 {
		i++
	}
	runtime.Printf("while %d:%d\n", i, runtime.Load64(log, 0))
	runtime.Store64(log, 0, int64(0))
	r = 100 + b2i(bump(log, 1, 6) != 0 || bump(log, 1, 7) != 0)*5
	runtime.Printf("expr %d:%d\n", r, runtime.Load64(log, 0))
	return int64(runtime.Load64(log, 0))
}

// bump appends tag to the log at address log and returns v.
func bump(log uintptr, v int64, tag int64) int64 {
	runtime.Store64(log, 0, int64(runtime.Load64(log, 0))*10+tag)
	return v
}

// b2i gives a condition as a value: 1 or 0.
func b2i(c bool) int64 {
	if c {
		return 1
	}
	return 0
}
