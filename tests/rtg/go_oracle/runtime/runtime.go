// SPDX-License-Identifier: Apache-2.0

// Package runtime is the RTG runtime for the real Go toolchain: the oracle that RTG programs
// are compared against (tests/rtg/go_oracle.hpp) builds them with Go 1.19 and this package at
// their import path, crumble/rtg/runtime. Each function does what docs/rtg.md says the
// translated one does, so that a program's output and exit status under Go are what
// crumble-rtg's must be. Only what the compared programs use is here: Printf, the exit and
// write syscalls, Embed*, Load* and Store*.
package runtime

import (
	"os"
	"reflect"
	"strconv"
	"unsafe"
)

// SyscallName is the type of the SYS_ constants.
type SyscallName int

// The syscalls the compared programs make.
const (
	SYS_WRITE      SyscallName = 1
	SYS_EXIT       SyscallName = 60
	SYS_EXIT_GROUP SyscallName = 231
)

// GOARCH is what RTG's is on the host the oracle runs on.
const GOARCH = "amd64"

// word is an RTG argument as the 64-bit register the translated program holds it in: integers
// sign- or zero-extended by their type, bools 1 or 0.
func word(v any) uint64 {
	switch x := v.(type) {
	case int:
		return uint64(x)
	case int8:
		return uint64(x)
	case int16:
		return uint64(x)
	case int32:
		return uint64(x)
	case int64:
		return uint64(x)
	case uint:
		return uint64(x)
	case uint8:
		return uint64(x)
	case uint16:
		return uint64(x)
	case uint32:
		return uint64(x)
	case uint64:
		return x
	case uintptr:
		return uint64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		return uint64(address(x))
	}
	panic("runtime: not an RTG value")
}

// Printf formats as RTG's does: %d the 64-bit word signed, %u unsigned, %x unsigned in
// lower-case hex, %c its low byte, %s a string, %% a percent sign; written to fd 1 at once.
func Printf(format string, args ...any) {
	var out []byte
	k := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			out = append(out, format[i])
			continue
		}
		i++
		if format[i] == '%' {
			out = append(out, '%')
			continue
		}
		a := args[k]
		k++
		switch format[i] {
		case 'd':
			out = strconv.AppendInt(out, int64(word(a)), 10)
		case 'u':
			out = strconv.AppendUint(out, word(a), 10)
		case 'x':
			out = strconv.AppendUint(out, word(a), 16)
		case 'c':
			out = append(out, byte(word(a)))
		case 's':
			out = append(out, a.(string)...)
		}
	}
	os.Stdout.Write(out)
}

// Syscall makes the exit and write syscalls; the exit status is the low byte, as Linux's.
func Syscall(nr SyscallName, args ...any) int64 {
	switch nr {
	case SYS_EXIT, SYS_EXIT_GROUP:
		os.Exit(int(word(args[0]) & 255))
	case SYS_WRITE:
		b := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(word(args[1])))), int(word(args[2])))
		n, err := os.NewFile(uintptr(word(args[0])), "fd").Write(b)
		if err != nil {
			return -5 // EIO
		}
		return int64(n)
	}
	panic("runtime: syscall not in the oracle's runtime")
}

// kept holds every embedded string, so that the addresses handed out stay valid.
var kept []string

func address(s string) uintptr {
	s += "\x00"
	kept = append(kept, s)
	return (*reflect.StringHeader)(unsafe.Pointer(&kept[len(kept)-1])).Data
}

// EmbedString gives the address and length of the bytes of s.
func EmbedString(s string) (uintptr, int64) { return address(s), int64(len(s)) }

// EmbedCString is EmbedString; the bytes are NUL-terminated either way here.
func EmbedCString(s string) (uintptr, int64) { return address(s), int64(len(s)) }

// EmbedBytes gives the address and length of the bytes.
func EmbedBytes(b ...byte) (uintptr, int64) { return address(string(b)), int64(len(b)) }

// Integer is any RTG integer type.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

func at[P, O Integer](ptr P, off O) unsafe.Pointer {
	return unsafe.Pointer(uintptr(ptr) + uintptr(off))
}

// Load8 to Load64 read memory at ptr+off, zero-extended.
func Load8[P, O Integer](ptr P, off O) uint8   { return *(*uint8)(at(ptr, off)) }
func Load16[P, O Integer](ptr P, off O) uint16 { return *(*uint16)(at(ptr, off)) }
func Load32[P, O Integer](ptr P, off O) uint32 { return *(*uint32)(at(ptr, off)) }
func Load64[P, O Integer](ptr P, off O) uint64 { return *(*uint64)(at(ptr, off)) }

// Store8 to Store64 write the low bits of v at ptr+off.
func Store8[P, O, V Integer](ptr P, off O, v V)  { *(*uint8)(at(ptr, off)) = uint8(v) }
func Store16[P, O, V Integer](ptr P, off O, v V) { *(*uint16)(at(ptr, off)) = uint16(v) }
func Store32[P, O, V Integer](ptr P, off O, v V) { *(*uint32)(at(ptr, off)) = uint32(v) }
func Store64[P, O, V Integer](ptr P, off O, v V) { *(*uint64)(at(ptr, off)) = uint64(v) }
