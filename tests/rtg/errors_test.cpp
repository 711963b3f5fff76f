// SPDX-License-Identifier: Apache-2.0
// tests/rtg/errors_test.cpp — RTG's rejections, one table row per mistake.
//
// Each row is a small complete program with one mistake (a lexer error, a Go construct RTG leaves
// out, or a translation error) and what rtg::translate must report: the line and column (1-based,
// bytes), a substring of the message and, for constructs RTG leaves out, a substring of the hint
// that says what to write instead. Every report is also checked as a whole: what() is
//
//   case.go:LINE:COL: message
//   	<the source line>
//   	<blanks up to the column, the line's tabs kept>^
//   	<hint>
//
// A second table holds valid edge programs that must be accepted, and a last test checks that
// runtime.Config gives an integer constant or a string constant by the option's text.
#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <crumble/crumble.hpp>
#include <crumble/rtg/translate.hpp>

#include "../runner.hpp"

namespace rtg = crumble::rtg;
namespace test = crumble::test;

namespace {

constexpr const char* file_name = "case.go";

struct Rejected {
  const char* name;
  int line, column;
  const char* message;  // a substring of Error::message()
  const char* hint;     // a substring of Error::hint(); "" where the row does not check one
  std::string source;
};

// The programs are indented with tabs, as gofmt writes them, so that the caret lines are
// checked to keep the source's tabs.
const std::vector<Rejected>& rejected() {
  static const std::vector<Rejected> rows = {
    // ---- lexer ----
    {"unterminated string", 6, 7, "string literal not terminated", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := "abc
	_ = x
}
)go"},
    {"unterminated raw string", 6, 7, "raw string literal not terminated", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := `abc
	_ = x
}
)go"},
    {"unterminated comment", 6, 2, "comment not terminated", "*/",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	/* never closed
}
)go"},
    {"unterminated char", 6, 7, "character literal not terminated", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 'a
	_ = x
}
)go"},
    {"char at end of line", 6, 7, "character literal not terminated", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := '
	_ = x
}
)go"},
    {"empty char", 6, 7, "empty character literal", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := ''
	_ = x
}
)go"},
    {"two-character char", 6, 7, "more than one character", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 'ab'
	_ = x
}
)go"},
    {"unknown escape", 6, 19, "unknown escape sequence \\q", "\\n",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("a\qb")
}
)go"},
    {"short hex escape", 6, 18, "invalid escape sequence", "\\x41",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("\xZ1")
}
)go"},
    {"octal escape above 255", 6, 18, "octal escape value above 255", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("\400")
}
)go"},
    {"surrogate escape", 6, 18, "not a valid Unicode code point", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("\ud800")
}
)go"},
    {"invalid octal digit", 6, 10, "invalid digit '8' in base 8 literal", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 0758
	_ = x
}
)go"},
    {"invalid binary digit", 6, 11, "invalid digit '2' in base 2 literal", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 0b1021
	_ = x
}
)go"},
    {"float literal", 6, 7, "floating-point", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1.5
	_ = x
}
)go"},
    {"float exponent", 6, 7, "floating-point", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1e9
	_ = x
}
)go"},
    {"leading-dot float", 6, 7, "floating-point", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := .5
	_ = x
}
)go"},
    {"integer too large", 6, 7, "integer constant too large", "64 bits",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 0x1_0000_0000_0000_0000
	_ = x
}
)go"},
    {"hex without digits", 6, 7, "number has no digits", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 0x
	_ = x
}
)go"},
    {"non-ASCII identifier", 6, 3, "non-ASCII character", "ASCII",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	h)go" "\xc3" "\xa9" R"go(llo := 1
	_ = h)go" "\xc3" "\xa9" R"go(llo
}
)go"},
    {"unexpected character", 6, 9, "unexpected character '@'", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1 @ 2
	_ = x
}
)go"},
    {"control character", 6, 8, "invalid control character", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1)go" "\x01" R"go(
	_ = x
}
)go"},
    {"caret keeps a tab inside the line", 6, 7, "floating-point", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x :=	1.5
	_ = x
}
)go"},
    // ---- parser: Go constructs RTG leaves out, and syntax ----
    {"method", 5, 6, "methods are not supported", "plain function",
     R"go(package main

import "crumble/rtg/runtime"

func (r int64) Get() int64 {
	return r
}

func main() {
}
)go"},
    {"generic function", 5, 8, "generic functions are not supported", "one function per type",
     R"go(package main

import "crumble/rtg/runtime"

func id[T any](x T) T {
	return x
}

func main() {
}
)go"},
    {"function literal", 6, 7, "function literals (closures) are not supported", "top-level function",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	f := func() {}
	_ = f
}
)go"},
    {"nested function statement", 6, 2, "nested functions and closures", "top level",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	func() {}()
}
)go"},
    {"map type", 6, 8, "maps are not supported", "[N]byte",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var m map[string]int64
	_ = m
}
)go"},
    {"slice type", 6, 8, "slices are not supported", "fixed-size buffer",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var s []byte
	_ = s
}
)go"},
    {"slice expression", 7, 10, "slices are not supported", "address and a length",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var buf [8]byte
	x := buf[1:3]
	_ = x
}
)go"},
    {"struct type", 6, 8, "structs are not supported", "separate variables",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var s struct{ a int64 }
	_ = s
}
)go"},
    {"pointer type", 5, 12, "pointer types are not supported", "runtime.Load64",
     R"go(package main

import "crumble/rtg/runtime"

func get(p *int64) int64 {
	return 0
}

func main() {
}
)go"},
    {"pointer dereference", 7, 7, "pointers are not supported", "runtime.Load64",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var p uintptr
	x := *p
	_ = x
}
)go"},
    {"interface type", 6, 8, "interfaces are not supported", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var x interface{}
	_ = x
}
)go"},
    {"channel type", 6, 9, "channels are not supported", "single-threaded",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var ch chan int64
	_ = ch
}
)go"},
    {"switch", 7, 2, "switch is not supported", "if / else if / else",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	switch x {
	case 1:
	}
}
)go"},
    {"select", 6, 2, "select is not supported", "single-threaded",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	select {}
}
)go"},
    {"go statement", 9, 2, "goroutines are not supported", "SYS_CLONE",
     R"go(package main

import "crumble/rtg/runtime"

func work() {
}

func main() {
	go work()
}
)go"},
    {"defer", 9, 2, "defer is not supported", "before each return",
     R"go(package main

import "crumble/rtg/runtime"

func done() {
}

func main() {
	defer done()
}
)go"},
    {"fallthrough", 6, 2, "fallthrough is not supported", "if / else if / else",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	fallthrough
}
)go"},
    {"range", 6, 11, "range is not supported", "for i < n",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	for i := range 10 {
		_ = i
	}
}
)go"},
    {"for with init and post", 6, 2, "init or post statements are not supported", "i := 0; for i < n",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	for i := 0; i < 10; i++ {
	}
}
)go"},
    {"labelled break", 8, 9, "labelled break is not supported", "goto",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
outer:
	for {
		break outer
	}
}
)go"},
    {"labelled continue", 8, 12, "labelled continue is not supported", "goto",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
outer:
	for {
		continue outer
	}
}
)go"},
    {"package-level var", 5, 1, "package-level variables are not supported", "inside a function",
     R"go(package main

import "crumble/rtg/runtime"

var counter int64

func main() {
}
)go"},
    {"type declaration", 5, 1, "type declarations are not supported", "[N]byte",
     R"go(package main

import "crumble/rtg/runtime"

type word uint64

func main() {
}
)go"},
    {"local type declaration", 6, 2, "type declarations are not supported", "[N]byte",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	type word uint64
}
)go"},
    {"wrong import", 3, 8, "cannot import \"fmt\"", "import \"crumble/rtg/runtime\"",
     R"go(package main

import "fmt"

func main() {
}
)go"},
    {"second import in group", 5, 2, "cannot import \"os\"", "import \"crumble/rtg/runtime\"",
     R"go(package main

import (
	"crumble/rtg/runtime"
	"os"
)

func main() {
}
)go"},
    {"named import", 3, 8, "named and dot imports are not supported", "import \"crumble/rtg/runtime\"",
     R"go(package main

import rt "crumble/rtg/runtime"

func main() {
}
)go"},
    {"runtime imported twice", 4, 8, "imported twice", "",
     R"go(package main

import "crumble/rtg/runtime"
import "crumble/rtg/runtime"

func main() {
}
)go"},
    {"import after declaration", 7, 1, "imports must come before other declarations", "",
     R"go(package main

import "crumble/rtg/runtime"

const a = 1

import "crumble/rtg/runtime"

func main() {
}
)go"},
    {"wrong package", 1, 9, "package must be main", "package main",
     R"go(package init

func main() {
}
)go"},
    {"missing package clause", 1, 1, "expected package", "package main",
     R"go(func main() {
}
)go"},
    {"multiple results", 5, 37, "at most one result", "buffer",
     R"go(package main

import "crumble/rtg/runtime"

func divmod(a int64, b int64) (int64, int64) {
	return a / b, a % b
}

func main() {
}
)go"},
    {"two named results", 5, 12, "functions return at most one result", "return one value, or store more through a buffer",
     R"go(package main

import "crumble/rtg/runtime"

func f() (r, s int64) {
	return 1, 2
}

func main() {
}
)go"},
    {"return two values", 6, 10, "at most one result", "",
     R"go(package main

import "crumble/rtg/runtime"

func f() int64 {
	return 1, 2
}

func main() {
}
)go"},
    {"variadic parameter", 5, 13, "variadic functions are not supported", "fixed number",
     R"go(package main

import "crumble/rtg/runtime"

func sum(xs ...int64) int64 {
	return 0
}

func main() {
}
)go"},
    {"variadic argument", 10, 5, "variadic arguments", "each argument",
     R"go(package main

import "crumble/rtg/runtime"

func f(a int64) {
}

func main() {
	var a int64
	f(a...)
}
)go"},
    {"composite literal", 6, 14, "composite literals are not supported", "EmbedBytes",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := [4]byte{1, 2, 3, 4}
	_ = x
}
)go"},
    {"function without body", 5, 9, "has no body", "",
     R"go(package main

import "crumble/rtg/runtime"

func f()

func main() {
}
)go"},
    {"if without condition", 7, 7, "if needs a condition", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	if x = 2 {
	}
}
)go"},
    {"missing constant value", 5, 7, "missing constant value", "",
     R"go(package main

import "crumble/rtg/runtime"

const a int64

func main() {
}
)go"},
    {"syntax error", 6, 13, "syntax error: unexpected newline, expected )", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := (1 + 2
	_ = x
}
)go"},
    {"unterminated block", 7, 1, "unexpected end of file, expected }", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.ISB()
)go"},
    // ---- translator: types, names, control flow, the runtime package ----
    {"undefined name", 6, 2, "undefined: count", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	count++
}
)go"},
    {"undefined function", 6, 2, "undefined: start", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	start()
}
)go"},
    {"undefined type", 6, 8, "undefined type word", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var x word
	_ = x
}
)go"},
    {"float type", 6, 8, "floating-point types are not supported", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var x float64
	_ = x
}
)go"},
    {"mismatched int and int64", 8, 9, "mismatched types int64 and int", "int64(y)",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var a int64 = 1
	b := 2
	c := a + b
	_ = c
}
)go"},
    {"mismatched int and bool", 8, 7, "mismatched types int and bool", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	a := 1
	b := true
	if a == b {
	}
}
)go"},
    {"argument type", 10, 4, "cannot use value of type int64 as uint8 in argument", "uint8(...)",
     R"go(package main

import "crumble/rtg/runtime"

func f(x uint8) {
}

func main() {
	var y int64
	f(y)
}
)go"},
    {"constant overflows uint8", 6, 16, "constant 256 overflows uint8", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var b uint8 = 256
	_ = b
}
)go"},
    {"negative unsigned constant", 6, 17, "constant -1 overflows uint32", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var u uint32 = -1
	_ = u
}
)go"},
    {"constant arithmetic overflow", 7, 8, "constant 200 overflows int8", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	const k int8 = 100
	_ = k + k
}
)go"},
    {"conversion overflow", 6, 12, "cannot convert constant 200 to int8", "variable",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := int8(200)
	_ = x
}
)go"},
    {"untyped constant overflows int", 6, 9, "constant 9223372036854775808 overflows int", "uint64(...)",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1 << 63
	_ = x
}
)go"},
    {"declared and not used", 6, 2, "declared and not used: x", "assign to _",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
}
)go"},
    {"unused in nested block", 8, 3, "declared and not used: y", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	if x > 0 {
		y := 2
	}
}
)go"},
    {"missing return", 9, 1, "missing return", "end f with a return",
     R"go(package main

import "crumble/rtg/runtime"

func f(x int64) int64 {
	if x > 0 {
		return 1
	}
}

func main() {
}
)go"},
    {"missing return past braces in strings and comments", 10, 1, "missing return", "",
     R"go(package main

import "crumble/rtg/runtime"

func f(x int64) int64 { // }
	runtime.Printf("}\n")
	if x > 0 {
		return 1
	}
}

func main() {
}
)go"},
    {"unused package constant that overflows", 5, 19, "constant 300 overflows uint8", "",
     R"go(package main

import "crumble/rtg/runtime"

const bad uint8 = 300

func main() {
	runtime.ISB()
}
)go"},
    {"unused package constant with an undefined name", 5, 15, "undefined: undefined_name", "",
     R"go(package main

import "crumble/rtg/runtime"

const worse = undefined_name + 1

func main() {
	runtime.ISB()
}
)go"},
    {"hex float literal", 6, 7, "floating-point and complex numbers are not supported", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 0x10p3
	runtime.Printf("%d", x)
}
)go"},
    {"imaginary literal", 6, 7, "floating-point and complex numbers are not supported", "integers only",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1i
	runtime.Printf("%d", x)
}
)go"},
    {"one verb, two arguments (plurals)", 6, 16, "Printf format has 1 verb but 2 arguments", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("%d", 1, 2)
}
)go"},
    {"caret after UTF-8 text", 6, 27, "undefined: nope", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("é%d\n", nope)
}
)go"},
    {"missing return after loop with break", 9, 1, "missing return", "",
     R"go(package main

import "crumble/rtg/runtime"

func f() int64 {
	for {
		break
	}
}

func main() {
}
)go"},
    {"break outside loop", 6, 2, "break is not in a loop", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	break
}
)go"},
    {"continue outside loop", 7, 3, "continue is not in a loop", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	if true {
		continue
	}
}
)go"},
    {"label not defined", 6, 2, "label done not defined", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	goto done
}
)go"},
    {"label defined and not used", 6, 1, "label done defined and not used", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
done:
	runtime.ISB()
}
)go"},
    {"label defined twice", 8, 1, "label again already defined", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
again:
	goto again
again:
}
)go"},
    {"too many arguments", 9, 3, "too many arguments in call to f", "want (int64)",
     R"go(package main

import "crumble/rtg/runtime"

func f(a int64) {
}

func main() {
	f(1, 2)
}
)go"},
    {"not enough arguments", 9, 3, "not enough arguments in call to f", "want (int64, uint8)",
     R"go(package main

import "crumble/rtg/runtime"

func f(a int64, b uint8) {
}

func main() {
	f(1)
}
)go"},
    {"runtime arity", 6, 20, "wrong number of arguments to runtime.Load8 (1, want 2)", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := runtime.Load8(0)
	_ = x
}
)go"},
    {"non-bool if condition", 7, 5, "non-boolean condition in if statement (int)", "x != 0",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	if x {
	}
}
)go"},
    {"non-bool for condition", 7, 6, "non-boolean condition in for statement (uint8)", "x != 0",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var n uint8 = 3
	for n {
		n--
	}
}
)go"},
    {"assign to package constant", 8, 2, "cannot assign to constant limit", "",
     R"go(package main

import "crumble/rtg/runtime"

const limit = 10

func main() {
	limit = 11
}
)go"},
    {"assign to local constant", 7, 2, "cannot assign to constant k", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	const k = 1
	k++
}
)go"},
    {"no new variables", 7, 4, "no new variables on left side of :=", "use =",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	x := 2
	_ = x
}
)go"},
    {"redeclared in block", 7, 6, "x redeclared in this block", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var x int64
	var x int64
	_ = x
}
)go"},
    {"Printf too few arguments", 6, 16, "Printf format has 2 verbs but 1 argument", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("%d %d\n", 1)
}
)go"},
    {"Printf too many arguments", 6, 16, "but 2 arguments", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("%d\n", 1, 2)
}
)go"},
    {"Printf unsupported verb", 6, 17, "Printf verb %f is not supported", "%d %u %x %s %c %%",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("%f\n", 1)
}
)go"},
    {"Printf %d of a string", 6, 25, "%d needs an integer, not a string", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Printf("%d\n", "x")
}
)go"},
    {"Printf format not constant", 6, 17, "the Printf format must be a constant string", "",
     R"go(package main

import "crumble/rtg/runtime"

func f(s string) {
	runtime.Printf(s)
}

func main() {
	f("x")
}
)go"},
    {"Syscall with a number", 6, 18, "the syscall must be named: runtime.SYS_NAME", "runtime.SYS_WRITE",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Syscall(60, 0)
}
)go"},
    {"Syscall with a variable", 7, 18, "the syscall must be named", "runtime.SYS_WRITE",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	nr := 60
	runtime.Syscall(nr, 0)
}
)go"},
    {"unknown syscall", 6, 26, "undefined: runtime.SYS_FROBNICATE", "syscalls.hpp",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Syscall(runtime.SYS_FROBNICATE, 0)
}
)go"},
    {"syscall name as value", 6, 16, "a syscall name is not a value", "runtime.Syscall",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	nr := runtime.SYS_WRITE
	_ = nr
}
)go"},
    {"undefined runtime member", 6, 14, "undefined: runtime.Exit", "docs/rtg.md",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	runtime.Exit(0)
}
)go"},
    {"Config key missing", 6, 30, "config key \"base\" is not given", "-c base=value",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	const base = runtime.Config("base")
	_ = base
}
)go"},
    {"buffer index out of bounds", 7, 6, "index 8 out of bounds for 8-byte buffer buf", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var buf [8]byte
	buf[8] = 1
}
)go"},
    {"negative buffer index", 7, 11, "index -1 out of bounds", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var buf [8]byte
	x := buf[-1]
	_ = x
}
)go"},
    {"buffer length out of range", 6, 11, "buffer length 0 out of range", "1 MiB",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var buf [0]byte
	_ = len(buf)
}
)go"},
    {"division by constant zero", 7, 9, "division by zero", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 10
	y := x / 0
	_ = y
}
)go"},
    {"remainder by constant zero", 7, 4, "division by zero", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 10
	x %= 0
}
)go"},
    {"calling a non-function", 7, 2, "cannot call non-function x", "runtime.Call(x",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	x()
}
)go"},
    {"calling a constant", 8, 2, "cannot call non-function k", "",
     R"go(package main

import "crumble/rtg/runtime"

const k = 3

func main() {
	k()
}
)go"},
    {"main with bad parameter", 5, 11, "main takes no parameters, or (argc int64, argv uintptr, envp uintptr)", "",
     R"go(package main

import "crumble/rtg/runtime"

func main(s string) {
	_ = s
}
)go"},
    {"main with bad result", 5, 13, "main returns nothing or an int64 exit status", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() int32 {
	return 0
}
)go"},
    {"no main", 7, 1, "function main is undeclared", "func main()",
     R"go(package main

import "crumble/rtg/runtime"

func start() {
}
)go"},
    {"function redeclared", 8, 1, "f redeclared in this file", "",
     R"go(package main

import "crumble/rtg/runtime"

func f() {
}

func f() {
}

func main() {
}
)go"},
    {"init function", 5, 1, "init functions are not supported", "from main",
     R"go(package main

import "crumble/rtg/runtime"

func init() {
}

func main() {
}
)go"},
    {"too many parameters", 5, 62, "function tooMany has 17 parameters; functions take at most 16", "buffer",
     R"go(package main

import "crumble/rtg/runtime"

func tooMany(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q int64) {
}

func main() {
}
)go"},
    {"embed used as single value", 6, 26, "runtime.EmbedString gives two values (address, length)", "p, n := runtime.EmbedString",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	p := runtime.EmbedString("hi")
	_ = p
}
)go"},
    {"embed in an expression", 6, 25, "runtime.EmbedBytes gives two values", "p, n := runtime.EmbedBytes",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := runtime.EmbedBytes(1, 2) + 1
	_ = x
}
)go"},
    {"two values from a call", 10, 7, "assignment mismatch: 2 variables but 1 value", "",
     R"go(package main

import "crumble/rtg/runtime"

func f() int64 {
	return 1
}

func main() {
	a, b := f()
	_ = a
	_ = b
}
)go"},
    {"void call as value", 9, 8, "expression has no value", "",
     R"go(package main

import "crumble/rtg/runtime"

func f() {
}

func main() {
	x := f()
	_ = x
}
)go"},
    {"return value from void function", 6, 9, "too many return values", "f returns nothing",
     R"go(package main

import "crumble/rtg/runtime"

func f() {
	return 1
}

func main() {
}
)go"},
    {"return without value", 6, 2, "not enough return values", "f returns int64",
     R"go(package main

import "crumble/rtg/runtime"

func f() int64 {
	return
}

func main() {
}
)go"},
    {"buffer used as value", 7, 7, "buf is a buffer, not a value", "&buf",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var buf [8]byte
	x := buf
	_ = x
}
)go"},
    {"index a variable", 7, 8, "only buffers can be indexed", "runtime.Load8",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	y := x[0]
	_ = y
}
)go"},
    {"iota outside const", 6, 7, "cannot use iota outside constant declaration", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := iota
	_ = x
}
)go"},
    {"nil", 6, 18, "nil is not supported", "0 for a null address",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var p uintptr = nil
	_ = p
}
)go"},
    {"builtin panic", 6, 2, "builtin panic is not supported", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	panic("boom")
}
)go"},
    {"len of a variable string", 6, 19, "len takes a buffer or a constant string", "NUL-terminated",
     R"go(package main

import "crumble/rtg/runtime"

func f(s string) int64 {
	return int64(len(s))
}

func main() {
	_ = f("x")
}
)go"},
    {"string concatenation at run time", 6, 11, "operator + not defined on string", "both are constants",
     R"go(package main

import "crumble/rtg/runtime"

func f(s string) string {
	return s + "!"
}

func main() {
	_ = f("x")
}
)go"},
    {"constant past 126 bits", 6, 16, "constant shift overflow: RTG constants are exact to 126 bits", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	const big = 1 << 130 >> 120
	runtime.Printf("%d\n", big)
}
)go"},
    {"a type alone among named parameters", 5, 17, "mixed named and unnamed parameters", "name every parameter, or none",
     R"go(package main

import "crumble/rtg/runtime"

func f(a int64, [4]byte) {
}

func main() {
	f(1)
}
)go"},
    {"bare return with the named result shadowed", 8, 3, "result parameter r not in scope at return", "return r",
     R"go(package main

import "crumble/rtg/runtime"

func f() (r int64) {
	{
		r := 2
		return
	}
}

func main() {
	runtime.Printf("%d\n", f())
}
)go"},
    {"an untyped shift where a string is wanted", 7, 19, "cannot use value of type untyped int as string in variable declaration", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	s := uint(3)
	var t string = 1 << s
	runtime.Printf("%s\n", t)
}
)go"},
    {"negative shift count", 7, 9, "invalid shift count -1", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	y := x << -1
	_ = y
}
)go"},
    {"constant cycle", 5, 7, "initialization cycle", "",
     R"go(package main

import "crumble/rtg/runtime"

const a = b
const b = a

func main() {
	_ = a
}
)go"},
    {"runtime function not called", 6, 15, "runtime.ISB must be called", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	f := runtime.ISB
	_ = f
}
)go"},
    {"runtime without selector", 6, 7, "use of package runtime without selector", "runtime.Name",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := runtime
	_ = x
}
)go"},
    {"expression statement", 7, 4, "expression is not used", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	x + 1
}
)go"},
    {"Printf as value", 6, 21, "runtime.Printf has no value", "as a statement",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := runtime.Printf("hi")
	_ = x
}
)go"},
    {"non-constant const", 10, 13, "value of constant k is not constant", "",
     R"go(package main

import "crumble/rtg/runtime"

func f() int64 {
	return 1
}

func main() {
	const k = f()
	_ = k
}
)go"},
    {"bool conversion", 7, 13, "cannot convert value of type bool to int64", "x != 0",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	b := true
	x := int64(b)
	_ = x
}
)go"},
    {"Ifdef flag not constant", 6, 23, "the Ifdef flag must be a constant string", "",
     R"go(package main

import "crumble/rtg/runtime"

func f(s string) bool {
	return runtime.Ifdef(s)
}

func main() {
	_ = f("x")
}
)go"},
    {"address of a variable", 7, 7, "cannot take the address of this", "&buf",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	p := &x
	_ = p
}
)go"},
    {"mismatched types in op=", 8, 4, "mismatched types int64 and int32 in +", "int64(y)",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var a int64
	var b int32
	a += b
}
)go"},
    {"unused if-init variable", 6, 5, "declared and not used: x", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	if x := 1; true {
	}
}
)go"},
    {"string comparison at run time", 6, 11, "strings can be compared only when both are constants", "runtime.Load8",
     R"go(package main

import "crumble/rtg/runtime"

func f(s string) bool {
	return s == "b"
}

func main() {
	_ = f("a")
}
)go"},
    {"bool arithmetic", 7, 9, "operator + not defined on bool", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	b := true
	c := b + b
	_ = c
}
)go"},
    {"assign string to int", 7, 6, "cannot use value of type untyped string as int in assignment", "",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x := 1
	x = "s"
	_ = x
}
)go"},
    {"duplicate parameter", 5, 17, "duplicate parameter a", "",
     R"go(package main

import "crumble/rtg/runtime"

func f(a int64, a int64) {
}

func main() {
}
)go"},
  };
  return rows;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// Line `line` (1-based) of `text`, without its newline; "" past the end.
std::string source_line(const std::string& text, int line) {
  std::vector<std::string> lines = split_lines(text);
  return line >= 1 && static_cast<std::size_t>(line) <= lines.size() ? lines[static_cast<std::size_t>(line) - 1] : "";
}

// What the caret line should be for `column` of `line`: the line's tabs kept, every other
// character before the column a space (a UTF-8 sequence is one character on screen), then ^.
std::string caret_line(const std::string& line, int column) {
  std::string out;
  for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(column); ++i) {
    if (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xc0) == 0x80) continue;
    out += i < line.size() && line[i] == '\t' ? '\t' : ' ';
  }
  return out + "^";
}

void check_report(const Rejected& row, const rtg::Error& e) {
  CHECK(e.line() == row.line);
  CHECK(e.column() == row.column);
  CHECK_THAT(e.message(), Catch::Contains(row.message));
  if (*row.hint) CHECK_THAT(e.hint(), Catch::Contains(row.hint));

  const std::string what = e.what();
  const std::string where = std::string(file_name) + ":" + std::to_string(row.line) + ":" + std::to_string(row.column) + ": ";
  CHECK_THAT(what, Catch::StartsWith(where));
  CHECK_THAT(what, Catch::StartsWith(where + e.message() + "\n"));
  CHECK_THAT(what, Catch::EndsWith("\n"));
  const std::vector<std::string> lines = split_lines(what);  // the last is "" after the final newline
  REQUIRE(lines.size() >= 4);
  const std::string text = source_line(row.source, row.line);
  CHECK(lines[1] == "\t" + text);
  CHECK(lines[2] == "\t" + caret_line(text, row.column));
  if (e.hint().empty()) {
    CHECK(lines.size() == 4);
  } else {
    REQUIRE(lines.size() == 5);
    CHECK(lines[3] == "\t" + e.hint());
  }
}

// Each accepted program is also run (assembled for AMD64, run natively by tests/runner.hpp with
// its default argv "alpha" "beta gamma" and environment): `out` is its whole stdout and `status`
// its exit status.
//
// The expected values are real Go's, not ours: each program was run by go 1.19 against a shim
// package at import path crumble/rtg/runtime (Printf through fmt.Printf with %u as %d of the value
// as uint64; Embed* give the address and length of bytes kept alive; Syscall(SYS_WRITE, ...) is
// syscall.Syscall; Load64 reads memory through unsafe; Call calls the function value by reflection;
// Ifdef is false). As Go's toolchain refuses RTG's main signatures, the harness renamed the
// program's `func main(` to rtgMain and called it from its own main with argc, argv and envp
// (C-style arrays of NUL-terminated strings) as far as it takes them, exiting with its result & 255;
// it appended `var _ = runtime.Printf` so that an otherwise unused import compiles. The Go binary
// was run like run_elf runs ours: argv[1..] = alpha, "beta gamma"; environment CRUMBLE_CORPUS=1.
struct Accepted {
  const char* name;
  std::string source;
  std::string out;  // stdout, as Go wrote it (but for a documented deviation a row names)
  int status;       // exit status, as Go's
};

const std::vector<Accepted>& accepted() {
  static const std::vector<Accepted> rows = {
    {"_ as a package constant, also in an iota group",
     R"go(package main

import "crumble/rtg/runtime"

const _ = 1

const (
	a = iota
	_
	c
)

func main() {
	runtime.Printf("%d %d\n", a, c)
}
)go",
     "0 2\n", 0},
    {"shadowing in nested blocks and in an if init",
     R"go(package main

import "crumble/rtg/runtime"

func main() int64 {
	x := 1
	{
		x := int64(2)
		if x := uint8(3); x > 2 {
			runtime.Printf("%d\n", x)
		}
		runtime.Printf("%d\n", x)
	}
	if x > 0 {
		x := "inner"
		runtime.Printf("%s\n", x)
	}
	return int64(x)
}
)go",
     "3\n2\ninner\n", 1},
    {"const iota groups: repeated specs, typed, two names per spec",
     R"go(package main

import "crumble/rtg/runtime"

const (
	a = iota
	b
	c
	d
)

const (
	KB uint64 = 1 << (10 * (iota + 1))
	MB
	GB
)

const (
	x, y = iota, iota * 10
	z, w
)

func main() int64 {
	const (
		p int8 = iota - 2
		q
	)
	var buf [len("abc") + d]byte
	buf[5] = 1
	runtime.Printf("%d %d %d %d %d %d\n", a, b, d, GB, w, q)
	return int64(p) + int64(buf[5])
}
)go",
     // main returns p + buf[5] = -2 + 1 = -1: status 255.
     "0 1 3 1073741824 10 -1\n", 255},
    {"goto backwards",
     R"go(package main

import "crumble/rtg/runtime"

func main() int64 {
	i := 0
again:
	i++
	if i < 10 {
		goto again
	}
	goto done
done:
	return int64(i)
}
)go",
     "", 10},
    {"goto forward out of a loop, and back to a labelled for",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	n := 0
loop:
	for {
		n++
		if n > 3 {
			goto out
		}
		goto loop
	}
out:
}
)go",
     "", 0},
    {"label before a closing brace",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	n := 0
	for n < 3 {
		n++
		if n == 2 {
			goto next
		}
		runtime.Printf("%d\n", n)
	next:
	}
}
)go",
     "1\n3\n", 0},
    {"a compile-time false branch may use a Config key not given",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	if runtime.Ifdef("GPU") {
		const mb = runtime.Config("mailbox")
		runtime.Printf("%d\n", mb)
	}
	x := 0
	if false {
		x++
	}
}
)go",
     // Go has no constant Config: for Go the harness wrote `mb := runtime.Config(...)` instead of
     // `const mb = ...` (the branch is never taken, under Go too: Ifdef is false).
     "", 0},
    {"literals: octal, binary, separators, extremes, escapes, raw strings",
     R"go(package main

import "crumble/rtg/runtime"

const (
	perm     = 0755
	octal    = 0o17
	bits     = 0b1010_1010
	million  = 1_000_000
	maxU64   = 0xffff_ffff_ffff_ffff
	minI64   = -9223372036854775808
	eAcute   = ')go" "\xc3" "\xa9" R"go('
	greeting = "tab\there, quote \", \x41\101\u00e9\U0001f600\n"
)

func main() {
	var u uint64 = maxU64
	var i int64 = minI64
	/* a comment over
	   two lines ends the statement above */
	raw := `raw "string"
over \n lines`
	runtime.Printf("%u %d %d %d %d %d %c %s %s", u, i, perm, octal, bits, million, eAcute, greeting, raw)
}
)go",
     // A deviation from Go (docs/rtg.md, runtime.Printf): Go's %c writes the rune UTF-8 encoded
     // ("\xc3\xa9" for U+00E9), RTG's the low byte alone ("\xe9"); Go's output differs only there.
     "18446744073709551615 -9223372036854775808 493 15 170 1000000 \xe9 tab\there, quote \", AA\xc3\xa9\xf0\x9f\x98\x80\n raw \"string\"\nover \\n lines", 0},
    {"multiple assignment and the runtime.Embed calls",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	x, y := 1, 2
	x, y = y, x
	p, n := runtime.EmbedString("swap\n")
	runtime.Syscall(runtime.SYS_WRITE, 1, p, n)
	if q, m := runtime.EmbedCString("c"); m > 0 {
		_ = q
	}
	b, k := runtime.EmbedBytes(0x7f, 'E', 'L', 'F')
	_, _ = b, k
	_ = x + y
}
)go",
     // "swap\n" is written by the raw SYS_WRITE.
     "swap\n", 0},
    {"main with argc, argv, envp and an exit status",
     R"go(package main

import "crumble/rtg/runtime"

func main(argc int64, argv uintptr, envp uintptr) int64 {
	first := runtime.Load64(argv, 0)
	_ = envp
	if first == 0 {
		return 1
	}
	return argc
}
)go",
     // argc is 3: the runner passes argv[1..] = alpha, "beta gamma" (Go was run with the same).
     "", 3},
    {"functions used before their declaration, mutual recursion, addresses",
     R"go(package main

import "crumble/rtg/runtime"

func main() int64 {
	return even(10) + runtime.Call(odd, 3)
}

func even(n int64) int64 {
	if n == 0 {
		return 1
	}
	return odd(n - 1)
}

func odd(n int64) int64 {
	if n == 0 {
		return 0
	}
	return even(n - 1)
}

func unused(a int64, b bool, s string) {
}
)go",
     // even(10) + odd(3) = 1 + 1; under Go the shim's Call calls the function value.
     "", 2},
    {"var groups and several names in one var",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	var (
		a int64
		b, c = uint8(1), uint8(2)
	)
	var d, e int32 = 3, 4
	var buf [16]byte
	buf[a] = b + c
	runtime.Printf("%d %d\n", d+e, buf[0])
}
)go",
     "7 3\n", 0},
    {"narrow types wrap, constant strings join, len of a buffer",
     R"go(package main

import "crumble/rtg/runtime"

const s = "ab" + "cd"

func main() {
	var u uint8 = 250
	u += 10
	var i int8 = 127
	i++
	var buf [len(s) * 2]byte
	buf[len(buf)-1] = byte(u)
	x := ^uint16(0) >> 4
	runtime.Printf("%d %d %d %d\n", u, i, x, len(buf))
}
)go",
     "4 -128 4095 8\n", 0},
    {"blank name in a local const group",
     R"go(package main

import "crumble/rtg/runtime"

func main() {
	const (
		a = iota * 10
		_
		c
	)
	runtime.Printf("%d %d\n", a, c)
}
)go",
     "0 20\n", 0},
  };
  return rows;
}

rtg::Options config(const std::string& key, const std::string& value) {
  rtg::Options options;
  options.config[key] = value;
  return options;
}

// The report of translating `source`; "" when it is accepted.
std::string rejection(const std::string& source, const rtg::Options& options = {}) {
  try {
    (void)rtg::translate(rtg::Source{file_name, source}, options);
  } catch (const rtg::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("RTG error table is well-formed", "[rtg][errors]") {
  CHECK(rejected().size() >= 40);
  std::set<std::string> names;
  for (const Rejected& row : rejected()) {
    INFO(row.name);
    CHECK(names.insert(row.name).second);
    CHECK(row.line >= 1);
    CHECK(row.column >= 1);
    CHECK(*row.message);
    CHECK(static_cast<std::size_t>(row.line) <= split_lines(row.source).size());
  }
  for (const Accepted& row : accepted()) CHECK(names.insert(row.name).second);
}

TEST_CASE("RTG rejects each mistake at its position with its message and hint", "[rtg][errors]") {
  for (const Rejected& row : rejected()) {
    DYNAMIC_SECTION(row.name) {
      INFO("row: " << row.name << "\nsource:\n" << row.source);
      try {
        (void)rtg::translate(rtg::Source{file_name, row.source});
        FAIL("accepted, but should be rejected: " << row.name);
      } catch (const rtg::Error& e) {
        INFO("report:\n" << e.what());
        check_report(row, e);
      }
    }
  }
}

TEST_CASE("RTG accepts valid edge programs", "[rtg][errors]") {
  for (const Accepted& row : accepted()) {
    DYNAMIC_SECTION(row.name) {
      INFO("row: " << row.name << "\nsource:\n" << row.source);
      try {
        rtg::Translation t = rtg::translate(rtg::Source{file_name, row.source});
        REQUIRE_FALSE(t.program.functions.empty());
        CHECK(t.program.functions[0].name == "main");
        std::vector<std::uint8_t> elf;
        try {
          elf = crumble::executable<crumble::arch::amd64>(t.program);
        } catch (const std::exception& e) {
          FAIL("did not assemble for amd64:\n" << e.what());
        }
#if defined(__x86_64__)
        const test::RunOptions options{};
#else
        const test::RunOptions options{{"qemu-x86_64"}};
#endif
        const test::RunResult got = test::run_elf(elf, options);
        INFO("run: " << got.describe());
        REQUIRE(got.error.empty());
        CHECK(test::escaped(got.out) == test::escaped(row.out));
        CHECK(got.exited);
        CHECK(got.status == row.status);
      } catch (const rtg::Error& e) {
        FAIL("rejected:\n" << e.what());
      }
    }
  }
}

TEST_CASE("runtime.Config is an integer constant when the option reads as one and a string otherwise", "[rtg][errors]") {
  // Type-checks only when Config gives an integer: an array length, a constant index, arithmetic.
  const std::string as_integer = R"go(package main

import "crumble/rtg/runtime"

func main() {
	const size = runtime.Config("size")
	var buf [size]byte
	buf[size-1] = 1
	runtime.Printf("%d\n", size+1)
}
)go";
  // Type-checks only when Config gives a string.
  const std::string as_string = R"go(package main

import "crumble/rtg/runtime"

func main() {
	const name string = runtime.Config("size")
	runtime.Printf("%s\n", name)
}
)go";

  SECTION("0x1000 is the integer 4096") {
    rtg::Translation t = rtg::translate(rtg::Source{file_name, as_integer}, config("size", "0x1000"));
    REQUIRE(t.program.functions.size() == 1);
    REQUIRE(t.program.functions[0].buffers.size() == 1);
    CHECK(t.program.functions[0].buffers[0].size == 4096);
    const std::string report = rejection(as_string, config("size", "0x1000"));
    CHECK_THAT(report, Catch::StartsWith("case.go:6:36: cannot use value of type untyped int as string"));
  }
  SECTION("decimal and binary integers too") {
    for (const char* value : {"4096", "0b1000000000000"}) {
      INFO(value);
      rtg::Translation t = rtg::translate(rtg::Source{file_name, as_integer}, config("size", value));
      REQUIRE(t.program.functions[0].buffers.size() == 1);
      CHECK(t.program.functions[0].buffers[0].size == 4096);
    }
  }
  SECTION("the integer is checked like any constant") {
    // buf[size-1] is in bounds for any size; a constant index past it is not.
    const std::string past_end = R"go(package main

import "crumble/rtg/runtime"

func main() {
	var buf [runtime.Config("size")]byte
	buf[4096] = 1
}
)go";
    CHECK_THAT(rejection(past_end, config("size", "0x1000")),
               Catch::StartsWith("case.go:7:6: index 4096 out of bounds for 4096-byte buffer buf"));
    CHECK(rejection(past_end, config("size", "0x1001")).empty());
  }
  SECTION("any other text is a string") {
    for (const char* value : {"hello", "/dev/console", "0x", "12ab"}) {
      INFO(value);
      CHECK(rejection(as_string, config("size", value)).empty());
      const std::string report = rejection(as_integer, config("size", value));
      CHECK_THAT(report, Catch::StartsWith("case.go:7:11: buffer length must be an integer constant"));
    }
  }
}
