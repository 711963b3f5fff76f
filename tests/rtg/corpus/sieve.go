// SPDX-License-Identifier: Apache-2.0
// sieve: the sieve of Eratosthenes below 1000 in a stack buffer
package main

import "crumble/rtg/runtime"

func main() int64 {
	var s [1000]byte
	var i int64
	for i < 1000 {
		s[i] = 0
		i++
	}
	i = 2
	for i*i < 1000 {
		if s[i] == 0 {
			j := i * i
			for j < 1000 {
				s[j] = 1
				j += i
			}
		}
		i++
	}
	var count, sum int64
	i = 2
	for i < 1000 {
		if s[i] == 0 {
			count++
			sum += i
			if i > 960 {
				runtime.Printf("%d ", i)
			}
		}
		i++
	}
	runtime.Printf("\n%d %d\n", count, sum)
	return count
}
