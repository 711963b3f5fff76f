// SPDX-License-Identifier: Apache-2.0
package main

import "crumble/rtg/runtime"

func main() int64 {
	var i, j int64
	_ = j
retry:
	for {
		i++
		if i > 10 {
			break
		}
		for i < 5 {
			i <<= 1
			continue
		}
	}
	if i < 100 {
		i *= 3
		goto retry
	}
	return i
}
