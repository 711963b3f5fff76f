// SPDX-License-Identifier: Apache-2.0
// src/rtg/translate.cpp — see translate.hpp.
//
// Two passes over the syntax tree, as the spec's pipeline says: the first collects the
// functions' signatures and the package's constants (so they may be used before they are
// declared), the second translates each function body into IR, checking types on the way.
//
// Values. A Value is either a constant (folded here, in 128-bit arithmetic so that overflow of
// any 64-bit type is seen) or run-time IR: an ir::Expr, or an ir::Cond for a bool that came
// from a comparison (so `if a < b` branches without materialising 0/1).
//
// Narrow integers. Every run-time value of an N-bit type is kept in its 64-bit register
// sign-extended (signed types) or zero-extended (unsigned types). Operations that keep that
// form (comparisons, & | ^ on the same type, unsigned / %, >>) need nothing; those that can
// carry out of N bits (+ - * << unary -, signed /) are re-extended. Conversions re-extend only
// when the source's range does not fit the target's.
#include <crumble/rtg/translate.hpp>

#include <algorithm>
#include <climits>
#include <deque>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <crumble/ir/build.hpp>

#include <crumble/rtg/constants.hpp>
#include <crumble/rtg/parser.hpp>

namespace crumble::rtg {
namespace {

using i128 = __int128;
using ir::Expr;
using ir::Cond;

// ---- types --------------------------------------------------------------------------------

enum class T : std::uint8_t {
  none, i8, i16, i32, i64, int_, u8, u16, u32, u64, uint_, uintptr, bool_, string,
  untyped_int, untyped_rune, untyped_bool, untyped_string, buffer, syscall,
};

struct Type {
  T t = T::none;
  std::int64_t len = 0;  // [len]byte
  bool operator==(const Type&) const = default;
};

constexpr bool is_integer(T t) { return t >= T::i8 && t <= T::uintptr; }
constexpr bool is_signed(T t) { return t >= T::i8 && t <= T::int_; }
constexpr bool is_untyped(T t) { return t >= T::untyped_int && t <= T::untyped_string; }
constexpr bool is_untyped_number(T t) { return t == T::untyped_int || t == T::untyped_rune; }
constexpr bool is_boolean(T t) { return t == T::bool_ || t == T::untyped_bool; }
constexpr bool is_stringy(T t) { return t == T::string || t == T::untyped_string; }
constexpr int bits(T t) {
  switch (t) {
    case T::i8: case T::u8: return 8;
    case T::i16: case T::u16: return 16;
    case T::i32: case T::u32: return 32;
    default: return 64;
  }
}

struct NamedType {
  std::string_view name;
  T t;
};
constexpr NamedType basic_types[] = {
    {"int8", T::i8}, {"int16", T::i16}, {"int32", T::i32}, {"int64", T::i64}, {"int", T::int_},
    {"uint8", T::u8}, {"uint16", T::u16}, {"uint32", T::u32}, {"uint64", T::u64}, {"uint", T::uint_},
    {"uintptr", T::uintptr}, {"byte", T::u8}, {"rune", T::i32}, {"bool", T::bool_}, {"string", T::string},
};

std::string type_name(Type ty) {
  switch (ty.t) {
    case T::none: return "no value";
    case T::untyped_int: return "untyped int";
    case T::untyped_rune: return "untyped rune";
    case T::untyped_bool: return "untyped bool";
    case T::untyped_string: return "untyped string";
    case T::buffer: return "[" + std::to_string(ty.len) + "]byte";
    case T::syscall: return "syscall name";
    default:
      for (const NamedType& n : basic_types)
        if (n.t == ty.t) return std::string(n.name);
      return "?";
  }
}

// The default type an untyped constant takes in a declaration (x := 1 is an int).
Type default_type(Type ty) {
  switch (ty.t) {
    case T::untyped_int: return {T::int_};
    case T::untyped_rune: return {T::i32};
    case T::untyped_bool: return {T::bool_};
    case T::untyped_string: return {T::string};
    default: return ty;
  }
}

i128 min_of(T t) { return is_signed(t) ? -(i128{1} << (bits(t) - 1)) : 0; }
i128 max_of(T t) { return is_signed(t) ? (i128{1} << (bits(t) - 1)) - 1 : (i128{1} << bits(t)) - 1; }

std::string to_string(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  unsigned __int128 u = neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string s;
  while (u) s += static_cast<char>('0' + static_cast<int>(u % 10)), u /= 10;
  if (neg) s += '-';
  std::reverse(s.begin(), s.end());
  return s;
}

// ---- values -------------------------------------------------------------------------------

struct Value {
  Type type;
  bool is_const = false;
  i128 c = 0;                // integer or bool constant
  std::string s;             // string constant
  std::optional<Expr> e;     // run-time value
  std::optional<Cond> cond;  // run-time bool, as a condition
  // An untyped value that is not constant: a shift of an untyped constant by a run-time count
  // (1 << s), or an operation on one. Go gives it the type its context wants (var x int64 = 1 << s
  // shifts an int64; x := 1 << s an int), so it is built only when that type is known: `typed(T)`
  // is the value as a T. type is untyped_int or untyped_rune.
  std::shared_ptr<const std::function<Value(Type)>> typed;
};

Value constant(Type t, i128 c) {
  Value v;
  v.type = t;
  v.is_const = true;
  v.c = c;
  return v;
}
Value runtime_value(Type t, Expr e) {
  Value v;
  v.type = t;
  v.e = std::move(e);
  return v;
}

// An untyped value built when its context gives it a type (Value::typed).
template <class F>
Value pending(Type untyped, F build) {
  Value v;
  v.type = untyped;
  v.typed = std::make_shared<const std::function<Value(Type)>>(std::move(build));
  return v;
}

// Untyped constants are exact while their magnitude stays below 2^126, so that + - and one
// doubling of any two of them fit the 128-bit arithmetic that folds them. (Go keeps at least
// 256 bits; gc 512. docs/rtg.md says so.)
constexpr int constant_bits = 126;
constexpr i128 constant_limit = i128{1} << constant_bits;

Expr lit(i128 v) { return ir::Int64{static_cast<std::int64_t>(static_cast<std::uint64_t>(v))}; }

// Re-extends a 64-bit result to the canonical form of t.
Expr normalize(Expr e, T t) {
  int b = bits(t);
  if (b == 64) return e;
  if (is_signed(t)) return ir::sar(std::move(e) << (64 - b), ir::Expr(64 - b));
  return std::move(e) & lit((i128{1} << b) - 1);
}

// True when an expression has no calls or syscalls, so evaluating it twice, or not at all, is
// harmless.
bool pure(const Cond& c);
bool pure(const Expr& e) {
  return ir::visit(
      [](const auto& n) -> bool {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (std::is_same_v<N, ir::Call> || std::is_same_v<N, ir::Syscall>) return false;
        else if constexpr (std::is_same_v<N, ir::Op>) return pure(n.lhs) && pure(n.rhs);
        else if constexpr (std::is_same_v<N, ir::MemVar>) return pure(n.base);
        else if constexpr (std::is_same_v<N, ir::CondValue>) return pure(n.cond);
        else return true;
      },
      e);
}
bool pure(const Cond& c) {
  return ir::visit(
      [](const auto& n) -> bool {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (std::is_same_v<N, ir::Compare>) return pure(n.lhs) && pure(n.rhs);
        else if constexpr (std::is_same_v<N, ir::IsZero> || std::is_same_v<N, ir::IsNegative>) return pure(n.value);
        else if constexpr (std::is_same_v<N, ir::Not>) return pure(n.cond);
        else return pure(n.lhs) && pure(n.rhs);  // And, Or
      },
      c);
}

// ---- symbols ------------------------------------------------------------------------------

struct Symbol {
  enum class What : std::uint8_t { var, constant, buffer } what;
  std::string_view name;
  Type type;
  std::string_view ir;  // the IR variable or buffer
  Value value;          // constants
  Pos pos;
  bool used = false;
};

struct Func {
  const Node* node;
  std::string_view name;
  std::vector<std::pair<std::string_view, Type>> params;
  Type result;                   // T::none: no result
  std::string_view result_name;  // a named result (func f() (r int64)); empty: unnamed
};

struct GlobalConst {
  const Node* node;
  enum class State : std::uint8_t { pending, evaluating, done } state = State::pending;
  Value value;
};

constexpr std::string_view runtime_functions[] = {
    "Syscall", "Load8", "Load16", "Load32", "Load64", "Store8", "Store16", "Store32", "Store64", "Printf",
    "EmbedString", "EmbedCString", "EmbedBytes", "Call", "ISB", "CacheFlush", "Ifdef", "Config"};

class Translator {
 public:
  Translator(const Source& s, const Options& o, const File& f) : src_(s), opt_(o), file_(f) {}

  Translation run() {
    collect();
    // main first: the IR's entry point is its first function.
    for (const Func& f : funcs_)
      if (f.name == "main") function(f);
    for (const Func& f : funcs_)
      if (f.name != "main") function(f);
    for (ir::Function& f : helpers_) out_.program.functions.push_back(std::move(f));
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(Pos at, std::string msg, std::string hint = {}) const {
    throw Error(src_, at, std::move(msg), std::move(hint));
  }

  std::string_view intern(std::string_view s) {
    out_.strings.push_back(std::make_unique<std::string>(s));
    return *out_.strings.back();
  }

  // ---- pass 1: signatures and package constants -------------------------------------------
  void collect() {
    auto taken = [&](std::string_view name, Pos at) {
      if (func_index_.count(name)) fail(at, std::string(name) + " redeclared in this file");
      if (global_consts_.count(std::string(name))) fail(at, std::string(name) + " redeclared in this file");
    };
    for (const Node* c : file_.consts) {
      if (c->text == "_") continue;  // evaluated below, never referred to
      taken(c->text, c->pos);
      global_consts_.emplace(std::string(c->text), GlobalConst{c, GlobalConst::State::pending, {}});
    }
    bool has_main = false;
    for (const Node* fn : file_.funcs) {
      taken(fn->text, fn->pos);
      if (fn->text.starts_with("__crumble")) fail(fn->pos, "names starting with __crumble are reserved");
      if (fn->text == "init") fail(fn->pos, "init functions are not supported", "call the function from main");
      Func f{fn, intern(fn->text), {}, {}, {}};
      const std::size_t n = static_cast<std::size_t>(fn->value);
      // Past the ABI's argument registers the lowering passes arguments on the stack, up to its limit.
      if (n > ir::max_call_arguments)
        fail(fn->kids[ir::max_call_arguments]->pos,
             "function " + std::string(fn->text) + " has " + std::to_string(n) + " parameters; functions take at most " +
                 std::to_string(ir::max_call_arguments),
             "pass more through a buffer");
      for (std::size_t k = 0; k < n; ++k) {
        const Node* p = fn->kids[k];
        Type ty = type_of(p->kids[0]);
        if (ty.t == T::buffer) fail(p->kids[0]->pos, "buffers cannot be parameters", "pass the address: f(&buf) with a uintptr parameter");
        for (auto& [name, t] : f.params)
          if (name == p->text && name != "_") fail(p->pos, "duplicate parameter " + std::string(name));
        f.params.emplace_back(p->text, ty);
      }
      if (const Node* r = fn->kids[n]) {
        f.result = type_of(r->kind == Kind::param ? r->kids[0] : r);
        if (f.result.t == T::buffer) fail(r->pos, "functions cannot return buffers", "return an address (uintptr)");
        if (r->kind == Kind::param) {
          for (auto& [name, t] : f.params)
            if (name == r->text && name != "_") fail(r->pos, "duplicate argument " + std::string(name));
          f.result_name = intern(r->text);
        }
      }
      if (fn->text == "main") {
        has_main = true;
        static constexpr T want[] = {T::i64, T::uintptr, T::uintptr};
        for (std::size_t k = 0; k < f.params.size(); ++k)
          if (k >= 3 || f.params[k].second.t != want[k])
            fail(fn->kids[k]->pos, "main takes no parameters, or (argc int64, argv uintptr, envp uintptr)");
        if (f.result.t != T::none && f.result.t != T::i64)
          fail(fn->kids[n]->pos, "main returns nothing or an int64 exit status");
      }
      func_index_.emplace(f.name, funcs_.size());
      funcs_.push_back(std::move(f));
    }
    if (!has_main) fail(static_cast<Pos>(src_.text.size()), "function main is undeclared", "add func main() { ... }");
    // Every package constant is checked, used or not, as Go does (in source order, each one's
    // dependencies first).
    for (const Node* c : file_.consts) {
      if (c->text == "_") const_value(c);
      else global_const(global_consts_.at(std::string(c->text)));
    }
  }

  Type type_of(const Node* n) {
    if (n->kind == Kind::name) {
      for (const NamedType& b : basic_types)
        if (b.name == n->text) return {b.t};
      if (n->text == "float32" || n->text == "float64" || n->text == "complex64" || n->text == "complex128")
        fail(n->pos, "floating-point types are not supported", "RTG has integers only");
      if (n->text == "any" || n->text == "error") fail(n->pos, "interfaces are not supported", "RTG has integer, bool, string and [N]byte types only");
      fail(n->pos, "undefined type " + std::string(n->text), "RTG types: int8..int64, uint8..uint64, int, uint, uintptr, byte, bool, string, [N]byte");
    }
    if (n->kind == Kind::array_type) {
      Type elem = type_of(n->kids[1]);
      if (elem.t != T::u8) fail(n->kids[1]->pos, "arrays of " + type_name(elem) + " are not supported", "buffers are [N]byte; read wider values with runtime.Load32 etc.");
      Value len = expr(n->kids[0]);
      if (!len.is_const || !(is_integer(len.type.t) || is_untyped_number(len.type.t)))
        fail(n->kids[0]->pos, "buffer length must be an integer constant");
      if (len.c <= 0 || len.c > (1 << 20))
        fail(n->kids[0]->pos, "buffer length " + to_string(len.c) + " out of range", "buffers hold 1 byte to 1 MiB (they live on the stack)");
      return {T::buffer, static_cast<std::int64_t>(len.c)};
    }
    fail(n->pos, "not a type");
  }

  // ---- pass 2: functions -------------------------------------------------------------------
  void function(const Func& f) {
    fn_ = &f;
    scopes_.clear();
    ir_names_.clear();
    buffers_.clear();
    labels_.clear();
    gotos_.clear();
    loops_ = 0;
    temps_ = 0;
    push_scope();
    ir::Function out{f.name};
    for (auto& [name, ty] : f.params) {
      std::string_view ir_name = name == "_" ? fresh_temp() : declare(name, Symbol::What::var, ty, f.node->pos).ir;
      out.params.push_back(ir_name);
      if (name != "_") scopes_.back().back().used = true;  // Go does not require parameters to be used
    }
    result_ir_ = {};
    if (!f.result_name.empty()) {  // a named result: a variable, zero at first, that `return` returns
      if (f.result_name == "_") result_ir_ = fresh_temp();
      else {
        Symbol& r = declare(f.result_name, Symbol::What::var, f.result, f.node->pos);
        r.used = true;
        result_ir_ = r.ir;
      }
      out.body.push_back(ir::Assign{ir::Var{result_ir_}, 0});
    }
    const Node* body = f.node->kids.back();
    if (f.result.t != T::none && !terminates(body))
      fail(static_cast<Pos>(body->value), "missing return", "end " + std::string(f.name) + " with a return statement");
    block_contents(body, out.body);
    pop_scope();
    for (auto& [label, at] : gotos_)
      if (!labels_.count(label)) fail(at, "label " + label + " not defined");
    for (auto& [label, info] : labels_)
      if (!info.second) fail(info.first, "label " + label + " defined and not used");
    out.buffers = std::move(buffers_);
    out_.program.functions.push_back(std::move(out));
  }

  // Go's terminating statements, for "missing return".
  static bool terminates(const Node* s) {
    switch (s->kind) {
      case Kind::return_stmt: case Kind::goto_stmt: return true;
      case Kind::block: return !s->kids.empty() && s->text != "decls" && terminates(s->kids.back());
      case Kind::if_stmt: return s->kids[3] && terminates(s->kids[2]) && terminates(s->kids[3]);
      case Kind::for_stmt: return !s->kids[0] && !breaks(s->kids[1]);
      case Kind::labeled: return terminates(s->kids[0]);
      case Kind::expr_stmt: {  // a call of runtime exit does not count, as in Go
        return false;
      }
      default: return false;
    }
  }
  static bool breaks(const Node* s) {  // a break that leaves this loop (not one of a nested loop)
    if (s->kind == Kind::break_stmt) return true;
    if (s->kind == Kind::for_stmt) return false;
    for (const Node* k : s->kids)
      if (k && k->kind >= Kind::block && breaks(k)) return true;
    return false;
  }

  // ---- scopes ------------------------------------------------------------------------------
  void push_scope() { scopes_.emplace_back(); }
  void pop_scope() {
    for (const Symbol& s : scopes_.back())
      if (s.what == Symbol::What::var && !s.used && s.name != "_")
        fail(s.pos, "declared and not used: " + std::string(s.name), "use it, or remove it (assign to _ to discard a value)");
    scopes_.pop_back();
  }

  static std::string count(std::size_t n, const char* noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

  std::string_view fresh_temp() { return intern("." + std::to_string(temps_++)); }

  Symbol& declare(std::string_view name, Symbol::What what, Type ty, Pos at) {
    for (const Symbol& s : scopes_.back())
      if (s.name == name) fail(at, std::string(name) + " redeclared in this block");
    std::string_view ir_name;
    if (what != Symbol::What::constant) {
      // Go allows shadowing; the IR has one namespace per function, so later declarations of
      // a name get a suffix no Go identifier can have.
      int& n = ir_names_[std::string(name)];
      ir_name = n == 0 ? intern(name) : intern(std::string(name) + "." + std::to_string(n));
      ++n;
    }
    scopes_.back().push_back(Symbol{what, intern(name), ty, ir_name, {}, at});
    return scopes_.back().back();
  }

  Symbol* lookup(std::string_view name) {
    for (auto s = scopes_.rbegin(); s != scopes_.rend(); ++s)
      for (auto it = s->rbegin(); it != s->rend(); ++it)
        if (it->name == name) return &*it;
    return nullptr;
  }

  // The names a skipped (compile-time false) branch refers to count as used, as they would in Go.
  void mark_used(const Node* n) {
    if (!n) return;
    if (n->kind == Kind::name)
      if (Symbol* s = lookup(n->text)) s->used = true;
    if (n->kind == Kind::goto_stmt) {
      auto it = labels_.find(std::string(n->text));
      if (it != labels_.end()) it->second.second = true;
      else skipped_gotos_.insert(std::string(n->text));
    }
    for (const Node* k : n->kids) mark_used(k);
  }

  // ---- statements --------------------------------------------------------------------------
  void block_contents(const Node* b, ir::Block& out) {
    for (const Node* s : b->kids) stmt(s, out);
  }

  void stmt(const Node* s, ir::Block& out) {
    switch (s->kind) {
      case Kind::block:
        if (s->text == "decls") {  // const and var declarations, in the enclosing scope
          for (const Node* d : s->kids) {
            if (d->kind == Kind::const_decl) local_consts({d});
            else if (d->kind == Kind::block) local_consts({d->kids.begin(), d->kids.end()});  // const a, b = ...: one spec
            else var_decl(d, out);
          }
        } else {
          push_scope();
          block_contents(s, out);
          pop_scope();
        }
        return;
      case Kind::empty: return;
      case Kind::expr_stmt: return expr_stmt(s->kids[0], out);
      case Kind::var_decl: return var_decl(s, out);
      case Kind::define: return define(s, out);
      case Kind::assign: return assign(s, out);
      case Kind::inc_dec: return op_assign(s->kids[0], s->text == "++" ? "+" : "-", nullptr, s->pos, out);
      case Kind::if_stmt: return if_stmt(s, out);
      case Kind::for_stmt: return for_stmt(s, out);
      case Kind::break_stmt:
        if (!loops_) fail(s->pos, "break is not in a loop");
        out.push_back(ir::Break{});
        return;
      case Kind::continue_stmt:
        if (!loops_) fail(s->pos, "continue is not in a loop");
        out.push_back(ir::Continue{});
        return;
      case Kind::goto_stmt:
        gotos_.emplace_back(std::string(s->text), s->pos);
        if (auto it = labels_.find(std::string(s->text)); it != labels_.end()) it->second.second = true;
        out.push_back(ir::Goto{intern(s->text)});
        return;
      case Kind::labeled: {
        std::string name(s->text);
        if (labels_.count(name)) fail(s->pos, "label " + name + " already defined");
        bool used = skipped_gotos_.count(name) > 0;
        for (auto& [label, at] : gotos_)
          if (label == name) used = true;
        labels_.emplace(name, std::pair<Pos, bool>{s->pos, used});
        out.push_back(ir::Label{intern(s->text)});
        stmt(s->kids[0], out);
        return;
      }
      case Kind::return_stmt: return return_stmt(s, out);
      default: fail(s->pos, "not a statement");
    }
  }

  // The constants of one spec: every value first, then the names, since a name's scope begins
  // at the end of its spec (inside `const c, d = c + 1, c` both c are the outer one).
  void local_consts(const std::vector<const Node*>& spec) {
    std::vector<Value> values;
    for (const Node* c : spec) values.push_back(const_value(c));
    for (std::size_t k = 0; k < spec.size(); ++k) {
      if (spec[k]->text == "_") continue;
      Symbol& sym = declare(spec[k]->text, Symbol::What::constant, values[k].type, spec[k]->pos);
      sym.value = std::move(values[k]);
    }
  }

  // Evaluates a const_decl node: its expression with its iota, converted to its type if given.
  Value const_value(const Node* c) {
    i128 saved = iota_;
    iota_ = static_cast<i128>(c->value);
    Value v = expr(c->kids[2]);
    iota_ = saved;
    if (!v.is_const) fail(c->kids[2]->pos, "value of constant " + std::string(c->text) + " is not constant", "use a variable: x := ...");
    if (c->kids[1]) {
      Type ty = type_of(c->kids[1]);
      if (ty.t == T::buffer) fail(c->kids[1]->pos, "constants cannot be buffers");
      v = assignable(std::move(v), ty, c->kids[2]->pos, "constant declaration");
    }
    return v;
  }

  void expr_stmt(const Node* e, ir::Block& out) {
    const Node* x = e;
    while (x->kind == Kind::paren) x = x->kids[0];
    if (x->kind != Kind::call) fail(e->pos, "expression is not used", "only calls can stand alone as statements");
    Value v = call(x, &out);
    if (v.type.t == T::none && !v.e) return;  // a statement-only runtime call, already emitted
    if (v.is_const || !v.e) fail(e->pos, "value is not used", "only calls of functions can stand alone");
    if (const auto* c = ir::get_if<ir::Call>(*v.e)) out.push_back(*c);
    else if (const auto* sc = ir::get_if<ir::Syscall>(*v.e)) out.push_back(*sc);
    else fail(e->pos, "value is not used", "conversions and builtins cannot stand alone");
  }

  // Emits one var spec: `var x T = e`, `var a, b = e1, e2`, `var p, n = runtime.EmbedString(...)`,
  // `var buf [N]byte`. Every value is evaluated before any of the names is in scope (inside
  // `var x, y = y, x` the x and y read are the outer ones), then the names are declared.
  void var_decl(const Node* s, ir::Block& out) {
    const std::size_t n = static_cast<std::size_t>(s->value);
    std::vector<const Node*> names(s->kids.begin(), s->kids.begin() + static_cast<std::ptrdiff_t>(n));
    const Node* type = s->kids[n];
    std::vector<const Node*> exprs(s->kids.begin() + static_cast<std::ptrdiff_t>(n) + 1, s->kids.end());
    const Type ty = type ? type_of(type) : Type{};
    if (ty.t == T::buffer) {
      if (!exprs.empty()) fail(exprs[0]->pos, "buffers cannot be initialised", "store the bytes after the declaration");
      for (const Node* name : names) {
        if (name->text == "_") continue;  // var _ [N]byte: nothing to hold
        Symbol& b = declare(name->text, Symbol::What::buffer, ty, name->pos);
        b.used = true;  // Go does not flag unused arrays either way we index them
        buffers_.push_back(ir::Buffer{b.ir, ty.len});
        zero_buffer(b.ir, ty.len, out);
      }
      return;
    }
    if (exprs.empty()) {  // var a, b T: zero
      for (const Node* name : names) {
        if (name->text == "_") continue;
        Symbol& v = declare(name->text, Symbol::What::var, ty, name->pos);
        out.push_back(ir::Assign{ir::Var{v.ir}, 0});
      }
      return;
    }
    std::vector<Value> values = rhs_values(n, exprs, s->pos);
    std::vector<std::pair<Expr, Type>> ready = evaluate_all(values, std::vector<Type>(n, ty), exprs, out, "variable declaration");
    for (std::size_t k = 0; k < n; ++k) {
      if (names[k]->text == "_") {
        evaluate_for_effects(std::move(ready[k].first), out);
        continue;
      }
      Symbol& v = declare(names[k]->text, Symbol::What::var, ready[k].second, names[k]->pos);
      out.push_back(ir::Assign{ir::Var{v.ir}, std::move(ready[k].first)});
    }
  }

  // A value that is discarded (_ = e, var _ = e) is still evaluated, for the calls in it.
  void evaluate_for_effects(Expr e, ir::Block& out) {
    if (pure(e)) return;
    if (const auto* c = ir::get_if<ir::Call>(e)) out.push_back(*c);
    else if (const auto* sc = ir::get_if<ir::Syscall>(e)) out.push_back(*sc);
    else out.push_back(ir::Assign{ir::Var{fresh_temp()}, std::move(e)});
  }

  Type declared_type(const Value& v, Pos at) {
    if (v.type.t == T::none) fail(at, "expression has no value", "the function returns nothing");
    if (v.type.t == T::syscall) fail(at, "a syscall name is not a value", "pass it to runtime.Syscall");
    if (v.type.t == T::untyped_int && (v.c < INT64_MIN || v.c > INT64_MAX))
      fail(at, "constant " + to_string(v.c) + " overflows int", "convert it: uint64(...)");
    return default_type(v.type);
  }

  // Stores zeros over a new buffer, as Go zero-initialises arrays.
  void zero_buffer(std::string_view buf, std::int64_t len, ir::Block& out) {
    const std::int64_t words = len / 8;
    if (words <= 8) {
      for (std::int64_t k = 0; k < words; ++k) out.push_back(ir::store(ir::BufferAddr{buf}, 8 * k, 64, 0));
    } else {
      std::string_view i = fresh_temp();
      out.push_back(ir::Assign{ir::Var{i}, 0});
      out.push_back(ir::While{ir::Var{i} < lit(8 * words),
                              {ir::store(ir::BufferAddr{buf} + ir::Var{i}, 0, 64, 0), ir::Assign{ir::Var{i}, ir::Var{i} + 8}}});
    }
    for (std::int64_t k = 8 * words; k < len; ++k) out.push_back(ir::store(ir::BufferAddr{buf}, k, 8, 0));
  }

  // The runtime.Embed* calls yield two values: address and length.
  const Node* embed_call(const Node* n) {
    while (n->kind == Kind::paren) n = n->kids[0];
    if (n->kind != Kind::call) return nullptr;
    std::string_view f = runtime_member(n->kids[0]);
    return f == "EmbedString" || f == "EmbedCString" || f == "EmbedBytes" ? n : nullptr;
  }

  std::pair<Value, Value> embed(const Node* c) {
    std::string_view f = runtime_member(c->kids[0]);
    std::string bytes;
    if (f == "EmbedBytes") {
      for (std::size_t k = 1; k < c->kids.size(); ++k) {
        Value b = expr(c->kids[k]);
        if (!b.is_const || !(is_integer(b.type.t) || is_untyped_number(b.type.t)) || b.c < 0 || b.c > 255)
          fail(c->kids[k]->pos, "runtime.EmbedBytes takes constant bytes (0..255)");
        bytes += static_cast<char>(b.c);
      }
    } else {
      if (c->kids.size() != 2) fail(c->pos, "runtime." + std::string(f) + " takes one constant string");
      Value s = expr(c->kids[1]);
      if (!s.is_const || !is_stringy(s.type.t)) fail(c->kids[1]->pos, "runtime." + std::string(f) + " takes a constant string");
      bytes = s.s;
    }
    std::int64_t n = static_cast<std::int64_t>(bytes.size());
    Value addr = runtime_value({T::uintptr}, ir::Embed{intern(bytes), f == "EmbedCString"});
    return {std::move(addr), constant({T::i64}, n)};
  }

  // a, b := x, y   (also a single name, and p, n := runtime.EmbedString(...))
  void define(const Node* s, ir::Block& out) {
    const std::size_t n = static_cast<std::size_t>(s->value);
    std::vector<const Node*> names(s->kids.begin(), s->kids.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<const Node*> exprs(s->kids.begin() + static_cast<std::ptrdiff_t>(n), s->kids.end());
    for (const Node* x : names)
      if (x->kind != Kind::name) fail(x->pos, "non-name on left side of :=", "use = to assign to " + std::string(x->kind == Kind::index ? "a buffer byte" : "this"));
    std::vector<Value> values = rhs_values(names.size(), exprs, s->pos);
    bool any_new = false;
    for (const Node* x : names) {
      if (x->text == "_") continue;
      bool here = false;
      for (const Symbol& sym : scopes_.back())
        if (sym.name == x->text) here = true;
      any_new |= !here;
    }
    if (!any_new) fail(s->pos, "no new variables on left side of :=", "use = to assign");
    std::vector<Type> types;
    for (const Node* x : names) {
      Symbol* existing = nullptr;
      for (Symbol& sym : scopes_.back())
        if (sym.name == x->text) existing = &sym;
      if (existing && existing->what != Symbol::What::var) fail(x->pos, "cannot assign to " + std::string(x->text));
      types.push_back(existing ? existing->type : Type{});
    }
    std::vector<std::pair<Expr, Type>> ready = evaluate_all(values, types, exprs, out, "assignment");
    for (std::size_t k = 0; k < names.size(); ++k) {
      const Node* x = names[k];
      if (x->text == "_") {
        evaluate_for_effects(std::move(ready[k].first), out);
        continue;
      }
      Symbol* existing = nullptr;
      for (Symbol& sym : scopes_.back())
        if (sym.name == x->text) existing = &sym;
      if (existing) {
        out.push_back(ir::Assign{ir::Var{existing->ir}, std::move(ready[k].first)});
      } else {
        Symbol& sym = declare(x->text, Symbol::What::var, ready[k].second, x->pos);
        out.push_back(ir::Assign{ir::Var{sym.ir}, std::move(ready[k].first)});
      }
    }
  }

  // The values of the right side of a multi-assignment: one per target.
  std::vector<Value> rhs_values(std::size_t targets, const std::vector<const Node*>& exprs, Pos at) {
    std::vector<Value> values;
    if (exprs.size() == 1 && targets == 2) {
      const Node* c = embed_call(exprs[0]);
      if (!c) fail(at, "assignment mismatch: 2 variables but 1 value", "only runtime.EmbedString/EmbedCString/EmbedBytes give two values");
      auto [a, b] = embed(c);
      values.push_back(std::move(a));
      values.push_back(std::move(b));
      return values;
    }
    if (exprs.size() != targets)
      fail(at, "assignment mismatch: " + count(targets, "variable") + " but " + count(exprs.size(), "value"));
    for (const Node* e : exprs) {
      if (embed_call(e)) fail(e->pos, "runtime." + std::string(runtime_member(embed_call(e)->kids[0])) + " gives two values (address, length)", "write p, n := runtime.EmbedString(\"...\")");
      values.push_back(expr(e));
    }
    return values;
  }

  // Evaluates every value before any target is written (Go's rule for a, b = b, a): with more
  // than one target, non-constant values go through temporaries first.
  // `types[k]` is the type the k-th target takes (none: the value's own, as for _ and new names).
  std::vector<std::pair<Expr, Type>> evaluate_all(std::vector<Value>& values, const std::vector<Type>& types,
                                                  const std::vector<const Node*>& exprs, ir::Block& out,
                                                  std::string_view context) {
    std::vector<std::pair<Expr, Type>> ready;
    for (std::size_t k = 0; k < values.size(); ++k) {
      Pos at = exprs.size() == values.size() ? exprs[k]->pos : exprs[0]->pos;
      Type ty = types[k].t == T::none ? declared_type(values[k], at) : types[k];
      Value v = assignable(std::move(values[k]), ty, at, context);
      Expr e = materialize(std::move(v));
      if (values.size() > 1 && !ir::holds<ir::Int64>(e) && !ir::holds<ir::Embed>(e)) {
        std::string_view t = fresh_temp();
        out.push_back(ir::Assign{ir::Var{t}, std::move(e)});
        e = ir::Var{t};
      }
      ready.emplace_back(std::move(e), ty);
    }
    return ready;
  }

  Type target_type(const Node* x) {
    if (x->kind == Kind::name) {
      if (x->text == "_") return {T::none};
      Symbol* s = lookup(x->text);
      if (!s) {
        if (global_consts_.count(std::string(x->text))) fail(x->pos, "cannot assign to constant " + std::string(x->text));
        fail(x->pos, "undefined: " + std::string(x->text));
      }
      if (s->what == Symbol::What::constant) fail(x->pos, "cannot assign to constant " + std::string(x->text));
      if (s->what == Symbol::What::buffer) fail(x->pos, "cannot assign to buffer " + std::string(x->text), "assign its bytes: buf[i] = b");
      return s->type;
    }
    if (x->kind == Kind::index) return {T::u8};
    if (x->kind == Kind::paren) return target_type(x->kids[0]);
    fail(x->pos, "cannot assign to this expression", "assign to a variable or a buffer byte buf[i]");
  }

  // The IR target (Var or MemVar) of an assignment to x.
  Expr target(const Node* x) {
    if (x->kind == Kind::paren) return target(x->kids[0]);
    if (x->kind == Kind::name) return ir::Var{lookup(x->text)->ir};
    return buffer_byte(x);
  }

  void assign(const Node* s, ir::Block& out) {
    if (s->text != "=") return op_assign(s->kids[0], s->text.substr(0, s->text.size() - 1), s->kids[1], s->pos, out);
    const std::size_t n = static_cast<std::size_t>(s->value);
    std::vector<const Node*> targets(s->kids.begin(), s->kids.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<const Node*> exprs(s->kids.begin() + static_cast<std::ptrdiff_t>(n), s->kids.end());
    std::vector<Type> types;
    for (const Node* x : targets) types.push_back(target_type(x));
    std::vector<Value> values = rhs_values(n, exprs, s->pos);
    if (n == 1 && targets[0]->text == "_" && targets[0]->kind == Kind::name) {
      Type ty = declared_type(values[0], exprs[0]->pos);
      evaluate_for_effects(materialize(assignable(std::move(values[0]), ty, exprs[0]->pos, "assignment")), out);
      return;
    }
    // Go's two phases: first the index operands on the left and the values on the right, in
    // the usual order (calls left to right), then the stores. With several targets a computed
    // buffer address is kept in a temporary, so `i, buf[i] = 2, 7` stores into the old i.
    // (One target needs none: the IR evaluates a store's address before its value.)
    std::vector<Expr> places;
    for (const Node* x : targets) {
      if (x->kind == Kind::name && x->text == "_") {
        places.push_back(lit(0));
        continue;
      }
      Expr place = target(x);
      if (auto* m = ir::get_if<ir::MemVar>(place); m && n > 1 && !ir::holds<ir::BufferAddr>(m->base)) {
        std::string_view t = fresh_temp();
        out.push_back(ir::Assign{ir::Var{t}, m->base});
        place = ir::MemVar{ir::Var{t}, m->disp, m->width};
      }
      places.push_back(std::move(place));
    }
    std::vector<std::pair<Expr, Type>> ready = evaluate_all(values, types, exprs, out, "assignment");
    for (std::size_t k = 0; k < n; ++k) {
      if (targets[k]->kind == Kind::name && targets[k]->text == "_") continue;  // evaluated above
      out.push_back(ir::Assign{std::move(places[k]), std::move(ready[k].first)});
    }
  }

  // x op= e, x++, x--: the target is read without counting as a use, as in Go.
  void op_assign(const Node* x, std::string_view op, const Node* rhs, Pos at, ir::Block& out) {
    Type ty = target_type(x);
    if (ty.t == T::none) fail(x->pos, "cannot use _ as value");
    Expr place = target(x);
    if (const auto* m = ir::get_if<ir::MemVar>(place); m && !ir::holds<ir::BufferAddr>(m->base)) {
      // buf[i] op= e: compute the address once
      std::string_view t = fresh_temp();
      out.push_back(ir::Assign{ir::Var{t}, m->base});
      place = ir::MemVar{ir::Var{t}, m->disp, 8};
    }
    Value current = runtime_value(ty, place);
    Value r = rhs ? expr(rhs) : constant({T::untyped_int}, 1);
    if (!rhs && !is_integer(ty.t)) fail(at, "invalid operation: " + std::string(op) + std::string(op) + " on " + type_name(ty));
    Value v = binary(std::string(op), std::move(current), std::move(r), at);
    v = assignable(std::move(v), ty, at, "assignment");
    out.push_back(ir::Assign{std::move(place), materialize(std::move(v))});
  }

  void if_stmt(const Node* s, ir::Block& out) {
    push_scope();
    if (s->kids[0]) stmt(s->kids[0], out);
    Value c = expr(s->kids[1]);
    if (!is_boolean(c.type.t)) fail(s->kids[1]->pos, "non-boolean condition in if statement (" + type_name(c.type) + ")", "compare it: x != 0");
    const Node* then = s->kids[2];
    const Node* otherwise = s->kids[3];
    if (c.is_const) {  // compile-time condition: only the branch taken is translated
      const Node* taken = c.c ? then : otherwise;
      mark_used(c.c ? otherwise : then);
      if (taken) stmt(taken, out);
    } else {
      ir::If i{as_cond(std::move(c)), {}, {}};
      stmt(then, i.then_body);
      if (otherwise) stmt(otherwise, i.else_body);
      out.push_back(std::move(i));
    }
    pop_scope();
  }

  void for_stmt(const Node* s, ir::Block& out) {
    std::optional<Cond> cond;
    if (s->kids[0]) {
      Value c = expr(s->kids[0]);
      if (!is_boolean(c.type.t)) fail(s->kids[0]->pos, "non-boolean condition in for statement (" + type_name(c.type) + ")", "compare it: x != 0");
      if (c.is_const && !c.c) {  // for false {}: never runs
        mark_used(s->kids[1]);
        return;
      }
      if (!c.is_const) cond = as_cond(std::move(c));
    }
    if (!cond) cond = Cond(ir::IsZero{ir::Int64{0}});  // for {}: always
    ir::While w{std::move(*cond), {}};
    ++loops_;
    stmt(s->kids[1], w.body);
    --loops_;
    out.push_back(std::move(w));
  }

  void return_stmt(const Node* s, ir::Block& out) {
    if (fn_->result.t == T::none) {
      if (!s->kids.empty()) fail(s->kids[0]->pos, "too many return values", std::string(fn_->name) + " returns nothing");
      out.push_back(ir::Return{});
      return;
    }
    if (s->kids.empty()) {
      if (fn_->result_name.empty()) fail(s->pos, "not enough return values", std::string(fn_->name) + " returns " + type_name(fn_->result));
      if (fn_->result_name != "_")  // a bare return returns the named result, which must be the one in scope
        if (Symbol* r = lookup(fn_->result_name); !r || r->ir != result_ir_)
          fail(s->pos, "result parameter " + std::string(fn_->result_name) + " not in scope at return",
               "return it explicitly: return " + std::string(fn_->result_name));
      out.push_back(ir::Return{ir::Var{result_ir_}});
      return;
    }
    Value v = expr(s->kids[0]);
    out.push_back(ir::Return{materialize(assignable(std::move(v), fn_->result, s->kids[0]->pos, "return statement"))});
  }

  // ---- conversions between values ---------------------------------------------------------

  // v as a value of type `to` where Go allows the assignment (identical types, or an untyped
  // constant that fits).
  Value assignable(Value v, Type to, Pos at, std::string_view context) {
    if (v.type.t == T::none) fail(at, "expression has no value, used in " + std::string(context));
    if (v.type.t == T::syscall) fail(at, "a syscall name is not a value", "pass it to runtime.Syscall");
    if (v.typed) {
      if (!is_integer(to.t)) fail(at, "cannot use value of type " + type_name(v.type) + " as " + type_name(to) + " in " + std::string(context));
      return (*v.typed)(to);
    }
    if (v.type == to) return v;
    if (v.is_const && is_untyped(v.type.t)) {
      if (is_untyped_number(v.type.t) && is_integer(to.t)) {
        if (v.c < min_of(to.t) || v.c > max_of(to.t))
          fail(at, "constant " + to_string(v.c) + " overflows " + type_name(to));
        v.type = to;
        return v;
      }
      if (v.type.t == T::untyped_bool && to.t == T::bool_) return v.type = to, v;
      if (v.type.t == T::untyped_string && to.t == T::string) return v.type = to, v;
    }
    if (v.type.t == T::untyped_bool && to.t == T::bool_) return v.type = to, v;  // comparison results
    std::string hint;
    if (is_integer(v.type.t) && is_integer(to.t)) hint = "convert it: " + type_name(to) + "(...)";
    fail(at, "cannot use value of type " + type_name(v.type) + " as " + type_name(to) + " in " + std::string(context), hint);
  }

  // The IR expression for a value (constants become literals, conditions 0/1).
  Expr materialize(Value v) {
    if (v.typed) return materialize((*v.typed)(default_type(v.type)));
    if (v.is_const) {
      if (is_stringy(v.type.t)) return ir::Embed{intern(v.s), true};
      return lit(v.c);
    }
    if (v.e) return std::move(*v.e);
    if (v.cond) return ir::CondValue{std::move(*v.cond)};
    throw std::logic_error("rtg: value without IR");
  }

  Cond as_cond(Value v) {
    if (v.is_const) {
      if (v.c) return ir::IsZero{ir::Int64{0}};
      return ir::Not{ir::IsZero{ir::Int64{0}}};
    }
    if (v.cond) return std::move(*v.cond);
    return ir::Compare{ir::Cmp::Ne, std::move(*v.e), ir::Int64{0}};
  }

  // An integer argument of a runtime function: any integer type, or an untyped constant that
  // fits 64 bits (signed or unsigned); bools and strings where `loose` (syscall arguments).
  Expr word(Value v, Pos at, const std::string& what, bool loose) {
    if (v.typed) v = (*v.typed)(default_type(v.type));
    if (v.is_const && is_untyped_number(v.type.t)) {
      if (v.c < INT64_MIN || v.c > static_cast<i128>(UINT64_MAX)) fail(at, "constant " + to_string(v.c) + " does not fit 64 bits");
      return lit(v.c);
    }
    if (is_integer(v.type.t)) return materialize(std::move(v));
    if (loose && (is_boolean(v.type.t) || is_stringy(v.type.t))) return materialize(std::move(v));
    fail(at, what + " must be an integer" + (loose ? ", bool or string" : "") + ", not " + type_name(v.type));
  }

  // ---- expressions -------------------------------------------------------------------------
  Value expr(const Node* n) {
    switch (n->kind) {
      case Kind::integer: return constant({T::untyped_int}, static_cast<i128>(n->value));
      case Kind::character: return constant({T::untyped_rune}, static_cast<i128>(n->value));
      case Kind::string: {
        Value v;
        v.type = {T::untyped_string};
        v.is_const = true;
        v.s = n->bytes;
        return v;
      }
      case Kind::paren: return expr(n->kids[0]);
      case Kind::name: return name(n);
      case Kind::selector: return selector(n);
      case Kind::unary: return unary(n);
      case Kind::binary: {
        Value l = expr(n->kids[0]);
        Value r = expr(n->kids[1]);
        return binary(std::string(n->text), std::move(l), std::move(r), n->pos);
      }
      case Kind::call: return call(n, nullptr);
      case Kind::index: return runtime_value({T::u8}, buffer_byte(n));
      case Kind::array_type: fail(n->pos, "composite literals and array conversions are not supported", "declare var buf [N]byte");
      default: fail(n->pos, "not an expression");
    }
  }

  Value name(const Node* n) {
    std::string_view id = n->text;
    if (Symbol* s = lookup(id)) {
      s->used = true;
      switch (s->what) {
        case Symbol::What::var: return runtime_value(s->type, ir::Var{s->ir});
        case Symbol::What::constant: return s->value;
        case Symbol::What::buffer:
          fail(n->pos, std::string(id) + " is a buffer, not a value", "use &" + std::string(id) + " for its address, " + std::string(id) + "[i] for a byte, len(" + std::string(id) + ") for its size");
      }
    }
    if (id == "_") fail(n->pos, "cannot use _ as value");
    if (auto it = global_consts_.find(std::string(id)); it != global_consts_.end()) return global_const(it->second);
    if (auto f = func_index_.find(id); f != func_index_.end()) return runtime_value({T::uintptr}, ir::FuncAddr{funcs_[f->second].name});
    if (id == "true" || id == "false") return constant({T::untyped_bool}, id == "true");
    if (id == "iota") {
      if (iota_ < 0) fail(n->pos, "cannot use iota outside constant declaration");
      return constant({T::untyped_int}, iota_);
    }
    if (id == "nil") fail(n->pos, "nil is not supported", "RTG has no pointers, slices or maps; use 0 for a null address");
    for (const NamedType& b : basic_types)
      if (b.name == id) fail(n->pos, std::string(id) + " is a type, not an expression");
    if (id == "runtime") fail(n->pos, "use of package runtime without selector", "write runtime.Name");
    fail(n->pos, "undefined: " + std::string(id));
  }

  Value global_const(GlobalConst& g) {
    if (g.state == GlobalConst::State::done) return g.value;
    if (g.state == GlobalConst::State::evaluating) fail(g.node->pos, "initialization cycle: constant " + std::string(g.node->text) + " refers to itself");
    g.state = GlobalConst::State::evaluating;
    auto saved = std::move(scopes_);  // package constants see only the package
    scopes_.clear();
    g.value = const_value(g.node);
    scopes_ = std::move(saved);
    g.state = GlobalConst::State::done;
    return g.value;
  }

  // "runtime.X" -> "X" when the operand is the runtime package; "" otherwise.
  std::string_view runtime_member(const Node* n) {
    while (n->kind == Kind::paren) n = n->kids[0];
    if (n->kind != Kind::selector || n->kids[0]->kind != Kind::name || n->kids[0]->text != "runtime") return {};
    if (lookup("runtime")) return {};
    return n->text;
  }

  Value selector(const Node* n) {
    std::string_view m = runtime_member(n);
    if (m.empty()) {
      if (n->kids[0]->kind == Kind::name && !lookup(n->kids[0]->text) && !global_consts_.count(std::string(n->kids[0]->text)))
        fail(n->kids[0]->pos, "undefined: " + std::string(n->kids[0]->text), "RTG programs use only the runtime package");
      fail(n->pos, "selectors are not supported", "RTG has no structs or methods; only runtime.X");
    }
    if (m == "GOARCH") {
      Value v;
      v.type = {T::untyped_string};
      v.is_const = true;
      v.s = opt_.arch;
      return v;
    }
    if (m.starts_with("SYS_")) {
      std::string lower;
      for (char c : m.substr(4)) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      for (std::size_t k = 0; k < ir::syscall_names.size(); ++k)
        if (ir::syscall_names[k] == lower) return constant({T::syscall}, static_cast<i128>(k));
      fail(n->pos, "undefined: runtime." + std::string(m), "the syscalls RTG knows are listed in include/crumble/ir/syscalls.hpp");
    }
    if (auto c = linux_constant(m, opt_.arch)) return constant({T::untyped_int}, *c);
    for (std::string_view f : runtime_functions)
      if (f == m) fail(n->pos, "runtime." + std::string(m) + " must be called");
    fail(n->pos, "undefined: runtime." + std::string(m), "see docs/rtg.md for the runtime package");
  }

  // buf[i] as an IR memory operand (one byte).
  Expr buffer_byte(const Node* n) {
    const Node* b = n->kids[0];
    while (b->kind == Kind::paren) b = b->kids[0];
    Symbol* s = b->kind == Kind::name ? lookup(b->text) : nullptr;
    if (!s || s->what != Symbol::What::buffer)
      fail(n->pos, "only buffers can be indexed", "declare var buf [N]byte; read memory at an address with runtime.Load8(p, i)");
    s->used = true;
    Value i = expr(n->kids[1]);
    if (i.typed) i = (*i.typed)({T::int_});  // an untyped non-constant index is an int
    if (!(is_integer(i.type.t) || is_untyped_number(i.type.t))) fail(n->kids[1]->pos, "index must be an integer, not " + type_name(i.type));
    if (i.is_const) {
      if (i.c < 0 || i.c >= s->type.len)
        fail(n->kids[1]->pos, "index " + to_string(i.c) + " out of bounds for " + std::to_string(s->type.len) + "-byte buffer " + std::string(s->name));
      return ir::MemVar{ir::BufferAddr{s->ir}, static_cast<std::int64_t>(i.c), 8};
    }
    return ir::MemVar{ir::BufferAddr{s->ir} + materialize(std::move(i)), 0, 8};
  }

  Value unary(const Node* n) {
    std::string_view op = n->text;
    const Node* x = n->kids[0];
    if (op == "&") {
      while (x->kind == Kind::paren) x = x->kids[0];
      if (x->kind == Kind::name) {
        Symbol* s = lookup(x->text);
        if (s && s->what == Symbol::What::buffer) {
          s->used = true;
          return runtime_value({T::uintptr}, ir::BufferAddr{s->ir});
        }
      }
      if (x->kind == Kind::index) {
        Expr m = buffer_byte(x);
        const auto* mv = ir::get_if<ir::MemVar>(m);
        Expr addr = mv->base;
        if (mv->disp) addr = std::move(addr) + lit(mv->disp);
        return runtime_value({T::uintptr}, std::move(addr));
      }
      fail(n->pos, "cannot take the address of this", "RTG has addresses of buffers only: &buf, &buf[i]");
    }
    return unary_value(op, expr(x), n->pos);
  }

  Value unary_value(std::string_view op, Value v, Pos at) {
    if (v.typed && op != "!")
      return pending(v.type, [this, op, v, at](Type t) { return unary_value(op, (*v.typed)(t), at); });
    if (op == "!") {
      if (!is_boolean(v.type.t)) fail(at, "invalid operation: ! on " + type_name(v.type));
      if (v.is_const) return v.c = !v.c, v;
      Value r;
      r.type = v.type;
      r.cond = ir::Not{as_cond(std::move(v))};
      return r;
    }
    if (!is_integer(v.type.t) && !is_untyped_number(v.type.t))
      fail(at, "invalid operation: operator " + std::string(op) + " not defined on " + type_name(v.type));
    if (op == "+") return v;
    if (v.is_const) {
      if (op == "-") v.c = -v.c;
      else if (is_integer(v.type.t) && !is_signed(v.type.t)) v.c = max_of(v.type.t) ^ v.c;  // ^x of unsigned: flip its bits
      else v.c = ~v.c;
      return check_fits(std::move(v), at);
    }
    if (op == "-") return runtime_value(v.type, normalize(lit(0) - materialize(v), v.type.t));
    T t = v.type.t;
    Expr mask = !is_signed(t) && bits(t) < 64 ? lit(max_of(t)) : lit(-1);
    return runtime_value(v.type, materialize(std::move(v)) ^ std::move(mask));
  }

  Value check_fits(Value v, Pos at) {
    if (is_integer(v.type.t) && (v.c < min_of(v.type.t) || v.c > max_of(v.type.t)))
      fail(at, "constant " + to_string(v.c) + " overflows " + type_name(v.type));
    if (v.c >= constant_limit || v.c <= -constant_limit)
      fail(at, "constant overflow: RTG constants are exact to " + std::to_string(constant_bits) + " bits", "Go's constants go to 512 bits, RTG's to 126");
    return v;
  }

  // Gives both operands one type, as Go does: an untyped constant takes the other side's type.
  void unify(Value& l, Value& r, Pos at, const std::string& op) {
    if (l.type == r.type) return;
    if (is_untyped(l.type.t) && !is_untyped(r.type.t)) l = assignable(std::move(l), r.type, at, "operation");
    else if (is_untyped(r.type.t) && !is_untyped(l.type.t)) r = assignable(std::move(r), l.type, at, "operation");
    else if (is_untyped_number(l.type.t) && is_untyped_number(r.type.t)) l.type = r.type = {T::untyped_rune};
    else if (is_boolean(l.type.t) && is_boolean(r.type.t)) l.type = r.type = {T::bool_};
    if (!(l.type == r.type))
      fail(at, "invalid operation: mismatched types " + type_name(l.type) + " and " + type_name(r.type) + " in " + op,
           is_integer(l.type.t) && is_integer(r.type.t) ? "convert one side, e.g. " + type_name(l.type) + "(y)" : "");
  }

  Value binary(std::string op, Value l, Value r, Pos at) {
    if (l.type.t == T::none || r.type.t == T::none) fail(at, "operand has no value");
    if (l.type.t == T::syscall || r.type.t == T::syscall) fail(at, "a syscall name is not a value", "pass it to runtime.Syscall");
    if (l.type.t == T::buffer || r.type.t == T::buffer) fail(at, "buffers are not values");
    if (op == "&&" || op == "||") return logical(op, std::move(l), std::move(r), at);
    if (op == "<<" || op == ">>") return shift(op, std::move(l), std::move(r), at);
    const bool cmp = op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=";
    if ((l.typed || r.typed) && is_untyped_number(l.type.t) && is_untyped_number(r.type.t)) {
      // Both untyped, one not constant (1<<s + 1): the result is typed by the context too; a
      // comparison gives both operands their default type.
      const Type untyped{l.type.t == T::untyped_rune || r.type.t == T::untyped_rune ? T::untyped_rune : T::untyped_int};
      if (cmp) {
        const Type d = default_type(untyped);
        return binary(op, assignable(std::move(l), d, at, "comparison"), assignable(std::move(r), d, at, "comparison"), at);
      }
      return pending(untyped, [this, op, l, r, at](Type t) {
        return binary(op, assignable(l, t, at, "operation"), assignable(r, t, at, "operation"), at);
      });
    }
    unify(l, r, at, op);
    const T t = l.type.t;
    if (cmp) return compare(op, std::move(l), std::move(r), at);
    if (is_stringy(t)) {
      if (op == "+" && l.is_const && r.is_const) return l.s += r.s, l;
      fail(at, "invalid operation: operator " + op + " not defined on " + type_name(l.type), "strings can only be joined when both are constants");
    }
    if (!is_integer(t) && !is_untyped_number(t)) fail(at, "invalid operation: operator " + op + " not defined on " + type_name(l.type));
    if ((op == "/" || op == "%") && r.is_const && r.c == 0) fail(at, "invalid operation: division by zero");
    if (l.is_const && r.is_const) {
      i128 a = l.c, b = r.c, v = 0;
      if (op == "+") v = a + b;
      else if (op == "-") v = a - b;
      else if (op == "*") {
        if (a != 0 && (b >= constant_limit / (a < 0 ? -a : a) || b <= -constant_limit / (a < 0 ? -a : a)))
          fail(at, "constant overflow: RTG constants are exact to " + std::to_string(constant_bits) + " bits", "Go's constants go to 512 bits, RTG's to 126");
        v = a * b;
      } else if (op == "/") v = a / b;  // truncated, as in Go
      else if (op == "%") v = a % b;
      else if (op == "&") v = a & b;
      else if (op == "|") v = a | b;
      else if (op == "^") v = a ^ b;
      else if (op == "&^") v = a & ~b;
      else fail(at, "unknown operator " + op);
      l.c = v;
      return check_fits(std::move(l), at);
    }
    Type ty = l.type;
    if (is_untyped_number(t)) ty = {T::int_};  // cannot happen: one side is not constant
    Expr a = materialize(std::move(l)), b = materialize(std::move(r));
    using ir::OpKind;
    const bool s = is_signed(ty.t);
    Expr e;
    if (op == "+") e = normalize(std::move(a) + std::move(b), ty.t);
    else if (op == "-") e = normalize(std::move(a) - std::move(b), ty.t);
    else if (op == "*") e = normalize(std::move(a) * std::move(b), ty.t);
    else if (op == "/") e = s ? normalize(std::move(a) / std::move(b), ty.t) : ir::udiv(std::move(a), std::move(b));
    else if (op == "%") e = s ? std::move(a) % std::move(b) : ir::urem(std::move(a), std::move(b));
    else if (op == "&") e = std::move(a) & std::move(b);
    else if (op == "|") e = std::move(a) | std::move(b);
    else if (op == "^") e = std::move(a) ^ std::move(b);
    else if (op == "&^") e = std::move(a) & (std::move(b) ^ lit(-1));
    else fail(at, "unknown operator " + op);
    return runtime_value(ty, std::move(e));
  }

  Value logical(const std::string& op, Value l, Value r, Pos at) {
    if (!is_boolean(l.type.t) || !is_boolean(r.type.t))
      fail(at, "invalid operation: operator " + op + " needs bool operands, not " + type_name(l.type) + " and " + type_name(r.type));
    Type ty = l.type.t == T::bool_ || r.type.t == T::bool_ ? Type{T::bool_} : Type{T::untyped_bool};
    if (l.is_const) {  // true && x == x, false && x == false, ...
      if ((op == "&&") == static_cast<bool>(l.c)) return r.type = ty, r;
      return l.type = ty, l;
    }
    if (r.is_const) {
      // x && true == x; x || false == x. x && false still evaluates x (it may call): keep it.
      if ((op == "&&") == static_cast<bool>(r.c)) return l.type = ty, l;
    }
    Value v;
    v.type = ty;
    Cond a = as_cond(std::move(l)), b = as_cond(std::move(r));
    if (op == "&&") v.cond = ir::And{std::move(a), std::move(b)};
    else v.cond = ir::Or{std::move(a), std::move(b)};
    return v;
  }

  Value compare(const std::string& op, Value l, Value r, Pos at) {
    const T t = l.type.t;
    const bool ordered = op != "==" && op != "!=";
    if (ordered && !is_integer(t) && !is_untyped_number(t))
      fail(at, "invalid operation: operator " + op + " not defined on " + type_name(l.type));
    if (l.is_const && r.is_const) {
      bool v;
      if (is_stringy(t)) v = op == "==" ? l.s == r.s : l.s != r.s;
      else if (op == "==") v = l.c == r.c;
      else if (op == "!=") v = l.c != r.c;
      else if (op == "<") v = l.c < r.c;
      else if (op == "<=") v = l.c <= r.c;
      else if (op == ">") v = l.c > r.c;
      else v = l.c >= r.c;
      return constant({T::untyped_bool}, v);
    }
    if (is_stringy(t)) fail(at, "strings can be compared only when both are constants", "compare bytes with runtime.Load8");
    using ir::Cmp;
    const bool s = is_signed(t) || is_boolean(t);
    Cmp k = op == "==" ? Cmp::Eq : op == "!=" ? Cmp::Ne
          : op == "<" ? (s ? Cmp::Lt : Cmp::ULt) : op == "<=" ? (s ? Cmp::Le : Cmp::ULe)
          : op == ">" ? (s ? Cmp::Gt : Cmp::UGt) : (s ? Cmp::Ge : Cmp::UGe);
    Value v;
    v.type = {T::untyped_bool};
    v.cond = ir::Compare{k, materialize(std::move(l)), materialize(std::move(r))};
    return v;
  }

  Value shift(const std::string& op, Value l, Value r, Pos at) {
    if (r.typed) r = (*r.typed)({T::uint_});  // an untyped non-constant count is a uint
    if (!is_integer(r.type.t) && !is_untyped_number(r.type.t)) fail(at, "invalid shift count of type " + type_name(r.type));
    if (!is_integer(l.type.t) && !is_untyped_number(l.type.t)) fail(at, "invalid operation: shift of type " + type_name(l.type));
    if (r.is_const && r.c < 0) fail(at, "invalid shift count " + to_string(r.c) + " (must be non-negative)");
    if (l.is_const && r.is_const) {
      if (op == ">>") l.c = r.c > constant_bits ? (l.c < 0 ? -1 : 0) : l.c >> static_cast<int>(r.c);  // Go's >> of a constant
      else if (l.c != 0) {
        if (r.c > constant_bits) fail(at, "constant shift overflow: RTG constants are exact to " + std::to_string(constant_bits) + " bits");
        for (i128 k = 0; k < r.c; ++k)
          if ((l.c *= 2) >= constant_limit || l.c <= -constant_limit)
            fail(at, "constant shift overflow: RTG constants are exact to " + std::to_string(constant_bits) + " bits");
      }
      return check_fits(std::move(l), at);
    }
    // An untyped constant shifted by a run-time count takes the type its context gives the
    // shift (var x int64 = 1 << s is an int64 shift; x := 1 << s an int one).
    if (is_untyped_number(l.type.t))
      return pending(l.type, [this, op, l, r, at](Type t) { return shift(op, assignable(l, t, at, "shift"), r, at); });
    const Type ty = l.type;
    const bool s = is_signed(ty.t);
    Expr a = materialize(std::move(l));
    if (r.is_const) {
      if (r.c >= 64) {  // 0, or -1 for a negative signed >>; the operand is still evaluated for its calls
        if (op == ">>" && s) return runtime_value(ty, ir::sar(std::move(a), ir::Expr(63)));
        if (pure(a)) return runtime_value(ty, lit(0));
        if (op == "<<") return runtime_value(ty, (std::move(a) << ir::Expr(63)) << ir::Expr(1));
        return runtime_value(ty, ir::shr(ir::shr(std::move(a), ir::Expr(63)), ir::Expr(1)));
      }
      Expr n = lit(r.c);
      if (op == "<<") return runtime_value(ty, normalize(std::move(a) << std::move(n), ty.t));
      return runtime_value(ty, s ? ir::sar(std::move(a), std::move(n)) : ir::shr(std::move(a), std::move(n)));
    }
    // A run-time count is used twice (the IR shifts modulo 64; Go gives 0 or -1 from 64 on).
    Expr n = materialize(std::move(r));
    const ShiftKind kind = op == "<<" ? ShiftKind::left : s ? ShiftKind::arithmetic : ShiftKind::logical;
    if (!pure(n)) {
      // A count with a call in it must run once, after the operand: a helper function takes both.
      Expr e = ir::Call{ir::FuncAddr{shift_helper(kind)}, {std::move(a), std::move(n)}};
      return runtime_value(ty, kind == ShiftKind::left ? normalize(std::move(e), ty.t) : std::move(e));
    }
    return runtime_value(ty, kind == ShiftKind::left ? normalize(go_shift(kind, std::move(a), std::move(n)), ty.t)
                                                     : go_shift(kind, std::move(a), std::move(n)));
  }

  enum class ShiftKind : std::uint8_t { left, logical, arithmetic };

  // Go's 64-bit shift of a by a run-time count n (n is used twice).
  static Expr go_shift(ShiftKind kind, Expr a, const Expr& n) {
    if (kind == ShiftKind::arithmetic) {
      Expr count = n | ((lit(0) - ir::CondValue{ir::ugt(n, ir::Expr(63))}) & ir::Expr(63));
      return ir::sar(std::move(a), std::move(count));
    }
    Expr keep = lit(0) - ir::CondValue{ir::ult(n, ir::Expr(64))};
    Expr shifted = kind == ShiftKind::left ? std::move(a) << n : ir::shr(std::move(a), n);
    return std::move(shifted) & std::move(keep);
  }

  // The function __crumble_shl / _shr / _sar (a, n): go_shift, added to the program once.
  std::string_view shift_helper(ShiftKind kind) {
    static constexpr std::string_view names[] = {"__crumble_shl", "__crumble_shr", "__crumble_sar"};
    std::string_view name = names[static_cast<int>(kind)];
    if (shift_helpers_.insert(kind).second) {
      ir::Function f{name, {"a", "n"}};
      f.body.push_back(ir::Return{go_shift(kind, ir::Var{"a"}, ir::Var{"n"})});
      helpers_.push_back(std::move(f));
    }
    return name;
  }

  // ---- calls -------------------------------------------------------------------------------
  // `stmts` is where statement-only builtins (Store, Printf, ...) go; null in expressions.
  Value call(const Node* n, ir::Block* stmts) {
    const Node* callee = n->kids[0];
    while (callee->kind == Kind::paren) callee = callee->kids[0];
    std::vector<const Node*> args(n->kids.begin() + 1, n->kids.end());
    if (std::string_view m = runtime_member(callee); !m.empty()) return runtime_call(m, n, args, stmts);
    if (callee->kind == Kind::array_type) fail(callee->pos, "array conversions are not supported");
    if (callee->kind != Kind::name) fail(callee->pos, "only functions can be called", "call a function by name, or an address with runtime.Call");
    std::string_view id = callee->text;
    Symbol* local = lookup(id);
    if (!local) {
      for (const NamedType& b : basic_types)
        if (b.name == id) return conversion(Type{b.t}, args, n);
      if (id == "len") return len(args, n);
      if (auto f = func_index_.find(id); f != func_index_.end()) return user_call(funcs_[f->second], args, n);
      if (id == "panic" || id == "print" || id == "println" || id == "make" || id == "new" || id == "append" ||
          id == "copy" || id == "cap" || id == "delete" || id == "close" || id == "recover" || id == "min" || id == "max")
        fail(callee->pos, "builtin " + std::string(id) + " is not supported", "RTG builtins: len, conversions, and the runtime package");
    }
    if (local && local->what == Symbol::What::var)
      fail(callee->pos, "cannot call non-function " + std::string(id), "call an address with runtime.Call(" + std::string(id) + ", ...)");
    if (!local && !global_consts_.count(std::string(id))) fail(callee->pos, "undefined: " + std::string(id));
    fail(callee->pos, "cannot call non-function " + std::string(id));
  }

  Value conversion(Type to, const std::vector<const Node*>& args, const Node* n) {
    if (args.size() != 1) fail(n->pos, "conversion to " + type_name(to) + " takes exactly one value");
    Value v = expr(args[0]);
    const Pos at = args[0]->pos;
    if (v.typed && is_integer(to.t)) v = (*v.typed)(to);  // uint64(1 << s) shifts a uint64
    const T from = v.type.t;
    if (is_integer(to.t) && (is_integer(from) || is_untyped_number(from))) {
      if (v.is_const) {
        if (v.c < min_of(to.t) || v.c > max_of(to.t))
          fail(at, "cannot convert constant " + to_string(v.c) + " to " + type_name(to) + ": it overflows", "convert a variable to truncate at run time");
        v.type = to;
        return v;
      }
      const int fb = bits(from), tb = bits(to.t);
      bool same_form = tb == 64 || (is_signed(from) == is_signed(to.t) && fb <= tb) || (!is_signed(from) && fb < tb);
      Expr e = materialize(std::move(v));
      return runtime_value(to, same_form ? std::move(e) : normalize(std::move(e), to.t));
    }
    if (to.t == T::uintptr && is_stringy(from)) return runtime_value(to, materialize(std::move(v)));
    if (to.t == T::bool_ && is_boolean(from)) return v.type = to, v;
    if (to.t == T::string && is_stringy(from)) return v.type = to, v;
    fail(at, "cannot convert value of type " + type_name(v.type) + " to " + type_name(to),
         is_boolean(from) ? "write an if, or compare: x != 0 gives a bool" : "");
  }

  Value len(const std::vector<const Node*>& args, const Node* n) {
    if (args.size() != 1) fail(n->pos, "len takes one argument");
    const Node* a = args[0];
    while (a->kind == Kind::paren) a = a->kids[0];
    if (a->kind == Kind::name)
      if (Symbol* s = lookup(a->text); s && s->what == Symbol::What::buffer) {
        s->used = true;
        return constant({T::int_}, s->type.len);
      }
    Value v = expr(a);
    if (v.is_const && is_stringy(v.type.t)) return constant({T::int_}, static_cast<i128>(v.s.size()));
    fail(a->pos, "len takes a buffer or a constant string", "RTG strings are NUL-terminated addresses; their length is not known");
  }

  Value user_call(const Func& f, const std::vector<const Node*>& args, const Node* n) {
    if (args.size() != f.params.size()) {
      std::string want;
      for (auto& [name, ty] : f.params) want += (want.empty() ? "" : ", ") + type_name(ty);
      fail(n->pos, std::string(args.size() < f.params.size() ? "not enough" : "too many") + " arguments in call to " +
                       std::string(f.name), "want (" + want + ")");
    }
    std::vector<Expr> ir_args;
    for (std::size_t k = 0; k < args.size(); ++k)
      ir_args.push_back(materialize(assignable(expr(args[k]), f.params[k].second, args[k]->pos, "argument")));
    Value v = runtime_value(f.result, ir::Call{ir::FuncAddr{f.name}, std::move(ir_args)});
    return v;
  }

  void arity(const std::vector<const Node*>& args, std::size_t lo, std::size_t hi, const Node* n, std::string_view name) {
    if (args.size() < lo || args.size() > hi)
      fail(n->pos, "wrong number of arguments to runtime." + std::string(name) + " (" + std::to_string(args.size()) +
                       ", want " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) + ")");
  }
  ir::Block& statement_only(ir::Block* stmts, const Node* n, std::string_view name) {
    if (!stmts) fail(n->pos, "runtime." + std::string(name) + " has no value", "call it as a statement");
    return *stmts;
  }
  std::string constant_string(const Node* a, std::string_view what) {
    Value v = expr(a);
    if (!v.is_const || !is_stringy(v.type.t)) fail(a->pos, std::string(what) + " must be a constant string");
    return v.s;
  }

  Value runtime_call(std::string_view m, const Node* n, const std::vector<const Node*>& args, ir::Block* stmts) {
    const Value nothing;
    if (m == "Syscall") {
      arity(args, 1, 7, n, m);
      Value nr = expr(args[0]);
      if (nr.type.t != T::syscall) fail(args[0]->pos, "the syscall must be named: runtime.SYS_NAME", "e.g. runtime.Syscall(runtime.SYS_WRITE, 1, p, n)");
      std::vector<Expr> a;
      for (std::size_t k = 1; k < args.size(); ++k) a.push_back(word(expr(args[k]), args[k]->pos, "syscall argument", true));
      return runtime_value({T::i64}, ir::Syscall{static_cast<ir::Sys>(nr.c), std::move(a)});
    }
    if (m.starts_with("Load") || m.starts_with("Store")) {
      const bool store = m.starts_with("Store");
      std::string_view w = m.substr(store ? 5 : 4);
      int width = w == "8" ? 8 : w == "16" ? 16 : w == "32" ? 32 : w == "64" ? 64 : 0;
      if (!width) fail(n->pos, "undefined: runtime." + std::string(m), "Load8/16/32/64 and Store8/16/32/64");
      arity(args, store ? 3 : 2, store ? 3 : 2, n, m);
      Expr base = word(expr(args[0]), args[0]->pos, "address", false);
      Value off = expr(args[1]);
      std::int64_t disp = 0;
      if (off.is_const && (is_untyped_number(off.type.t) || is_integer(off.type.t)) && off.c >= INT32_MIN && off.c <= INT32_MAX)
        disp = static_cast<std::int64_t>(off.c);
      else base = std::move(base) + word(std::move(off), args[1]->pos, "offset", false);
      ir::MemVar place{std::move(base), disp, width};
      if (!store) {
        T t = width == 8 ? T::u8 : width == 16 ? T::u16 : width == 32 ? T::u32 : T::u64;
        return runtime_value({t}, std::move(place));
      }
      ir::Block& out = statement_only(stmts, n, m);
      Value v = expr(args[2]);
      out.push_back(ir::Assign{std::move(place), word(std::move(v), args[2]->pos, "stored value", true)});
      return nothing;
    }
    if (m == "Printf") {
      arity(args, 1, 64, n, m);
      ir::Block& out = statement_only(stmts, n, m);
      std::string format = constant_string(args[0], "the Printf format");
      std::vector<char> convs;
      for (std::size_t k = 0; k < format.size(); ++k) {
        if (format[k] != '%') continue;
        if (++k == format.size()) fail(args[0]->pos, "Printf format ends with %", "write %% for a percent sign");
        char c = format[k];
        if (c == '%') continue;
        if (c != 'd' && c != 'u' && c != 'x' && c != 's' && c != 'c')
          fail(args[0]->pos, std::string("Printf verb %") + c + " is not supported", "RTG Printf has %d %u %x %s %c %%");
        convs.push_back(c);
      }
      if (convs.size() != args.size() - 1)
        fail(n->pos, "Printf format has " + count(convs.size(), "verb") + " but " + count(args.size() - 1, "argument"));
      std::vector<Expr> a;
      for (std::size_t k = 1; k < args.size(); ++k) {
        Value v = expr(args[k]);
        if (convs[k - 1] == 's' && !is_stringy(v.type.t) && !is_integer(v.type.t))
          fail(args[k]->pos, "%s needs a string (or an address), not " + type_name(v.type));
        if (convs[k - 1] != 's' && is_stringy(v.type.t)) fail(args[k]->pos, std::string("%") + convs[k - 1] + " needs an integer, not a string");
        a.push_back(word(std::move(v), args[k]->pos, "Printf argument", true));
      }
      out.push_back(ir::Printf{intern(format), std::move(a)});
      return nothing;
    }
    if (m == "EmbedString" || m == "EmbedCString" || m == "EmbedBytes")
      fail(n->pos, "runtime." + std::string(m) + " gives two values (address, length)", "write p, n := runtime." + std::string(m) + "(...)");
    if (m == "Call") {
      arity(args, 1, 1 + ir::max_call_arguments, n, m);
      Expr target = word(expr(args[0]), args[0]->pos, "call target", false);
      std::vector<Expr> a;
      for (std::size_t k = 1; k < args.size(); ++k) a.push_back(word(expr(args[k]), args[k]->pos, "argument", true));
      return runtime_value({T::i64}, ir::Call{std::move(target), std::move(a)});
    }
    if (m == "ISB") {
      arity(args, 0, 0, n, m);
      statement_only(stmts, n, m).push_back(ir::InstructionBarrier{});
      return nothing;
    }
    if (m == "CacheFlush") {
      arity(args, 2, 2, n, m);
      ir::Block& out = statement_only(stmts, n, m);
      Expr base = word(expr(args[0]), args[0]->pos, "address", false);
      Expr size = word(expr(args[1]), args[1]->pos, "size", false);
      out.push_back(ir::CacheFlush{std::move(base), std::move(size)});
      return nothing;
    }
    if (m == "Ifdef") {
      arity(args, 1, 1, n, m);
      return constant({T::untyped_bool}, opt_.defines.count(constant_string(args[0], "the Ifdef flag")) > 0);
    }
    if (m == "Config") {
      arity(args, 1, 1, n, m);
      std::string key = constant_string(args[0], "the Config key");
      auto it = opt_.config.find(key);
      if (it == opt_.config.end()) fail(args[0]->pos, "config key \"" + key + "\" is not given", "pass -c " + key + "=value (CMake: CONFIG " + key + "=value)");
      bool too_big = false;
      if (auto v = parse_integer(it->second, too_big)) return constant({T::untyped_int}, *v);
      if (too_big) fail(args[0]->pos, "config value " + key + "=" + it->second + " does not fit 64 bits");
      Value v;
      v.type = {T::untyped_string};
      v.is_const = true;
      v.s = it->second;
      return v;
    }
    fail(n->pos, "undefined: runtime." + std::string(m), "see docs/rtg.md for the runtime package");
  }

 public:
  // A config value that reads as a Go integer literal (decimal, 0x, 0o, 0b, leading -) is one.
  static std::optional<i128> parse_integer(std::string_view s, bool& too_big) {
    bool neg = !s.empty() && s[0] == '-';
    if (neg) s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') base = 16, s.remove_prefix(2);
    else if (s.size() > 2 && s[0] == '0' && (s[1] | 0x20) == 'o') base = 8, s.remove_prefix(2);
    else if (s.size() > 2 && s[0] == '0' && (s[1] | 0x20) == 'b') base = 2, s.remove_prefix(2);
    i128 v = 0;
    bool digits = false;
    for (char c : s) {
      int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 99;
      if (c == '_') continue;
      if (d >= base) return std::nullopt;
      digits = true;
      if (v <= static_cast<i128>(UINT64_MAX)) v = v * base + d;
    }
    if (!digits) return std::nullopt;
    if (v > static_cast<i128>(UINT64_MAX)) {
      too_big = true;
      return std::nullopt;
    }
    return neg ? -v : v;
  }

 private:
  const Source& src_;
  const Options& opt_;
  const File& file_;
  Translation out_;
  std::vector<Func> funcs_;
  std::unordered_map<std::string_view, std::size_t> func_index_;  // name -> funcs_ index
  std::map<std::string, GlobalConst> global_consts_;
  // the function being translated
  const Func* fn_ = nullptr;
  std::vector<std::deque<Symbol>> scopes_;
  std::map<std::string, int> ir_names_;
  std::vector<ir::Buffer> buffers_;
  std::map<std::string, std::pair<Pos, bool>> labels_;  // position, used
  std::vector<std::pair<std::string, Pos>> gotos_;
  std::set<std::string> skipped_gotos_;
  std::string_view result_ir_;  // the IR variable of a named result
  std::set<ShiftKind> shift_helpers_;
  std::vector<ir::Function> helpers_;  // functions the translation adds (after the program's own)
  int loops_ = 0;
  int temps_ = 0;
  i128 iota_ = -1;
};

}  // namespace

Translation translate(const Source& src, const Options& options) {
  if (options.arch != "amd64" && options.arch != "arm64" && options.arch != "riscv64")
    throw std::invalid_argument("unknown architecture \"" + options.arch + "\" (amd64, arm64 or riscv64)");
  std::vector<Token> tokens = lex(src);
  File file = parse(src, tokens);
  return Translator(src, options, file).run();
}

Translation translate_file(const std::string& path, const Options& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  return translate(Source{path, text.str()}, options);
}

}  // namespace crumble::rtg
