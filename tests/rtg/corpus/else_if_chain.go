// SPDX-License-Identifier: Apache-2.0
// else_if_chain: an else-if ladder of 20 cases (a switch), each returning a letter
package main

import "crumble/rtg/runtime"

func main() int64 {
	var q int64
	var n int64 = -12
	for n <= 400 {
		c := sw(n)
		if c != '?' {
			runtime.Printf("%d=%c ", n, c)
		} else {
			q++
		}
		n++
	}
	runtime.Printf("\nmisses %d\n", q)
	return sw(-1)
}

func sw(n int64) int64 {
	if n == -10 {
		return 'A'
	} else if n == -9 {
		return 'B'
	} else if n == -6 {
		return 'C'
	} else if n == -1 {
		return 'D'
	} else if n == 6 {
		return 'E'
	} else if n == 15 {
		return 'F'
	} else if n == 26 {
		return 'G'
	} else if n == 39 {
		return 'H'
	} else if n == 54 {
		return 'I'
	} else if n == 71 {
		return 'J'
	} else if n == 90 {
		return 'K'
	} else if n == 111 {
		return 'L'
	} else if n == 134 {
		return 'M'
	} else if n == 159 {
		return 'N'
	} else if n == 186 {
		return 'O'
	} else if n == 215 {
		return 'P'
	} else if n == 246 {
		return 'Q'
	} else if n == 279 {
		return 'R'
	} else if n == 314 {
		return 'S'
	} else if n == 351 {
		return 'T'
	} else {
		return '?'
	}
}
