// SPDX-License-Identifier: Apache-2.0
// exit_const: main returns a constant, which becomes the exit status
package main

import "crumble/rtg/runtime"

func main() int64 {
	return 42
}
