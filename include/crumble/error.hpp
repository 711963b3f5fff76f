// SPDX-License-Identifier: Apache-2.0
// crumble/error.hpp — how crumble reports a mistake in a program it is asked to compile, or in
// an instruction an encoder is asked to make.
//
// The same code runs at compile time and at run time. At run time a mistake throws
// crumble::compile_error with a readable message. During constant evaluation it calls one of
// the non-constexpr functions in crumble::diagnostic, whose *name* is the message: GCC then
// stops with "call to non-'constexpr' function 'void crumble::diagnostic::undefined_label()'"
// and points at the line of the program that caused it.
//
// Every mistake is written once, in CRUMBLE_ERRORS below: its name (the errc enumerator and the
// diagnostic function) and its run-time message. Everything else is made from that list.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

// X(name, message). The names are also the compile-time diagnostics that tests/CMakeLists.txt
// (compile_fail.*) expects: rename one there too.
#define CRUMBLE_ERRORS(X)                                                                          \
  /* mistakes in an IR program (lower.hpp, code/buffer.hpp) */                                     \
  X(undefined_label, "undefined label")                                                            \
  X(duplicate_label, "duplicate label")                                                            \
  X(undefined_variable, "undefined variable")                                                      \
  X(undefined_function, "undefined function")                                                      \
  X(duplicate_function, "duplicate function")                                                      \
  X(undefined_global, "undefined global")                                                          \
  X(duplicate_global, "duplicate global")                                                          \
  X(undefined_buffer, "undefined stack buffer")                                                    \
  X(duplicate_buffer, "stack buffer declared twice")                                               \
  X(invalid_size, "size must be 0..2^30 and alignment a power of two")                             \
  X(invalid_width, "memory width must be 8, 16, 32 or 64")                                         \
  X(too_many_call_arguments, "a call or function takes at most 16 arguments")                      \
  X(too_many_syscall_arguments, "a syscall takes at most 6 arguments")                             \
  X(unknown_syscall, "syscall not available on this architecture")                                \
  X(invalid_assignment_target, "assignment target must be a Var, GlobalVar or MemVar")             \
  X(invalid_printf_format, "invalid printf format (supported: %d %u %x %s %c %%)")                 \
  X(printf_argument_count, "printf argument count does not match the format")                      \
  X(break_outside_loop, "break or continue outside a loop")                                        \
  X(empty_program, "a program needs at least one function")                                        \
  X(program_too_large, "program too large")                                                        \
  /* operands an instruction encoder refuses (arch/<arch>/encoder.hpp): never truncated */         \
  X(value_does_not_fit_its_field, "value does not fit its field")                                  \
  X(offset_is_not_a_multiple_of_its_scale, "offset is not a multiple of its scale")                \
  X(sp_is_not_valid_in_this_operand, "sp is not valid in this operand")                            \
  X(xzr_is_not_valid_in_this_operand, "xzr is not valid in this operand")                          \
  X(not_a_bitmask_immediate, "not a bitmask immediate")                                            \
  X(invalid_operand, "invalid operand")

namespace crumble {

enum class errc {
#define CRUMBLE_ERRC_NAME(name, message) name,
  CRUMBLE_ERRORS(CRUMBLE_ERRC_NAME)
#undef CRUMBLE_ERRC_NAME
};

namespace detail {
inline constexpr std::array errc_messages{
#define CRUMBLE_ERRC_MESSAGE(name, message) std::string_view{message, sizeof(message) - 1},
    CRUMBLE_ERRORS(CRUMBLE_ERRC_MESSAGE)
#undef CRUMBLE_ERRC_MESSAGE
};
}  // namespace detail

constexpr std::string_view to_string(errc e) {
  const auto i = static_cast<std::size_t>(e);
  return i < detail::errc_messages.size() ? detail::errc_messages[i] : "unknown error";
}

// Thrown at run time; what() is "<kind>: <detail>", e.g. "undefined label: 'loop' in function 'main'".
class compile_error : public std::runtime_error {
 public:
  compile_error(errc code, const std::string& detail)
      : std::runtime_error(std::string(to_string(code)) + (detail.empty() ? "" : ": " + detail)),
        code_(code) {}
  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

// Deliberately not constexpr: calling one during constant evaluation is a compile error that
// names the mistake. Never called at run time.
namespace diagnostic {
#define CRUMBLE_ERRC_DIAGNOSTIC(name, message) inline void name() {}
CRUMBLE_ERRORS(CRUMBLE_ERRC_DIAGNOSTIC)
#undef CRUMBLE_ERRC_DIAGNOSTIC
}  // namespace diagnostic

namespace detail {
inline std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// In constant evaluation: stops the build naming the mistake (crumble::diagnostic::<name>).
constexpr void diagnose(errc code) {
  switch (code) {
#define CRUMBLE_ERRC_CASE(name, message) \
  case errc::name: diagnostic::name(); break;
    CRUMBLE_ERRORS(CRUMBLE_ERRC_CASE)
#undef CRUMBLE_ERRC_CASE
  }
}

// Reports a mistake: a compile error in constant evaluation, compile_error at run time.
// `where` and `what` are joined into the run-time message ("'x' in function 'main'").
constexpr void fail(errc code, std::string_view what = {}, std::string_view where = {}) {
  if (std::is_constant_evaluated()) {
    diagnose(code);
  } else {
    std::string detail = what.empty() ? std::string() : quoted(what);
    if (!where.empty()) detail += (detail.empty() ? "in " : " in ") + std::string(where);
    throw compile_error(code, detail);
  }
}

// An encoder refusing an operand, as fail() does; the run-time message names the architecture,
// the operand and its value: "value does not fit its field: riscv64 I-type immediate 4096".
constexpr void fail_operand(errc code, std::string_view arch, std::string_view operand, std::int64_t value) {
  if (std::is_constant_evaluated()) diagnose(code);
  else throw compile_error(code, std::string(arch) + " " + std::string(operand) + " " + std::to_string(value));
}
}  // namespace detail
}  // namespace crumble
