// SPDX-License-Identifier: Apache-2.0
// crumble/error.hpp — how crumble reports a mistake in a program it is asked to compile.
//
// The same code runs at compile time and at run time. At run time a mistake throws
// crumble::compile_error with a readable message. During constant evaluation it calls one of
// the non-constexpr functions in crumble::diagnostic, whose *name* is the message: GCC then
// stops with "call to non-'constexpr' function 'void crumble::diagnostic::undefined_label()'"
// and points at the line of the program that caused it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace crumble {

enum class errc {
  undefined_label,
  duplicate_label,
  undefined_variable,
  undefined_function,
  duplicate_function,
  undefined_global,
  duplicate_global,
  undefined_buffer,
  duplicate_buffer,
  invalid_size,
  invalid_width,
  too_many_call_arguments,
  too_many_syscall_arguments,
  unknown_syscall,
  invalid_assignment_target,
  invalid_printf_format,
  printf_argument_count,
  break_outside_loop,
  empty_program,
  program_too_large,
};

constexpr std::string_view to_string(errc e) {
  switch (e) {
    case errc::undefined_label: return "undefined label";
    case errc::duplicate_label: return "duplicate label";
    case errc::undefined_variable: return "undefined variable";
    case errc::undefined_function: return "undefined function";
    case errc::duplicate_function: return "duplicate function";
    case errc::undefined_global: return "undefined global";
    case errc::duplicate_global: return "duplicate global";
    case errc::undefined_buffer: return "undefined stack buffer";
    case errc::duplicate_buffer: return "stack buffer declared twice";
    case errc::invalid_size: return "size must be 0..2^30 and alignment a power of two";
    case errc::invalid_width: return "memory width must be 8, 16, 32 or 64";
    case errc::too_many_call_arguments: return "more call arguments than the ABI passes in registers";
    case errc::too_many_syscall_arguments: return "a syscall takes at most 6 arguments";
    case errc::unknown_syscall: return "syscall not available on this architecture";
    case errc::invalid_assignment_target: return "assignment target must be a Var, GlobalVar or MemVar";
    case errc::invalid_printf_format: return "invalid printf format (supported: %d %u %x %s %c %%)";
    case errc::printf_argument_count: return "printf argument count does not match the format";
    case errc::break_outside_loop: return "break or continue outside a loop";
    case errc::empty_program: return "a program needs at least one function";
    case errc::program_too_large: return "program too large";
  }
  return "unknown error";
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
inline void undefined_label() {}
inline void duplicate_label() {}
inline void undefined_variable() {}
inline void undefined_function() {}
inline void duplicate_function() {}
inline void undefined_global() {}
inline void duplicate_global() {}
inline void undefined_buffer() {}
inline void duplicate_buffer() {}
inline void invalid_size() {}
inline void invalid_width() {}
inline void too_many_call_arguments() {}
inline void too_many_syscall_arguments() {}
inline void unknown_syscall() {}
inline void invalid_assignment_target() {}
inline void invalid_printf_format() {}
inline void printf_argument_count() {}
inline void break_outside_loop() {}
inline void empty_program() {}
inline void program_too_large() {}
}  // namespace diagnostic

namespace detail {
inline std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Reports a mistake: a compile error in constant evaluation, compile_error at run time.
// `where` and `what` are joined into the run-time message ("'x' in function 'main'").
constexpr void fail(errc code, std::string_view what = {}, std::string_view where = {}) {
  if (std::is_constant_evaluated()) {
    switch (code) {
      case errc::undefined_label: diagnostic::undefined_label(); break;
      case errc::duplicate_label: diagnostic::duplicate_label(); break;
      case errc::undefined_variable: diagnostic::undefined_variable(); break;
      case errc::undefined_function: diagnostic::undefined_function(); break;
      case errc::duplicate_function: diagnostic::duplicate_function(); break;
      case errc::undefined_global: diagnostic::undefined_global(); break;
      case errc::duplicate_global: diagnostic::duplicate_global(); break;
      case errc::undefined_buffer: diagnostic::undefined_buffer(); break;
      case errc::duplicate_buffer: diagnostic::duplicate_buffer(); break;
      case errc::invalid_size: diagnostic::invalid_size(); break;
      case errc::invalid_width: diagnostic::invalid_width(); break;
      case errc::too_many_call_arguments: diagnostic::too_many_call_arguments(); break;
      case errc::too_many_syscall_arguments: diagnostic::too_many_syscall_arguments(); break;
      case errc::unknown_syscall: diagnostic::unknown_syscall(); break;
      case errc::invalid_assignment_target: diagnostic::invalid_assignment_target(); break;
      case errc::invalid_printf_format: diagnostic::invalid_printf_format(); break;
      case errc::printf_argument_count: diagnostic::printf_argument_count(); break;
      case errc::break_outside_loop: diagnostic::break_outside_loop(); break;
      case errc::empty_program: diagnostic::empty_program(); break;
      case errc::program_too_large: diagnostic::program_too_large(); break;
    }
  } else {
    std::string detail = what.empty() ? std::string() : quoted(what);
    if (!where.empty()) detail += (detail.empty() ? "in " : " in ") + std::string(where);
    throw compile_error(code, detail);
  }
}
}  // namespace detail
}  // namespace crumble
