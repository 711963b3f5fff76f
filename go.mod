// The Go module is only for editors: it lets RTG files (docs/rtg.md) resolve
// import "crumble/rtg/runtime" to the stub package in rtg/runtime. Nothing here is built with Go.
module crumble

go 1.19
