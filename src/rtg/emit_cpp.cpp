// SPDX-License-Identifier: Apache-2.0
// src/rtg/emit_cpp.cpp — see emit_cpp.hpp.
#include <crumble/rtg/emit_cpp.hpp>

#include <cstdio>

namespace crumble::rtg {
namespace {

using namespace crumble::ir;

// A C++ string literal for arbitrary bytes: printable ASCII as is, the rest as 3-digit octal
// escapes (which cannot run into a following digit, unlike \x). With its length, so embedded
// NULs survive.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') out += '\\', out += ch;
    else if (c >= 0x20 && c < 0x7f && c != '?') out += ch;  // '?' would risk trigraph-like sequences
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    }
  }
  return out + "\"";
}
std::string view(std::string_view s) {
  bool plain = s.find('\0') == std::string_view::npos;
  if (plain) return quoted(s) + "sv";
  return "std::string_view(" + quoted(s) + ", " + std::to_string(s.size()) + ")";
}

std::string i64(std::int64_t v) {
  if (v == INT64_MIN) return "(-9223372036854775807 - 1)";
  return std::to_string(v);
}

constexpr const char* op_names[] = {"Add", "Sub", "Mul", "Div", "UDiv", "Rem", "URem", "Shl", "Shr", "Sar", "And", "Or", "Xor"};
constexpr const char* cmp_names[] = {"Eq", "Ne", "Lt", "Le", "Gt", "Ge", "ULt", "ULe", "UGt", "UGe"};

struct Printer {
  std::string out;
  int indent = 2;

  void line(const std::string& s) { out += std::string(static_cast<std::size_t>(indent), ' ') + s + "\n"; }

  std::string expr(const Expr& e) {
    return visit(
        [&](const auto& n) -> std::string {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Var>) return "Var{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, GlobalVar>) return "GlobalVar{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, Int64>) return "Int64{" + i64(n.value) + "}";
          else if constexpr (std::is_same_v<N, Int32>) return "Int32{" + i64(n.value) + "}";
          else if constexpr (std::is_same_v<N, Int16>) return "Int16{" + i64(n.value) + "}";
          else if constexpr (std::is_same_v<N, Int8>) return "Int8{" + i64(n.value) + "}";
          else if constexpr (std::is_same_v<N, MemVar>)
            return "load(" + expr(*n.base) + ", " + i64(n.disp) + ", " + std::to_string(n.width) +
                   (n.extend == Extend::sign ? ", Extend::sign)" : ")");
          else if constexpr (std::is_same_v<N, GlobalAddr>) return "GlobalAddr{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, FuncAddr>) return "FuncAddr{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, BufferAddr>) return "BufferAddr{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, Embed>) return std::string("Embed{") + view(n.bytes) + (n.nul ? ", true}" : ", false}");
          else if constexpr (std::is_same_v<N, Op>)
            return std::string("op(OpKind::") + op_names[static_cast<int>(n.kind)] + ", " + expr(*n.lhs) + ", " + expr(*n.rhs) + ")";
          else if constexpr (std::is_same_v<N, Call>) return "Expr{" + call(n) + "}";
          else if constexpr (std::is_same_v<N, Syscall>) return "Expr{" + syscall(n) + "}";
          else if constexpr (std::is_same_v<N, CondValue>) return "Expr{CondValue{" + cond(*n.cond) + "}}";
        },
        e);
  }
  std::string args(const std::vector<Expr>& a) {
    std::string s = "std::vector<Expr>{";
    for (std::size_t k = 0; k < a.size(); ++k) s += (k ? ", " : "") + expr(a[k]);
    return s + "}";
  }
  std::string call(const Call& c) { return "Call{" + expr(*c.target) + ", " + args(c.args) + "}"; }
  std::string syscall(const Syscall& c) {
    return "Syscall{Sys::" + std::string(name(c.nr)) + ", " + args(c.args) + "}";
  }

  std::string cond(const Cond& c) {
    return visit(
        [&](const auto& n) -> std::string {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Compare>)
            return std::string("cmp(Cmp::") + cmp_names[static_cast<int>(n.kind)] + ", " + expr(*n.lhs) + ", " + expr(*n.rhs) + ")";
          else if constexpr (std::is_same_v<N, IsZero>) return "Cond{IsZero{" + expr(*n.value) + "}}";
          else if constexpr (std::is_same_v<N, IsNegative>) return "Cond{IsNegative{" + expr(*n.value) + "}}";
          else if constexpr (std::is_same_v<N, Not>) return "Cond{Not{" + cond(*n.cond) + "}}";
          else if constexpr (std::is_same_v<N, And>) return "Cond{And{" + cond(*n.lhs) + ", " + cond(*n.rhs) + "}}";
          else if constexpr (std::is_same_v<N, Or>) return "Cond{Or{" + cond(*n.lhs) + ", " + cond(*n.rhs) + "}}";
        },
        c);
  }

  // Statements are appended one by one (b.push_back), not written as one nested initializer:
  // that keeps the generated code's nesting as deep as the program's, and GCC's constant
  // evaluator fast. Each vector is reserved first: growing one in constant evaluation moves
  // and destroys every element it held, and that was a fifth of building the init (Clang steps).
  void block(const std::string& into, const Block& b) {
    reserve(into, b.size());
    for (const Stmt& s : b) stmt(into, s);
  }
  void reserve(const std::string& vector, std::size_t n) {
    if (n > 1) line(vector + ".reserve(" + std::to_string(n) + ");");
  }
  int blocks = 0;
  void stmt(const std::string& into, const Stmt& s) {
    visit(
        [&](const auto& n) {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Assign>) line(into + ".push_back(Assign{" + expr(n.target) + ", " + expr(n.value) + "});");
          else if constexpr (std::is_same_v<N, If>) {
            std::string t = "b" + std::to_string(blocks++), e = "b" + std::to_string(blocks++);
            line("{");
            ++indent;
            line("Block " + t + ", " + e + ";");
            block(t, n.then_body);
            block(e, n.else_body);
            line(into + ".push_back(If{" + cond(n.cond) + ", std::move(" + t + "), std::move(" + e + ")});");
            --indent;
            line("}");
          } else if constexpr (std::is_same_v<N, While>) {
            std::string w = "b" + std::to_string(blocks++);
            line("{");
            ++indent;
            line("Block " + w + ";");
            block(w, n.body);
            line(into + ".push_back(While{" + cond(n.cond) + ", std::move(" + w + ")});");
            --indent;
            line("}");
          } else if constexpr (std::is_same_v<N, Break>) line(into + ".push_back(Break{});");
          else if constexpr (std::is_same_v<N, Continue>) line(into + ".push_back(Continue{});");
          else if constexpr (std::is_same_v<N, Label>) line(into + ".push_back(Label{" + view(n.name) + "});");
          else if constexpr (std::is_same_v<N, Goto>) line(into + ".push_back(Goto{" + view(n.name) + "});");
          else if constexpr (std::is_same_v<N, Return>) line(into + ".push_back(Return{" + expr(n.value) + "});");
          else if constexpr (std::is_same_v<N, Call>) line(into + ".push_back(" + call(n) + ");");
          else if constexpr (std::is_same_v<N, Syscall>) line(into + ".push_back(" + syscall(n) + ");");
          else if constexpr (std::is_same_v<N, Printf>) line(into + ".push_back(Printf{" + view(n.format) + ", " + args(n.args) + "});");
          else if constexpr (std::is_same_v<N, CacheFlush>) line(into + ".push_back(CacheFlush{" + expr(n.base) + ", " + expr(n.size) + "});");
          else if constexpr (std::is_same_v<N, InstructionBarrier>) line(into + ".push_back(InstructionBarrier{});");
        },
        s);
  }
};

}  // namespace

std::string emit_cpp(const ir::Program& p, const HeaderInfo& info) {
  Printer pr;
  std::string& o = pr.out;
  o += "// Generated by crumble-rtg. Do not edit: change the RTG source and rebuild.\n";
  for (std::size_t a = 0, b; a < info.comment.size(); a = b + 1) {
    b = info.comment.find('\n', a);
    if (b == std::string::npos) b = info.comment.size();
    o += "// " + info.comment.substr(a, b - a) + "\n";
  }
  o += "#pragma once\n\n#include <string_view>\n#include <utility>\n\n#include <crumble/ir/build.hpp>\n\n";
  o += "namespace " + info.name_space + " {\n\n";
  o += "constexpr crumble::ir::Program " + info.function + "() {\n";
  o += "  using namespace crumble::ir;\n  using namespace std::string_view_literals;\n  Program p;\n";
  pr.indent = 2;
  pr.reserve("p.globals", p.globals.size());
  pr.reserve("p.functions", p.functions.size());
  for (const Global& g : p.globals)
    o += "  p.globals.push_back(Global{" + view(g.name) + ", " + i64(g.size) + ", " + i64(g.align) + "});\n";
  for (const Function& f : p.functions) {
    o += "  {\n";
    pr.indent = 4;
    pr.line("Function f{" + view(f.name) + "};");
    pr.reserve("f.params", f.params.size());
    for (std::string_view param : f.params) pr.line("f.params.push_back(" + view(param) + ");");
    pr.reserve("f.buffers", f.buffers.size());
    for (const Buffer& b : f.buffers) pr.line("f.buffers.push_back(Buffer{" + view(b.name) + ", " + i64(b.size) + "});");
    pr.block("f.body", f.body);
    pr.line("p.functions.push_back(std::move(f));");
    o += "  }\n";
  }
  o += "  return p;\n}\n\n}  // namespace " + info.name_space + "\n";
  return o;
}

}  // namespace crumble::rtg
