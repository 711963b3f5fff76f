// SPDX-License-Identifier: Apache-2.0
package main
import "crumble/rtg/runtime"
const base = runtime.Config("key")
func main() int64 {
	if runtime.Ifdef("GPU") && runtime.Config("name") == "text" {
		return base + 1
	}
	runtime.Printf(runtime.Config("name"))
	if runtime.Ifdef("NOPE") {
		return runtime.Config("missing")
	}
	return 0
}
