// SPDX-License-Identifier: Apache-2.0
package main
/* block
comment */ import "crumble/rtg/runtime"
func main() { p, n := runtime.EmbedBytes(0x7f, 'E', 'L', 'F', '\n', '\x00', 255); runtime.Syscall(runtime.SYS_WRITE, 1, p, n) }
