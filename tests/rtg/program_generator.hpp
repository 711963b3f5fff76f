// SPDX-License-Identifier: Apache-2.0
// tests/rtg/program_generator.hpp — random well-typed programs that are both valid RTG and valid Go.
//
// The differential test (difftest_test.cpp) builds each program with the Go toolchain and with
// crumble-rtg for three architectures and compares what they print and their exit status, so a
// program only has to be valid and deterministic; the generator never predicts its output. It
// keeps a model of the scopes (names, types, which are constants) and writes every expression
// for a type it knows, so each program type-checks. What it exercises: every integer type (and
// the aliases byte and rune), boundary constants, every arithmetic, bitwise, shift and
// comparison operator, && || !, conversions between all types, untyped constants shifted by
// run-time counts (typed by their context), nested if / else if / else with init statements,
// for loops with break and continue, goto loops, blocks that shadow names, var / const / :=
// declarations of one and several names, tuple assignments over variables, buffer bytes and _,
// op= and ++/--, discarded values, embedded bytes read by runtime.Load8..64, named results and
// unnamed parameters, and calls that print (so their order shows) in every position: operands,
// indexes, shift counts, conditions, arguments, tuple targets, loop conditions.
//
// What it avoids, because Go and RTG legitimately differ there (docs/rtg.md) or Go rejects it:
// division by zero and MIN / -1 (divisors are made non-zero and never -1), negative shift counts
// (counts are unsigned), out-of-range indexes (indexes are masked), constant expressions that
// could overflow (an operation never has two constant operands; literals fit their type),
// Printf's %c and %d of unsigned values (signed print %d, unsigned %u or %x), unused variables
// (every block ends by printing its variables), unbounded loops and recursion (loop counters
// are never assigned; functions call only later ones).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace crumble::rtg_test {

class ProgramGenerator {
 public:
  explicit ProgramGenerator(std::uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL) {}

  // The whole program: package, import, helper functions, main.
  std::string program() {
    out_.clear();
    emit_line("package main");
    emit_line("");
    emit_line("import \"crumble/rtg/runtime\"");
    for (int t = 0; t < type_count; ++t) {  // the identity functions that show call order
      emit_line("");
      emit_line("func se_" + std::string(types[t].name) + "(k int64, v " + types[t].name + ") " + types[t].name + " {");
      emit_line("\truntime.Printf(\"<%d>\", k)");
      emit_line("\treturn v");
      emit_line("}");
    }
    const int helpers = 1 + static_cast<int>(below(3));
    for (int k = 0; k < helpers; ++k) plan_function(k);
    for (int k = 0; k < helpers; ++k) function(k);
    main_function();
    return out_;
  }

  // Features the last programs used (names as listed in the test), so a test can check that the
  // generator reaches all of them.
  std::set<std::string> features;

 private:
  // ---- types ------------------------------------------------------------------------------
  struct IntType {
    const char* name;
    int bits;
    bool is_signed;
  };
  static constexpr IntType types[] = {{"int8", 8, true},    {"int16", 16, true},   {"int32", 32, true},
                                      {"int64", 64, true},  {"int", 64, true},     {"uint8", 8, false},
                                      {"uint16", 16, false}, {"uint32", 32, false}, {"uint64", 64, false},
                                      {"uint", 64, false},  {"uintptr", 64, false}};
  static constexpr int type_count = sizeof types / sizeof types[0];
  static constexpr int boolean = -1;  // the type index of bool
  using i128 = __int128;

  static i128 min_of(int t) { return types[t].is_signed ? -(i128{1} << (types[t].bits - 1)) : 0; }
  static i128 max_of(int t) {
    return types[t].is_signed ? (i128{1} << (types[t].bits - 1)) - 1 : (i128{1} << types[t].bits) - 1;
  }
  // The type's name as written: byte and rune are the same types as uint8 and int32.
  std::string spell(int t) {
    if (t == 5 && chance(30)) return features.insert("byte"), "byte";
    if (t == 2 && chance(30)) return features.insert("rune"), "rune";
    return types[t].name;
  }

  static std::string decimal(i128 v) {
    if (v == 0) return "0";
    const bool neg = v < 0;
    unsigned __int128 u = neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
    std::string s;
    while (u) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10))), u /= 10;
    return neg ? "-" + s : s;
  }

  // ---- randomness (splitmix64: the same programs on every host) ---------------------------
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
  bool chance(int percent) { return static_cast<int>(below(100)) < percent; }
  int any_type() { return static_cast<int>(below(type_count)); }
  int unsigned_type() { return 5 + static_cast<int>(below(6)); }

  // A constant of type t: a boundary value most of the time, else anything in range.
  i128 constant(int t) {
    const i128 lo = min_of(t), hi = max_of(t);
    const i128 picks[] = {0, 1, 2, 3, 7, 100, 127, 128, 255, 256, 1000, 32767, 32768, 65535, 65536, 0x7fffffff,
                          0x80000000, 0xffffffff, lo, hi, lo + 1, hi - 1, -1, -2, -128, -129, -32768};
    if (chance(80)) {
      for (int tries = 0; tries < 8; ++tries) {
        i128 v = picks[below(sizeof picks / sizeof picks[0])];
        if (v >= lo && v <= hi) return v;
      }
      return 0;
    }
    const unsigned __int128 span = static_cast<unsigned __int128>(hi - lo) + 1;
    unsigned __int128 r = (static_cast<unsigned __int128>(next()) << 64) | next();
    return lo + static_cast<i128>(span ? r % span : r);
  }

  // ---- the scope model ----------------------------------------------------------------------
  static constexpr int untyped = -2;
  struct Symbol {
    // embedded: the address of bytes from runtime.Embed* (differs between Go and RTG, so it
    // is only ever read through runtime.Load*, never printed)
    enum Kind { variable, constant, buffer, embedded } kind;
    std::string name;
    int type;              // integer type index, boolean, or untyped (constants)
    bool assignable = true;  // loop counters are not, so loops end
    i128 value = 0;        // constants
    int length = 0;        // buffers
  };

  // ---- expressions ---------------------------------------------------------------------------
  struct Ex {
    std::string text;
    int prec = 6;           // Go's precedence of the top operator: 6 for operands and unary ones
    bool constant = false;  // a constant expression
    bool typed = true;      // false: untyped (a bare literal, or an untyped constant shifted at run time)
  };

  static int precedence(const std::string& op) {
    if (op == "||") return 1;
    if (op == "&&") return 2;
    if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") return 3;
    if (op == "+" || op == "-" || op == "|" || op == "^") return 4;
    return 5;
  }
  // l op r, with the parentheses Go's precedence needs (and now and then some it does not).
  Ex binary(const std::string& op, const Ex& l, const Ex& r) {
    const int p = precedence(op);
    auto wrap = [&](const Ex& e, bool right) {
      bool need = right ? e.prec <= p : e.prec < p;
      return need || (e.prec < 6 && chance(15)) ? "(" + e.text + ")" : e.text;
    };
    return Ex{wrap(l, false) + " " + op + " " + wrap(r, true), p, l.constant && r.constant, l.typed || r.typed};
  }
  Ex unary(const std::string& op, const Ex& e) {
    bool paren = e.prec < 6 || (!e.text.empty() && (e.text[0] == op[0] || (op == "-" && e.text[0] == '+')));
    return Ex{op + (paren ? "(" + e.text + ")" : e.text), 6, e.constant, e.typed};
  }
  Ex literal(int t, i128 v, bool typed) {
    if (!typed) return Ex{decimal(v), 6, true, false};
    return Ex{spell(t) + "(" + decimal(v) + ")", 6, true, true};
  }

  // An expression of type t. want_typed: it must have type t by itself (it stands where Go
  // would give an untyped value its default type); want_nonconst: it must not be constant.
  Ex expr(int t, int depth, bool want_typed, bool want_nonconst) {
    if (depth <= 0 || chance(25)) return leaf(t, want_typed, want_nonconst);
    const int pick = static_cast<int>(below(100));
    if (pick < 34) {  // arithmetic and bitwise
      static const char* ops[] = {"+", "-", "*", "&", "|", "^", "&^"};
      const std::string op = ops[below(7)];
      features.insert("op " + op);
      Ex l = expr(t, depth - 1, false, false);
      Ex r = expr(t, depth - 1, want_typed && !l.typed, l.constant);
      return binary(op, l, r);
    }
    if (pick < 48) return shift(t, depth, want_typed);
    if (pick < 56) return division(t, depth, want_typed);
    if (pick < 64) {
      static const char* ops[] = {"-", "^", "+"};
      const std::string op = ops[below(3)];
      features.insert("unary " + op);
      return unary(op, expr(t, depth - 1, want_typed, true));
    }
    if (pick < 74) {  // a conversion from another type
      int from = any_type();
      if (from == t) from = (t + 1) % type_count;
      features.insert("conversion");
      return Ex{spell(t) + "(" + expr(from, depth - 1, true, true).text + ")", 6, false, true};
    }
    if (pick < 81) return side_effect(t, expr(t, depth - 1, false, false));
    if (pick < 84) {
      for (const Symbol* s : visible())
        if (s->kind == Symbol::embedded) return embedded_read(t, *s, depth);
    }
    if (pick < 92) {
      if (auto call = user_call(t, depth)) return *call;
    }
    if (!buffers_in_scope().empty()) return buffer_read(t, depth);
    return leaf(t, want_typed, want_nonconst);
  }

  Ex side_effect(int t, const Ex& arg) {
    features.insert("call in expression");
    return Ex{"se_" + std::string(types[t].name) + "(" + std::to_string(++calls_) + ", " + arg.text + ")", 6, false, true};
  }

  // x << n, x >> n: constant counts past the width too, run-time counts of unsigned types, and
  // an untyped constant shifted at run time (its type then comes from the context).
  Ex shift(int t, int depth, bool want_typed) {
    const std::string op = chance(50) ? "<<" : ">>";
    features.insert("op " + op);
    // A shift has its left operand's type (binary() would call it typed when only the count is).
    auto shifted = [&](const Ex& x, const Ex& count) {
      Ex e = binary(op, x, count);
      e.typed = x.typed;
      return e;
    };
    const int form = static_cast<int>(below(3));
    if (form == 0) {  // run-time operand, constant count
      Ex x = expr(t, depth - 1, want_typed, true);
      return shifted(x, Ex{std::to_string(below(4) == 0 ? 60 + below(12) : below(types[t].bits)), 6, true, false});
    }
    Ex count = shift_count(depth);
    if (form == 1 || want_typed) return shifted(expr(t, depth - 1, want_typed, false), count);
    // an untyped constant on the left: small and non-negative, so it fits any type
    features.insert("untyped constant shifted at run time");
    static const int small[] = {1, 3, 5, 7, 100};
    return shifted(Ex{std::to_string(small[below(5)]), 6, true, false}, count);
  }
  Ex shift_count(int depth) {
    const int u = unsigned_type();
    Ex n = expr(u, depth - 1, true, true);
    if (chance(50)) {
      static const int masks[] = {7, 15, 31, 63, 127};
      n = binary("&", n, Ex{std::to_string(masks[below(5)]), 6, true, false});
    }
    return n;
  }

  // x / d, x % d with d never 0 nor (for signed types) -1.
  Ex division(int t, int depth, bool want_typed) {
    const std::string op = chance(50) ? "/" : "%";
    features.insert("op " + op);
    Ex x = expr(t, depth - 1, want_typed, false);
    if (!x.constant && chance(35)) {  // a constant divisor
      i128 d = constant(t);
      if (d == 0 || d == -1) d = 3;
      return binary(op, x, literal(t, d, false));
    }
    Ex d = expr(t, depth - 1, true, true);
    if (!types[t].is_signed) return binary(op, x, binary("|", d, Ex{"1", 6, true, false}));
    if (chance(50)) return binary(op, x, binary("|", binary("&", d, Ex{decimal(max_of(t)), 6, true, false}), Ex{"1", 6, true, false}));
    return binary(op, x, binary("&^", binary("|", d, Ex{decimal(min_of(t)), 6, true, false}), Ex{"1", 6, true, false}));
  }

  Ex leaf(int t, bool want_typed, bool want_nonconst) {
    std::vector<const Symbol*> vars, consts;
    for (const Symbol* s : visible())
      if (s->kind == Symbol::variable && s->type == t) vars.push_back(s);
      else if (s->kind == Symbol::constant && !want_nonconst &&
               (s->type == t || (s->type == untyped && !want_typed && s->value >= min_of(t) && s->value <= max_of(t))))
        consts.push_back(s);
    if (!vars.empty() && chance(70)) return Ex{vars[below(vars.size())]->name, 6, false, true};
    if (!consts.empty() && chance(30)) {
      const Symbol* c = consts[below(consts.size())];
      features.insert("local constant");
      return Ex{c->name, 6, true, c->type != untyped};
    }
    if (!want_nonconst && chance(60)) {
      features.insert("boundary constant");
      return literal(t, constant(t), want_typed || chance(50));
    }
    std::vector<const Symbol*> others;
    for (const Symbol* s : visible())
      if (s->kind == Symbol::variable && s->type >= 0) others.push_back(s);
    if (!others.empty() && chance(60)) {
      const Symbol* s = others[below(others.size())];
      if (s->type == t) return Ex{s->name, 6, false, true};
      features.insert("conversion");
      return Ex{spell(t) + "(" + s->name + ")", 6, false, true};
    }
    return side_effect(t, literal(t, constant(t), chance(50)));
  }

  // runtime.Load8/16/32/64 of embedded bytes (16 of them), at a constant or masked offset.
  Ex embedded_read(int t, const Symbol& bytes, int depth) {
    static const int widths[] = {8, 16, 32, 64};
    const int w = widths[below(4)];
    features.insert("runtime.Load of embedded bytes");
    const std::string off = chance(40) ? std::to_string(below(static_cast<std::uint64_t>(bytes.length - w / 8 + 1)))
                                       : binary("&", expr(any_type(), depth - 1, true, true), Ex{"7", 6, true, false}).text;
    Ex load{"runtime.Load" + std::to_string(w) + "(" + bytes.name + ", " + off + ")", 6, false, true};
    const int loaded = w == 8 ? 5 : w == 16 ? 6 : w == 32 ? 7 : 8;
    return t == loaded ? load : Ex{spell(t) + "(" + load.text + ")", 6, false, true};
  }

  Ex buffer_read(int t, int depth) {
    std::vector<const Symbol*> bufs = buffers_in_scope();
    const Symbol* b = bufs[below(bufs.size())];
    features.insert("buffer read");
    Ex read{b->name + "[" + index(b, depth).text + "]", 6, false, true};
    if (t == 5) return read;
    return Ex{spell(t) + "(" + read.text + ")", 6, false, true};
  }
  // An index that is in bounds: a constant, or a run-time value masked (lengths are powers of two).
  Ex index(const Symbol* b, int depth) {
    if (chance(25)) return Ex{std::to_string(below(static_cast<std::uint64_t>(b->length))), 6, true, false};
    Ex i = expr(any_type(), depth - 1, true, true);
    return binary("&", i, Ex{std::to_string(b->length - 1), 6, true, false});
  }

  Ex condition(int depth) {
    const int pick = static_cast<int>(below(100));
    if (depth > 0 && pick < 20) {
      const std::string op = chance(50) ? "&&" : "||";
      features.insert("op " + op);
      return binary(op, condition(depth - 1), condition(depth - 1));
    }
    if (depth > 0 && pick < 28) {
      features.insert("op !");
      return unary("!", condition(depth - 1));
    }
    std::vector<const Symbol*> bools;
    for (const Symbol* s : visible())
      if (s->kind == Symbol::variable && s->type == boolean) bools.push_back(s);
    if (!bools.empty() && pick < 40) return Ex{bools[below(bools.size())]->name, 6, false, true};
    return comparison(any_type(), depth, Ex{});
  }
  // A comparison; `left` is used when it has type t (if-init variables must be read).
  Ex comparison(int t, int depth, const Ex& left_hint, int left_type = -2) {
    static const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
    const std::string op = ops[below(6)];
    features.insert("op " + op);
    Ex l = left_type == t ? left_hint : expr(t, depth - 1, true, false);
    Ex r = expr(t, depth - 1, false, l.constant);
    Ex c = binary(op, l, r);
    c.constant = false;
    return c;
  }

  // ---- scopes ----------------------------------------------------------------------------------
  std::vector<std::vector<Symbol>> scopes_;

  // Symbols visible here: innermost first, shadowed ones left out.
  std::vector<const Symbol*> visible() const {
    std::vector<const Symbol*> out;
    std::set<std::string> seen;
    for (auto s = scopes_.rbegin(); s != scopes_.rend(); ++s)
      for (auto it = s->rbegin(); it != s->rend(); ++it)
        if (seen.insert(it->name).second) out.push_back(&*it);
    return out;
  }
  std::vector<const Symbol*> buffers_in_scope() const {
    std::vector<const Symbol*> out;
    for (const Symbol* s : visible())
      if (s->kind == Symbol::buffer) out.push_back(s);
    return out;
  }
  std::vector<const Symbol*> assignable_vars() const {
    std::vector<const Symbol*> out;
    for (const Symbol* s : visible())
      if (s->kind == Symbol::variable && s->assignable) out.push_back(s);
    return out;
  }
  // A name not yet declared in this block (shadowing outer ones is welcome); empty if none.
  std::string fresh_name() {
    static const char* pool[] = {"a", "b", "c", "d", "e", "g", "h", "m", "n", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z"};
    for (int tries = 0; tries < 12; ++tries) {
      std::string n = pool[below(sizeof pool / sizeof pool[0])];
      bool taken = false;
      for (const Symbol& s : scopes_.back()) taken |= s.name == n;
      if (!taken) return n;
    }
    return {};
  }

  // ---- statements ------------------------------------------------------------------------------
  void emit_line(const std::string& s) { out_ += std::string(static_cast<std::size_t>(indent_), '\t') + s + "\n"; }

  // A block's statements, then a Printf of the variables and buffer bytes it declared (which
  // also makes every variable used, as Go requires).
  void block_body(int count, int depth) {
    for (int k = 0; k < count && budget_ > 0; ++k) statement(depth);
    print_scope(scopes_.back());
  }
  void print_scope(const std::vector<Symbol>& scope) {
    std::string format, args;
    for (const Symbol& s : scope) {
      if (s.kind == Symbol::constant) continue;
      if (s.kind == Symbol::embedded) {
        format += " %u", args += ", runtime.Load8(" + s.name + ", " + std::to_string(s.length - 1) + ")";
        continue;
      }
      if (s.kind == Symbol::buffer) {
        for (int i = 0; i < s.length && i < 4; ++i) format += " %u", args += ", " + s.name + "[" + std::to_string(s.length - 1 - i) + "]";
        continue;
      }
      format += s.type >= 0 && !types[s.type].is_signed ? (chance(30) ? " %x" : " %u") : " %d";
      args += ", " + s.name;
    }
    if (!format.empty()) emit_line("runtime.Printf(\"" + std::to_string(++prints_) + ":" + format + "\\n\"" + args + ")");
  }
  void nested_block(int count, int depth) {
    scopes_.emplace_back();
    ++indent_;
    block_body(count, depth);
    --indent_;
    scopes_.pop_back();
  }

  void statement(int depth) {
    --budget_;
    const int pick = static_cast<int>(below(100));
    if (pick < 18) return declaration(depth);
    if (pick < 28) return assignment();
    if (pick < 35) return op_assignment();
    if (pick < 42) return tuple_assignment();
    if (pick < 46) return discard();
    if (pick < 50) return buffer_declaration();
    if (pick < 56) return buffer_store();
    if (pick < 62) return print();
    if (pick < 66) return call_statement();
    if (pick < 69) return local_constants();
    if (depth <= 0) return print();
    if (pick < 80) return if_statement(depth);
    if (pick < 87 && loops_ < 2) return for_loop(depth);
    if (pick < 90 && loops_ < 2) return goto_loop(depth);
    if (pick < 94 && in_for_) return loop_exit();
    if (pick < 96 && result_ != no_function) return early_return();
    emit_line("{");
    features.insert("block");
    nested_block(2 + static_cast<int>(below(3)), depth - 1);
    emit_line("}");
  }

  void declare(Symbol s) { scopes_.back().push_back(std::move(s)); }

  void declaration(int depth) {
    const int form = static_cast<int>(below(7));
    const std::string a = fresh_name();
    if (a.empty()) return print();
    if (form == 0 && depth > 0) {  // a bool
      Ex c = condition(1);
      emit_line(a + " := " + c.text);
      declare({Symbol::variable, a, boolean});
      return;
    }
    const int t = any_type();
    if (form <= 2) {  // x := e / var x T = e / var x = e
      features.insert(form == 1 ? "var x T = e" : ":=");
      Ex e = expr(t, 3, form != 1, false);
      if (form == 1) emit_line("var " + a + " " + spell(t) + " = " + e.text);
      else if (chance(50)) emit_line(a + " := " + e.text);
      else emit_line("var " + a + " = " + e.text);
      declare({Symbol::variable, a, t});
      return;
    }
    // several names: a, b := e1, e2 / var a, b = e1, e2 / var a, b T = ... / var a, b T
    scopes_.back().push_back({Symbol::constant, a, untyped, false, 0});  // reserve a while b is chosen
    std::string b = fresh_name();
    scopes_.back().pop_back();
    if (b.empty()) return print();
    const int u = form == 5 || form == 6 ? t : any_type();
    Ex e1 = expr(t, 2, form != 5, false), e2 = expr(u, 2, form != 5, false);
    features.insert("declaration of two names");
    if (form == 3) emit_line(a + ", " + b + " := " + e1.text + ", " + e2.text);
    else if (form == 4) emit_line("var " + a + ", " + b + " = " + e1.text + ", " + e2.text);
    else if (form == 5) emit_line("var " + a + ", " + b + " " + spell(t) + " = " + e1.text + ", " + e2.text);
    else emit_line("var " + a + ", " + b + " " + spell(t));
    declare({Symbol::variable, a, t});
    declare({Symbol::variable, b, u});
  }

  void assignment() {
    std::vector<const Symbol*> vars = assignable_vars();
    if (vars.empty()) return print();
    const Symbol* v = vars[below(vars.size())];
    if (v->type == boolean) {
      emit_line(v->name + " = " + condition(1).text);
      return;
    }
    emit_line(v->name + " = " + expr(v->type, 3, false, false).text);
  }

  void op_assignment() {
    std::vector<const Symbol*> vars;
    for (const Symbol* s : assignable_vars())
      if (s->type >= 0) vars.push_back(s);
    std::string target;
    int t = 5;
    if (!vars.empty() && chance(75)) {
      const Symbol* v = vars[below(vars.size())];
      target = v->name, t = v->type;
    } else if (!buffers_in_scope().empty()) {
      std::vector<const Symbol*> bufs = buffers_in_scope();
      const Symbol* b = bufs[below(bufs.size())];
      target = b->name + "[" + index(b, 2).text + "]";
      features.insert("buffer op=");
    } else {
      return print();
    }
    const int form = static_cast<int>(below(12));
    if (form < 2) {
      emit_line(target + (form == 0 ? "++" : "--"));
      features.insert("++/--");
      return;
    }
    features.insert("op=");
    if (form < 9) {
      static const char* ops[] = {"+=", "-=", "*=", "&=", "|=", "^=", "&^="};
      emit_line(target + " " + ops[form - 2] + " " + expr(t, 2, false, false).text);
    } else if (form == 9) {
      emit_line(target + (chance(50) ? " <<= " : " >>= ") + shift_count(2).text);
    } else {
      // x /= d, x %= d: the same divisors as division()
      Ex d = expr(t, 2, true, true);
      std::string divisor = !types[t].is_signed ? binary("|", d, Ex{"1", 6, true, false}).text
                                                : binary("|", binary("&", d, Ex{decimal(max_of(t)), 6, true, false}), Ex{"1", 6, true, false}).text;
      emit_line(target + (form == 10 ? " /= " : " %= ") + divisor);
    }
  }

  // a, buf[i], _ = e1, e2, e3: the indexes and values first, then the stores (Go's order).
  void tuple_assignment() {
    std::vector<const Symbol*> vars;
    for (const Symbol* s : assignable_vars())
      if (s->type >= 0) vars.push_back(s);
    std::vector<const Symbol*> bufs = buffers_in_scope();
    const int n = 2 + static_cast<int>(below(2));
    std::string lhs, rhs;
    for (int k = 0; k < n; ++k) {
      int t;
      std::string target;
      const int pick = static_cast<int>(below(10));
      if (pick < 5 && !vars.empty()) {
        const Symbol* v = vars[below(vars.size())];
        target = v->name, t = v->type;
      } else if (pick < 8 && !bufs.empty()) {
        const Symbol* b = bufs[below(bufs.size())];
        target = b->name + "[" + index(b, 2).text + "]", t = 5;
        features.insert("buffer byte in a tuple assignment");
      } else {
        target = "_", t = any_type();
      }
      lhs += (k ? ", " : "") + target;
      rhs += (k ? ", " : "") + expr(t, 2, target == "_", false).text;
    }
    features.insert("tuple assignment");
    emit_line(lhs + " = " + rhs);
  }

  void discard() {
    const int t = any_type();
    const int form = static_cast<int>(below(3));
    features.insert("discarded value");
    if (form == 0) emit_line("_ = " + expr(t, 3, true, false).text);
    else if (form == 1) emit_line("var _ = " + expr(t, 3, true, false).text);
    else emit_line("var _ " + spell(t) + " = " + expr(t, 3, false, false).text);
  }

  void buffer_declaration() {
    const std::string a = fresh_name();
    if (a.empty()) return print();
    static const int lengths[] = {1, 2, 4, 8, 16, 64};
    const int len = lengths[below(6)];
    emit_line("var " + a + " [" + std::to_string(len) + "]byte");
    declare({Symbol::buffer, a, 5, false, 0, len});
    features.insert("buffer");
  }

  void buffer_store() {
    std::vector<const Symbol*> bufs = buffers_in_scope();
    if (bufs.empty()) return buffer_declaration();
    const Symbol* b = bufs[below(bufs.size())];
    emit_line(b->name + "[" + index(b, 2).text + "] = " + expr(5, 2, false, false).text);
    features.insert("buffer store");
  }

  void print() {
    const int n = 1 + static_cast<int>(below(3));
    std::string format = std::to_string(++prints_) + ":", args;
    for (int k = 0; k < n; ++k) {
      const int t = any_type();
      format += types[t].is_signed ? " %d" : chance(30) ? " %x" : " %u";
      args += ", " + expr(t, 3, true, false).text;
    }
    emit_line("runtime.Printf(\"" + format + "\\n\"" + args + ")");
  }

  void call_statement() {
    if (auto call = user_call(-3, 2)) {
      emit_line(call->text);
      features.insert("call statement");
      return;
    }
    const int t = any_type();
    emit_line(side_effect(t, expr(t, 2, false, false)).text);
  }

  void local_constants() {
    const std::string a = fresh_name();
    if (a.empty()) return print();
    const int t = any_type();
    const i128 v = constant(t);
    features.insert("local constant");
    if (chance(50)) {  // typed, or untyped
      emit_line("const " + a + " " + spell(t) + " = " + decimal(v));
      declare({Symbol::constant, a, t, false, v});
      return;
    }
    // const a, b = v, c: the c read is the one outside (a spec's names are in scope after it)
    scopes_.back().push_back({Symbol::constant, a, untyped, false, 0});  // reserve a while b is chosen
    std::string b = fresh_name();
    scopes_.back().pop_back();
    std::vector<const Symbol*> outer;  // (pointers into scopes_: taken after the push and pop)
    for (const Symbol* s : visible())
      if (s->kind == Symbol::constant && s->type == untyped) outer.push_back(s);
    if (b.empty() || outer.empty()) {
      emit_line("const " + a + " = " + decimal(v));
      declare({Symbol::constant, a, untyped, false, v});
      return;
    }
    const Symbol* c = outer[below(outer.size())];
    const i128 cv = c->value;
    emit_line("const " + a + ", " + b + " = " + decimal(v) + ", " + c->name);
    declare({Symbol::constant, a, untyped, false, v});
    declare({Symbol::constant, b, untyped, false, cv});
    features.insert("const a, b = v, outer");
  }

  void if_statement(int depth) {
    features.insert("if");
    scopes_.emplace_back();  // the if's own scope, for an init statement
    std::string head = "if ";
    Ex cond;
    const std::string v = chance(30) ? fresh_name() : "";
    if (!v.empty()) {  // if v := e; v < f { ... }
      const int t = any_type();
      head += v + " := " + expr(t, 2, true, false).text + "; ";
      declare({Symbol::variable, v, t});
      cond = comparison(t, 2, Ex{v, 6, false, true}, t);
      features.insert("if with init");
    } else {
      cond = condition(2);
    }
    emit_line(head + cond.text + " {");
    nested_block(1 + static_cast<int>(below(3)), depth - 1);
    while (chance(35)) {
      emit_line("} else if " + condition(2).text + " {");
      features.insert("else if");
      nested_block(1 + static_cast<int>(below(2)), depth - 1);
    }
    if (chance(50)) {
      emit_line("} else {");
      nested_block(1 + static_cast<int>(below(3)), depth - 1);
    }
    emit_line("}");
    scopes_.pop_back();
  }

  void for_loop(int depth) {
    features.insert("for");
    const std::string i = "i" + std::to_string(++labels_);
    const int n = 1 + static_cast<int>(below(4));
    emit_line(i + " := 0");
    declare({Symbol::variable, i, 4, false});
    const bool forever = chance(30);
    std::string cond = i + " < " + std::to_string(n);
    if (chance(30)) {  // a condition with calls in it, evaluated on every iteration
      cond = binary("&&", Ex{cond, 3, false, true}, condition(1)).text;
      features.insert("for condition with calls");
    }
    emit_line(forever ? "for {" : "for " + cond + " {");
    ++indent_;
    emit_line(i + "++");
    if (forever) {
      emit_line("if " + i + " > " + std::to_string(n) + " {");
      emit_line("\tbreak");
      emit_line("}");
    }
    --indent_;
    ++loops_;
    const bool was = in_for_;
    in_for_ = true;
    nested_block(1 + static_cast<int>(below(4)), depth - 1);
    in_for_ = was;
    --loops_;
    emit_line("}");
  }

  void loop_exit() {
    features.insert("break/continue");
    emit_line("if " + condition(1).text + " {");
    emit_line(chance(50) ? "\tbreak" : "\tcontinue");
    emit_line("}");
  }

  // A loop made of a label and a backward goto; the body is a block of its own.
  void goto_loop(int depth) {
    features.insert("goto");
    const int id = ++labels_;
    const std::string g = "g" + std::to_string(id), label = "L" + std::to_string(id);
    emit_line(g + " := 0");
    declare({Symbol::variable, g, 4, false});
    emit_line(label + ":");
    emit_line(g + "++");
    emit_line("{");
    ++loops_;
    const bool was = in_for_;
    in_for_ = false;  // a break here would leave an enclosing for
    nested_block(1 + static_cast<int>(below(3)), depth - 1);
    in_for_ = was;
    --loops_;
    emit_line("}");
    emit_line("if " + g + " < " + std::to_string(1 + below(3)) + " {");
    emit_line("\tgoto " + label);
    emit_line("}");
  }

  void early_return() {
    features.insert("early return");
    emit_line("if " + condition(1).text + " {");
    if (result_ == none) emit_line("\treturn");
    else if (named_result_ && chance(50)) emit_line("\treturn");
    else emit_line("\treturn " + expr(result_, 2, false, false).text);
    emit_line("}");
  }

  // ---- functions -------------------------------------------------------------------------------
  static constexpr int none = -3, no_function = -4;
  struct Signature {
    std::string name;
    std::vector<int> params;
    bool unnamed = false;  // func f(int64, uint8)
    int result = none;
    bool named_result = false;
  };
  std::vector<Signature> funcs_;
  int current_ = -1;  // the function being written (-1: main): it calls only later ones

  void plan_function(int k) {
    Signature s;
    s.name = "fn" + std::to_string(k);
    const int n = static_cast<int>(below(7));
    for (int p = 0; p < n; ++p) s.params.push_back(any_type());
    s.unnamed = n > 0 && chance(10);
    s.result = chance(20) ? none : any_type();
    s.named_result = s.result != none && chance(25);
    funcs_.push_back(s);
  }

  // A call of a later function with result t (-3: any, for a statement).
  std::optional<Ex> user_call(int t, int depth) {
    std::vector<int> ok;  // main (current_ -1) may call any function
    for (int k = current_ + 1; k < static_cast<int>(funcs_.size()); ++k)
      if (t == -3 || funcs_[k].result == t) ok.push_back(k);
    if (ok.empty()) return std::nullopt;
    const Signature& f = funcs_[ok[below(ok.size())]];
    std::string text = f.name + "(";
    for (std::size_t p = 0; p < f.params.size(); ++p) text += (p ? ", " : "") + expr(f.params[p], depth - 1, false, false).text;
    features.insert("call of a program function");
    return Ex{text + ")", 6, false, true};
  }

  void function(int k) {
    const Signature& f = funcs_[k];
    current_ = k;
    scopes_.assign(1, {});
    std::string params;
    for (std::size_t p = 0; p < f.params.size(); ++p) {
      if (f.unnamed) {
        params += (p ? ", " : "") + spell(f.params[p]);
        continue;
      }
      const std::string name = "p" + std::to_string(p);
      params += (p ? ", " : "") + name + " " + spell(f.params[p]);
      declare({Symbol::variable, name, f.params[p]});
    }
    if (f.unnamed) features.insert("unnamed parameters");
    std::string result;
    if (f.named_result) {
      result = " (res " + spell(f.result) + ")";
      declare({Symbol::variable, "res", f.result});
      features.insert("named result");
    } else if (f.result != none) {
      result = " " + spell(f.result);
    }
    emit_line("");
    emit_line("func " + f.name + "(" + params + ")" + result + " {");
    ++indent_;
    result_ = f.result;
    named_result_ = f.named_result;
    budget_ = 12;
    scopes_.emplace_back();
    block_body(3 + static_cast<int>(below(6)), 2);
    scopes_.pop_back();
    if (f.result != none) {
      if (f.named_result && chance(50)) emit_line("return");
      else emit_line("return " + expr(f.result, 3, false, false).text);
    }
    --indent_;
    emit_line("}");
  }

  // ep, en := runtime.EmbedBytes(...) / var ep, en = runtime.EmbedString("..."): 16 bytes.
  void embed() {
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string call;
    if (chance(50)) {
      call = "runtime.EmbedBytes(";
      for (int k = 0; k < 16; ++k) call += (k ? ", " : "") + std::to_string(below(256));
      call += ")";
    } else {
      call = "runtime.EmbedString(\"";
      for (int k = 0; k < 16; ++k) call += letters[below(sizeof letters - 1)];
      call += "\")";
    }
    emit_line(chance(50) ? "ep, en := " + call : "var ep, en = " + call);
    declare({Symbol::embedded, "ep", 10, false, 0, 16});
    declare({Symbol::variable, "en", 3, false});
    features.insert("embedded bytes");
  }

  void main_function() {
    current_ = -1;
    result_ = none;
    named_result_ = false;
    scopes_.assign(1, {});
    emit_line("");
    emit_line("func main() {");
    ++indent_;
    budget_ = 60;
    if (chance(50)) embed();
    block_body(12 + static_cast<int>(below(12)), 3);
    emit_line("runtime.Syscall(runtime.SYS_EXIT_GROUP, " + expr(3, 2, true, false).text + ")");
    --indent_;
    emit_line("}");
  }

  std::uint64_t state_;
  std::string out_;
  int indent_ = 0;
  int budget_ = 0;  // statements left for this function
  int calls_ = 0, prints_ = 0, labels_ = 0, loops_ = 0;
  bool in_for_ = false;
  int result_ = no_function;
  bool named_result_ = false;
};

}  // namespace crumble::rtg_test
