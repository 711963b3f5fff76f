// SPDX-License-Identifier: Apache-2.0
package main

import "crumble/rtg/runtime"

func main() {}
