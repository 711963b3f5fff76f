// SPDX-License-Identifier: Apache-2.0
package main
import "crumble/rtg/runtime"
func main() int64 { return ((((((1+2)*3)-4)/5)%6)<<7)>>8 }
