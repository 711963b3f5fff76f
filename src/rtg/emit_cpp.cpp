// SPDX-License-Identifier: Apache-2.0
// src/rtg/emit_cpp.cpp — see emit_cpp.hpp.
#include <crumble/rtg/emit_cpp.hpp>

#include <crumble/ir/program_size.hpp>

#include <cstdio>
#include <vector>

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
            return "load(" + expr(n.base) + ", " + i64(n.disp) + ", " + std::to_string(n.width) +
                   (n.extend == Extend::sign ? ", Extend::sign)" : ")");
          else if constexpr (std::is_same_v<N, GlobalAddr>) return "GlobalAddr{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, FuncAddr>) return "FuncAddr{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, BufferAddr>) return "BufferAddr{" + view(n.name) + "}";
          else if constexpr (std::is_same_v<N, Embed>) return std::string("Embed{") + view(n.bytes) + (n.nul ? ", true}" : ", false}");
          else if constexpr (std::is_same_v<N, Op>)
            return std::string("op(OpKind::") + op_names[static_cast<int>(n.kind)] + ", " + expr(n.lhs) + ", " + expr(n.rhs) + ")";
          else if constexpr (std::is_same_v<N, Call>) return "call(" + expr(n.target) + ", " + args(n.args) + ")";
          else if constexpr (std::is_same_v<N, Syscall>) return "syscall(Sys::" + std::string(name(n.nr)) + ", " + args(n.args) + ")";
          else if constexpr (std::is_same_v<N, CondValue>) return "cond_value(" + cond(n.cond) + ")";
        },
        e);
  }
  std::string args(const std::vector<Expr>& a) {
    std::string s = "args(";
    for (std::size_t k = 0; k < a.size(); ++k) s += (k ? ", " : "") + expr(a[k]);
    return s + ")";
  }

  std::string cond(const Cond& c) {
    return visit(
        [&](const auto& n) -> std::string {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Compare>)
            return std::string("cmp(Cmp::") + cmp_names[static_cast<int>(n.kind)] + ", " + expr(n.lhs) + ", " + expr(n.rhs) + ")";
          else if constexpr (std::is_same_v<N, IsZero>) return "is_zero(" + expr(n.value) + ")";
          else if constexpr (std::is_same_v<N, IsNegative>) return "is_negative(" + expr(n.value) + ")";
          else if constexpr (std::is_same_v<N, Not>) return "not_(" + cond(n.cond) + ")";
          else if constexpr (std::is_same_v<N, And>) return "and_(" + cond(n.lhs) + ", " + cond(n.rhs) + ")";
          else if constexpr (std::is_same_v<N, Or>) return "or_(" + cond(n.lhs) + ", " + cond(n.rhs) + ")";
        },
        c);
  }

  // Statements are appended one by one (b.push_back), not written as one nested initializer:
  // that keeps the generated code's nesting as deep as the program's, and GCC's constant
  // evaluator fast. Nodes that hold nodes are made by functions (rtg/emitted.hpp says why). Each vector is reserved first: growing one in constant evaluation moves
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
          if constexpr (std::is_same_v<N, Assign>) line(into + ".push_back(assign(" + expr(n.target) + ", " + expr(n.value) + "));");
          else if constexpr (std::is_same_v<N, If>) {
            std::string t = "b" + std::to_string(blocks++), e = "b" + std::to_string(blocks++);
            line("{");
            ++indent;
            line("Block " + t + ", " + e + ";");
            block(t, n.then_body);
            block(e, n.else_body);
            line(into + ".push_back(if_(" + cond(n.cond) + ", std::move(" + t + "), std::move(" + e + ")));");
            --indent;
            line("}");
          } else if constexpr (std::is_same_v<N, While>) {
            std::string w = "b" + std::to_string(blocks++);
            line("{");
            ++indent;
            line("Block " + w + ";");
            block(w, n.body);
            line(into + ".push_back(while_(" + cond(n.cond) + ", std::move(" + w + ")));");
            --indent;
            line("}");
          } else if constexpr (std::is_same_v<N, Break>) line(into + ".push_back(Break{});");
          else if constexpr (std::is_same_v<N, Continue>) line(into + ".push_back(Continue{});");
          else if constexpr (std::is_same_v<N, Label>) line(into + ".push_back(Label{" + view(n.name) + "});");
          else if constexpr (std::is_same_v<N, Goto>) line(into + ".push_back(Goto{" + view(n.name) + "});");
          else if constexpr (std::is_same_v<N, Return>) line(into + ".push_back(return_(" + expr(n.value) + "));");
          else if constexpr (std::is_same_v<N, Call>) line(into + ".push_back(call_stmt(" + expr(n.target) + ", " + args(n.args) + "));");
          else if constexpr (std::is_same_v<N, Syscall>) line(into + ".push_back(syscall_stmt(Sys::" + std::string(name(n.nr)) + ", " + args(n.args) + "));");
          else if constexpr (std::is_same_v<N, Printf>) line(into + ".push_back(printf_(" + view(n.format) + ", " + args(n.args) + "));");
          else if constexpr (std::is_same_v<N, CacheFlush>) line(into + ".push_back(cache_flush(" + expr(n.base) + ", " + expr(n.size) + "));");
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
  o += "#pragma once\n\n#include <array>\n#include <cstddef>\n#include <string_view>\n#include <utility>\n#include <vector>\n\n";
  o += "#include <crumble/rtg/emitted.hpp>\n\n";
  o += "namespace " + info.name_space + " {\n\n";
  const std::string parts = info.function + "_functions";
  // One maker per function, so that NAME_by_function builds only the function asked for.
  o += "// " + info.function + "()'s globals and functions, one maker each (" + info.function + "_by_function).\n";
  o += "namespace " + parts + " {\n\n";
  o += "using namespace crumble::rtg::emitted;  // and crumble::ir\nusing namespace std::string_view_literals;\n\n";
  o += "constexpr std::vector<Global> globals() {\n  std::vector<Global> g;\n";
  pr.indent = 2;
  pr.reserve("g", p.globals.size());
  for (const Global& g : p.globals)
    pr.line("g.push_back(Global{" + view(g.name) + ", " + i64(g.size) + ", " + i64(g.align) + "});");
  o += "  return g;\n}\n";
  std::vector<std::string> makers;
  for (const Function& f : p.functions) {
    // fN_name: ASCII letters and digits kept, anything else one '_' (never two in a row: names
    // with "__" are reserved in C++).
    std::string maker = "f" + std::to_string(makers.size()) + "_";
    for (char c : f.name) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (plain) maker += c;
      else if (maker.back() != '_') maker += '_';
    }
    makers.push_back(maker);
    o += "\nconstexpr Function " + maker + "() {\n";
    pr.indent = 2;
    pr.line("Function f{" + view(f.name) + "};");
    pr.reserve("f.params", f.params.size());
    for (std::string_view param : f.params) pr.line("f.params.push_back(" + view(param) + ");");
    pr.reserve("f.buffers", f.buffers.size());
    for (const Buffer& b : f.buffers) pr.line("f.buffers.push_back(Buffer{" + view(b.name) + ", " + i64(b.size) + "});");
    pr.block("f.body", f.body);
    pr.line("return f;");
    o += "}\n";
  }
  o += "\n}  // namespace " + parts + "\n\n";

  o += "constexpr crumble::ir::Program " + info.function + "() {\n";
  o += "  crumble::ir::Program p{{}, " + parts + "::globals()};\n";
  pr.indent = 2;
  pr.reserve("p.functions", p.functions.size());
  for (const std::string& m : makers) pr.line("p.functions.push_back(" + parts + "::" + m + "());");
  o += "  return p;\n}\n\n";

  o += "// " + info.function + "() function by function, for crumble::assemble and crumble::executable at\n";
  o += "// compile time: its functions are lowered a few at a time, each group in a constant expression of\n";
  o += "// its own (crumble/assemble.hpp).\n";
  o += "struct " + info.function + "_by_function {\n";
  o += "  static constexpr std::array<std::string_view, " + std::to_string(makers.size()) + "> function_names{\n";
  for (const Function& f : p.functions)
    o += "      std::string_view(" + quoted(f.name) + ", " + std::to_string(f.name.size()) + "),\n";
  o += "  };\n";
  o += "  // IR nodes per function (crumble::ir::function_size): assembly lowers about 2,000 at a time.\n";
  o += "  static constexpr std::array<std::size_t, " + std::to_string(makers.size()) + "> function_nodes{";
  for (std::size_t i = 0; i < p.functions.size(); ++i)
    o += (i ? ", " : "") + std::to_string(ir::function_size(p.functions[i]).nodes);
  o += "};\n";
  o += "  static constexpr std::vector<crumble::ir::Global> globals() { return " + parts + "::globals(); }\n";
  o += "  static constexpr crumble::ir::Function function(std::size_t i) {\n    switch (i) {\n";
  for (std::size_t i = 0; i < makers.size(); ++i)
    o += "      case " + std::to_string(i) + ": return " + parts + "::" + makers[i] + "();\n";
  o += "    }\n    return crumble::ir::Function{};  // i < function_names.size(): never\n  }\n};\n\n";
  o += "}  // namespace " + info.name_space + "\n";
  return o;
}

}  // namespace crumble::rtg
