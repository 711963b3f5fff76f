// SPDX-License-Identifier: Apache-2.0
// printf_long: output longer than the formatter's 256-byte buffer, lengths at its boundary, 40 and 30 arguments
package main

import "crumble/rtg/runtime"

// The C++ corpus's make_text(): 'a' + (i*7+seed)%26, the last byte a newline (not for text1000).
const (
	text255  = "bipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxe\n"
	text256  = "cjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfm\n"
	text257  = "dkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnu\n"
	text300  = "elszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdk\n"
	text1000 = "fmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxelszgnubipwdkryfmtahovcjqxe"
)

const (
	minInt64 = -1 << 63
	n0       = -1234567890123456789
	x0       = uint64(0xfedcba9876543210)
)

func main() int64 {
	runtime.Printf(text255)
	runtime.Printf(text256)
	runtime.Printf(text257)
	runtime.Printf(text300)
	long, _ := runtime.EmbedCString(text1000)
	runtime.Printf("%s|%s\n", long, "end")
	t255, _ := runtime.EmbedCString(text255)
	runtime.Printf("%s%c\n", t255, 'X')
	runtime.Printf("%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,\n",
		n0, minInt64, n0+2, minInt64, n0+4, minInt64, n0+6, minInt64, n0+8, minInt64,
		n0+10, minInt64, n0+12, minInt64, n0+14, minInt64, n0+16, minInt64, n0+18, minInt64,
		n0+20, minInt64, n0+22, minInt64, n0+24, minInt64, n0+26, minInt64, n0+28, minInt64,
		n0+30, minInt64, n0+32, minInt64, n0+34, minInt64, n0+36, minInt64, n0+38, minInt64)
	runtime.Printf("<%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x><%x>\n",
		x0, x0+1, x0+2, x0+3, x0+4, x0+5, x0+6, x0+7, x0+8, x0+9,
		x0+10, x0+11, x0+12, x0+13, x0+14, x0+15, x0+16, x0+17, x0+18, x0+19,
		x0+20, x0+21, x0+22, x0+23, x0+24, x0+25, x0+26, x0+27, x0+28, x0+29)
	return 1
}
