// SPDX-License-Identifier: Apache-2.0
// nested_if_loops: ifs nested five deep inside two nested loops, with break and continue taken at
// several depths of both loops, printing a trace
package main

import "crumble/rtg/runtime"

func main() int64 {
	var i int64
	var sum int64
	var steps int64
	for i < 30 {
		i++
		if i%2 == 1 {
			if i%3 == 0 {
				runtime.Printf("i=%d skip\n", i)
				continue
			}
			if i > 2 {
				if i%5 == 0 {
					if sum > 100 {
						if steps > 100 {
							runtime.Printf("i=%d stop sum=%d steps=%d\n", i, sum, steps)
							break
						}
						runtime.Printf("i=%d go on\n", i)
					}
				}
			}
		}
		var j int64
		for j < i {
			j++
			steps++
			if j > 1 {
				if j%2 == 0 {
					if i%4 == 0 {
						if j > 4 {
							if j == i-2 {
								runtime.Printf("  i=%d j=%d break at depth 5\n", i, j)
								break
							}
							runtime.Printf("  i=%d j=%d continue at depth 4\n", i, j)
							continue
						}
					} else if j == 6 {
						runtime.Printf("  i=%d j=%d break at depth 3\n", i, j)
						break
					}
					sum += j
				} else {
					if j%3 == 0 {
						if i%3 == 2 {
							continue
						}
						sum += 100
						if sum > 400 {
							if i < 25 {
								runtime.Printf("  i=%d j=%d sum=%d break at depth 5\n", i, j, sum)
								sum -= 300
								break
							}
						}
					}
					sum++
				}
			} else if i > 10 {
				continue
			}
			sum += 2
		}
		runtime.Printf("i=%d j=%d sum=%d steps=%d\n", i, j, sum, steps)
	}
	runtime.Printf("end i=%d sum=%d steps=%d\n", i, sum, steps)
	return sum
}
