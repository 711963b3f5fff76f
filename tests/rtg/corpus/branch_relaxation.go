// SPDX-License-Identifier: Apache-2.0
// branch_relaxation: an if, a loop and a backward goto around bodies too long for short branches
package main

import "crumble/rtg/runtime"

func main() int64 {
	var x int64
	var i int64
	var s int64
	x = 1
	if x == 1 {
		x = x*3 + 0
		x = x*3 + 1
		x = x*3 + 2
		x = x*3 + 3
		x = x*3 + 4
		x = x*3 + 5
		x = x*3 + 6
		x = x*3 + 7
		x = x*3 + 8
		x = x*3 + 9
		x = x*3 + 10
		x = x*3 + 11
		x = x*3 + 12
		x = x*3 + 13
		x = x*3 + 14
		x = x*3 + 15
		x = x*3 + 16
		x = x*3 + 17
		x = x*3 + 18
		x = x*3 + 19
		x = x*3 + 20
		x = x*3 + 21
		x = x*3 + 22
		x = x*3 + 23
		x = x*3 + 24
		x = x*3 + 25
		x = x*3 + 26
		x = x*3 + 27
		x = x*3 + 28
		x = x*3 + 29
		x = x*3 + 30
		x = x*3 + 31
		x = x*3 + 32
		x = x*3 + 33
		x = x*3 + 34
		x = x*3 + 35
		x = x*3 + 36
		x = x*3 + 37
		x = x*3 + 38
		x = x*3 + 39
		x = x*3 + 40
		x = x*3 + 41
		x = x*3 + 42
		x = x*3 + 43
		x = x*3 + 44
		x = x*3 + 45
		x = x*3 + 46
		x = x*3 + 47
		x = x*3 + 48
		x = x*3 + 49
		x = x*3 + 50
		x = x*3 + 51
		x = x*3 + 52
		x = x*3 + 53
		x = x*3 + 54
		x = x*3 + 55
		x = x*3 + 56
		x = x*3 + 57
		x = x*3 + 58
		x = x*3 + 59
	} else {
		x = 0
	}
	runtime.Printf("%x\n", x)
	for i < 5 {
		x = x*3 + 0
		x = x*3 + 1
		x = x*3 + 2
		x = x*3 + 3
		x = x*3 + 4
		x = x*3 + 5
		x = x*3 + 6
		x = x*3 + 7
		x = x*3 + 8
		x = x*3 + 9
		x = x*3 + 10
		x = x*3 + 11
		x = x*3 + 12
		x = x*3 + 13
		x = x*3 + 14
		x = x*3 + 15
		x = x*3 + 16
		x = x*3 + 17
		x = x*3 + 18
		x = x*3 + 19
		x = x*3 + 20
		x = x*3 + 21
		x = x*3 + 22
		x = x*3 + 23
		x = x*3 + 24
		x = x*3 + 25
		x = x*3 + 26
		x = x*3 + 27
		x = x*3 + 28
		x = x*3 + 29
		x = x*3 + 30
		x = x*3 + 31
		x = x*3 + 32
		x = x*3 + 33
		x = x*3 + 34
		x = x*3 + 35
		x = x*3 + 36
		x = x*3 + 37
		x = x*3 + 38
		x = x*3 + 39
		x = x*3 + 40
		x = x*3 + 41
		x = x*3 + 42
		x = x*3 + 43
		x = x*3 + 44
		x = x*3 + 45
		x = x*3 + 46
		x = x*3 + 47
		x = x*3 + 48
		x = x*3 + 49
		x = x*3 + 50
		x = x*3 + 51
		x = x*3 + 52
		x = x*3 + 53
		x = x*3 + 54
		x = x*3 + 55
		x = x*3 + 56
		x = x*3 + 57
		x = x*3 + 58
		x = x*3 + 59
		s ^= x
		i++
	}
	runtime.Printf("%x %x\n", x, s)
top:
	i++
	x = x*3 + 0
	x = x*3 + 1
	x = x*3 + 2
	x = x*3 + 3
	x = x*3 + 4
	x = x*3 + 5
	x = x*3 + 6
	x = x*3 + 7
	x = x*3 + 8
	x = x*3 + 9
	x = x*3 + 10
	x = x*3 + 11
	x = x*3 + 12
	x = x*3 + 13
	x = x*3 + 14
	x = x*3 + 15
	x = x*3 + 16
	x = x*3 + 17
	x = x*3 + 18
	x = x*3 + 19
	x = x*3 + 20
	x = x*3 + 21
	x = x*3 + 22
	x = x*3 + 23
	x = x*3 + 24
	x = x*3 + 25
	x = x*3 + 26
	x = x*3 + 27
	x = x*3 + 28
	x = x*3 + 29
	x = x*3 + 30
	x = x*3 + 31
	x = x*3 + 32
	x = x*3 + 33
	x = x*3 + 34
	x = x*3 + 35
	x = x*3 + 36
	x = x*3 + 37
	x = x*3 + 38
	x = x*3 + 39
	x = x*3 + 40
	x = x*3 + 41
	x = x*3 + 42
	x = x*3 + 43
	x = x*3 + 44
	x = x*3 + 45
	x = x*3 + 46
	x = x*3 + 47
	x = x*3 + 48
	x = x*3 + 49
	x = x*3 + 50
	x = x*3 + 51
	x = x*3 + 52
	x = x*3 + 53
	x = x*3 + 54
	x = x*3 + 55
	x = x*3 + 56
	x = x*3 + 57
	x = x*3 + 58
	x = x*3 + 59
	if i < 10 {
		goto top
	}
	if x != 12345 {
		goto out
	}
	x = x*3 + 0
	x = x*3 + 1
	x = x*3 + 2
	x = x*3 + 3
	x = x*3 + 4
	x = x*3 + 5
	x = x*3 + 6
	x = x*3 + 7
	x = x*3 + 8
	x = x*3 + 9
	x = x*3 + 10
	x = x*3 + 11
	x = x*3 + 12
	x = x*3 + 13
	x = x*3 + 14
	x = x*3 + 15
	x = x*3 + 16
	x = x*3 + 17
	x = x*3 + 18
	x = x*3 + 19
	x = x*3 + 20
	x = x*3 + 21
	x = x*3 + 22
	x = x*3 + 23
	x = x*3 + 24
	x = x*3 + 25
	x = x*3 + 26
	x = x*3 + 27
	x = x*3 + 28
	x = x*3 + 29
	x = x*3 + 30
	x = x*3 + 31
	x = x*3 + 32
	x = x*3 + 33
	x = x*3 + 34
	x = x*3 + 35
	x = x*3 + 36
	x = x*3 + 37
	x = x*3 + 38
	x = x*3 + 39
	x = x*3 + 40
	x = x*3 + 41
	x = x*3 + 42
	x = x*3 + 43
	x = x*3 + 44
	x = x*3 + 45
	x = x*3 + 46
	x = x*3 + 47
	x = x*3 + 48
	x = x*3 + 49
	x = x*3 + 50
	x = x*3 + 51
	x = x*3 + 52
	x = x*3 + 53
	x = x*3 + 54
	x = x*3 + 55
	x = x*3 + 56
	x = x*3 + 57
	x = x*3 + 58
	x = x*3 + 59
out:
	runtime.Printf("%x %d\n", x, i)
	return x
}
