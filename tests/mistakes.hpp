// SPDX-License-Identifier: Apache-2.0
// Programs with one mistake each, and the error each must produce. Shared by mistakes_test.cpp
// (run time: compile_error with this errc) and compile_fail.cpp (constant evaluation: the build
// fails naming crumble::diagnostic::<kind>).
#pragma once

#include <crumble/crumble.hpp>

namespace crumble::test::mistakes {
using namespace crumble::ir;

constexpr Program undefined_label() { return {{Function{"main", {}, {Goto{"nowhere"}}}}}; }
constexpr Program duplicate_label() { return {{Function{"main", {}, {Label{"a"}, Label{"a"}}}}}; }
constexpr Program undefined_variable() { return {{Function{"main", {}, {Return{Var{"ghost"}}}}}}; }
constexpr Program undefined_function() { return {{Function{"main", {}, {Return{call("nope")}}}}}; }
constexpr Program duplicate_function() { return {{Function{"main"}, Function{"main"}}}; }
constexpr Program undefined_global() { return {{Function{"main", {}, {Return{GlobalVar{"g"}}}}}}; }
constexpr Program undefined_buffer() { return {{Function{"main", {}, {Return{BufferAddr{"b"}}}}}}; }
constexpr Program duplicate_buffer() {
  return {{Function{"main", {}, {Return{BufferAddr{"b"}}}, {Buffer{"b", 8}, Buffer{"b", 16}}}}};
}
constexpr Program invalid_size() {
  return {{Function{"main", {}, {Return{BufferAddr{"b"}}}, {Buffer{"b", -8}}}}};
}
constexpr Program duplicate_global() {
  return {{Function{"main", {}, {Return{GlobalVar{"g"}}}}}, {Global{"g"}, Global{"g"}}};
}
constexpr Program invalid_width() { return {{Function{"main", {"p"}, {Return{load(Var{"p"}, 0, 12)}}}}}; }
constexpr Program too_many_call_arguments() {  // ir::max_call_arguments + 1
  return {{Function{"main", {}, {Return{call("f", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})}}},
           Function{"f"}}};
}
constexpr Program too_many_syscall_arguments() {
  return {{Function{"main", {}, {Return{syscall(Sys::write, {1, 2, 3, 4, 5, 6, 7})}}}}};
}
constexpr Program unknown_syscall() {  // a syscall name no target knows
  return {{Function{"main", {}, {Return{syscall(static_cast<Sys>(250), {})}}}}};
}
constexpr Program invalid_assignment_target() { return {{Function{"main", {}, {Assign{Int64{1}, 2}}}}}; }
constexpr Program invalid_printf_format() { return {{Function{"main", {}, {Printf{"%q\n", {1}}}}}}; }
constexpr Program printf_argument_count() { return {{Function{"main", {}, {Printf{"%d %d\n", {1}}}}}}; }
constexpr Program break_outside_loop() { return {{Function{"main", {}, {Break{}}}}}; }
constexpr Program empty_program() { return {}; }

struct Row {
  const char* name;
  Program (*make)();
  errc code;
};
#define CRUMBLE_MISTAKE(n) Row{#n, n, errc::n}
inline const Row rows[] = {
    CRUMBLE_MISTAKE(undefined_label),          CRUMBLE_MISTAKE(duplicate_label),
    CRUMBLE_MISTAKE(undefined_variable),       CRUMBLE_MISTAKE(undefined_function),
    CRUMBLE_MISTAKE(duplicate_function),       CRUMBLE_MISTAKE(undefined_global),
    CRUMBLE_MISTAKE(undefined_buffer),         CRUMBLE_MISTAKE(invalid_width),
    CRUMBLE_MISTAKE(duplicate_buffer),         CRUMBLE_MISTAKE(invalid_size),
    CRUMBLE_MISTAKE(duplicate_global),
    CRUMBLE_MISTAKE(too_many_call_arguments),  CRUMBLE_MISTAKE(too_many_syscall_arguments),
    CRUMBLE_MISTAKE(unknown_syscall),          CRUMBLE_MISTAKE(invalid_assignment_target),
    CRUMBLE_MISTAKE(invalid_printf_format),    CRUMBLE_MISTAKE(printf_argument_count),
    CRUMBLE_MISTAKE(break_outside_loop),       CRUMBLE_MISTAKE(empty_program),
};
#undef CRUMBLE_MISTAKE

}  // namespace crumble::test::mistakes
