// SPDX-License-Identifier: Apache-2.0
package main

import "crumble/rtg/runtime"

type T struct{ a int }

var g int

func (t T) m() {}

func main() {
	x := 1.5
	switch x {
	case 1:
		fallthrough
	default:
	}
	defer f()
	go f()
	ch := make(chan int)
	ch <- 1
	for i := 0; i < 3; i++ {
	}
	for _, v := range []int{1, 2} {
	}
	m := map[string]int{}
	f := func(a ...int) {}
	var p *int
	select {}
	panic("x")
}
