// SPDX-License-Identifier: Apache-2.0
// tests/corpus/corpus.hpp — the architecture-neutral program corpus.
//
// Every program is a `constexpr ir::Program NAME()` with an `Expected NAME_expected()` beside it
// (stdout bytes and exit status, computed on the host in plain C++: see support.hpp). The
// programs use only the IR and syscalls every target has, so the same table runs on AMD64
// natively and on ARM64 / RISC-V under qemu-user.
//
// Expectations assume the runner's defaults (runner.hpp: RunOptions): argv[1..] = "alpha",
// "beta gamma" and the environment exactly "CRUMBLE_CORPUS=1" (only args_env looks at them).
//
// The table is an X-macro so each program can become its own Catch2 TEST_CASE (and ctest test),
// and so the constexpr tests can take it in parts: CRUMBLE_CORPUS_PART1..4 group the programs by
// theme (arithmetic; control flow; calls; memory, printf, syscalls), parts of similar
// compile-time cost; CRUMBLE_CORPUS is all of them. To add a program, define NAME() and
// NAME_expected() in a programs_*.hpp and list NAME in one part.
#pragma once

#include "programs_arith.hpp"
#include "programs_control.hpp"
#include "programs_calls.hpp"
#include "programs_memory.hpp"
#include "programs_stack_args.hpp"

// clang-format off
#define CRUMBLE_CORPUS_PART1(X) \
  X(exit_const) X(exit_wrap) X(exit_negative) X(fall_off_end) X(printf_no_args) X(hello_example) \
  X(arith_add_sub) X(arith_mul) X(div_signed) X(div_unsigned) X(shifts_imm) X(shifts_var) X(bitwise) \
  X(int_widths) X(inplace_ops)
#define CRUMBLE_CORPUS_PART2(X) \
  X(compare_matrix) X(compare_imm) X(cond_logic) X(short_circuit) X(condvalue) X(nested_if_deep) X(else_if_chain) \
  X(while_break_continue) X(while_complex_cond) X(goto_loops) X(return_paths) X(locals_zero_init) X(branch_relaxation)
#define CRUMBLE_CORPUS_PART3(X) \
  X(fib_recursive) X(factorial) X(ackermann) X(mutual_recursion) X(deep_recursion) X(gcd_lcm) X(collatz) \
  X(call_arity) X(call_permute) X(nested_call_args) X(deep_expr_spill) X(calls_in_deep_expr) X(many_locals) \
  X(condvalue_nested) X(params_on_stack) X(indirect_calls) X(stack_args_mixed) X(stack_params_forwarded) \
  X(stack_args_recursion)
#define CRUMBLE_CORPUS_PART4(X) \
  X(mem_stack_widths) X(mem_large_disp) X(mem_global_widths) X(globals_layout) X(printf_formats) \
  X(printf_long) X(printf_loop) X(printf_many_args) X(syscall_write) X(syscall_exit) X(syscall_exit_nested) X(syscall_ids) X(syscall_mmap) \
  X(syscall_in_expr) X(embed_bytes) X(args_env) X(sieve) X(sorting) X(string_ops) X(matrix_mul) X(crc32) \
  X(xorshift) X(large_stack_buffer)
// A sample that reaches every node kind, branch relaxation, spills, stack parameters, stack-passed
// arguments, globals, embedded bytes and printf on each target, for a second compiler's quick constexpr check
// (CRUMBLE_CORPUS_CONSTEXPR_SAMPLE in CMakeLists.txt).
#define CRUMBLE_CORPUS_SAMPLE(X) \
  X(hello_example) X(int_widths) X(condvalue) X(branch_relaxation) X(params_on_stack) X(indirect_calls) \
  X(deep_expr_spill) X(mem_stack_widths) X(globals_layout) X(syscall_ids) X(embed_bytes) X(stack_args_mixed)
// clang-format on

#define CRUMBLE_CORPUS(X) CRUMBLE_CORPUS_PART1(X) CRUMBLE_CORPUS_PART2(X) CRUMBLE_CORPUS_PART3(X) CRUMBLE_CORPUS_PART4(X)

namespace crumble::corpus {

inline const std::vector<Row>& rows() {
#define CRUMBLE_CORPUS_ROW(name) Row{#name, &name, &name##_expected},
  static const std::vector<Row> table{CRUMBLE_CORPUS(CRUMBLE_CORPUS_ROW)};
#undef CRUMBLE_CORPUS_ROW
  return table;
}

}  // namespace crumble::corpus
