// SPDX-License-Identifier: Apache-2.0
// gcd_lcm: Euclid by tail recursion with signed remainder, and lcm calling it mid-expression
package main

import "crumble/rtg/runtime"

func gcd(a int64, b int64) int64 {
	if b == 0 {
		return a
	}
	return gcd(b, a%b)
}

func lcm(a int64, b int64) int64 {
	return a / gcd(a, b) * b
}

func main() int64 {
	runtime.Printf("%d %d %d %d %d\n", gcd(1071, 462), gcd(0, 5), gcd(17, 5), gcd(-48, 18), gcd(1<<40, 3<<20))
	runtime.Printf("%d %d\n", lcm(21, 6), lcm(1000000007, 998244353))
	return gcd(1071, 462)
}
