package main

import "crumble/rtg/runtime"

func main() {}
