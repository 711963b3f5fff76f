// SPDX-License-Identifier: Apache-2.0
// src/rtg/parser.cpp — see parser.hpp.
#include <crumble/rtg/parser.hpp>

#include <algorithm>

namespace crumble::rtg {
namespace {

// Nesting deeper than this (expressions or blocks) is refused rather than recursed into.
constexpr int max_depth = 200;
// An expression tree higher than this (a+a+a+... builds one level per operator) is refused.
constexpr std::uint32_t max_height = 1000;

class Parser {
 public:
  Parser(const Source& s, const std::vector<Token>& t) : src_(s), t_(t) {}

  File run() {
    expect_keyword("package", "a file starts with `package main`");
    const Token& name = expect(Tok::ident, "package name");
    if (name.text != "main") fail(name.pos, "package must be main", "RTG programs are `package main`");
    end_statement();
    bool imported = false;
    while (is_keyword("import")) {
      next();
      if (accept_op("(")) {
        while (!is_op(")")) {
          import_spec(imported);
          if (!is_op(")")) end_statement();
        }
        expect_op(")");
      } else import_spec(imported);
      end_statement();
    }
    while (peek().kind != Tok::eof) {
      const Token& k = peek();
      if (is_keyword("func")) file_.funcs.push_back(func_decl());
      else if (is_keyword("const")) const_decl(file_.consts);
      else if (is_keyword("var"))
        fail(k.pos, "package-level variables are not supported", "declare variables inside a function; use const for constants");
      else if (is_keyword("type")) fail(k.pos, "type declarations are not supported", "RTG has integer, bool, string and [N]byte types only");
      else if (is_keyword("import")) fail(k.pos, "imports must come before other declarations");
      else unexpected("a declaration (func or const)");
      if (peek().kind != Tok::eof) end_statement();
    }
    return std::move(file_);
  }

 private:
  // ---- tokens -----------------------------------------------------------------------------
  const Token& peek(std::size_t ahead = 0) const {
    std::size_t k = i_ + ahead;
    return k < t_.size() ? t_[k] : t_.back();
  }
  const Token& next() {
    const Token& tok = peek();
    if (i_ + 1 < t_.size()) ++i_;
    return tok;
  }
  bool is_op(std::string_view o, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::op && peek(ahead).text == o;
  }
  bool is_keyword(std::string_view k) const { return peek().kind == Tok::keyword && peek().text == k; }
  bool accept_op(std::string_view o) {
    if (!is_op(o)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(Pos at, std::string msg, std::string hint = {}) const {
    throw Error(src_, at, std::move(msg), std::move(hint));
  }
  static std::string describe(const Token& k) {
    switch (k.kind) {
      case Tok::eof: return "end of file";
      case Tok::semicolon: return k.implicit ? "newline" : "semicolon";
      case Tok::string: return "string literal";
      case Tok::integer: return "number " + std::string(k.text);
      case Tok::character: return "character literal";
      case Tok::ident: return "name " + std::string(k.text);
      case Tok::keyword: return "keyword " + std::string(k.text);
      default: return std::string(k.text);
    }
  }
  [[noreturn]] void unexpected(std::string_view wanted) const {
    fail(peek().pos, "syntax error: unexpected " + describe(peek()) + ", expected " + std::string(wanted));
  }
  static std::string count(std::size_t n, const char* noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }
  const Token& expect(Tok kind, std::string_view what) {
    if (peek().kind != kind) unexpected(what);
    return next();
  }
  const Token& expect_op(std::string_view o) {
    if (!is_op(o)) unexpected(o);
    return next();
  }
  void expect_keyword(std::string_view k, std::string hint) {
    if (!is_keyword(k)) fail(peek().pos, "syntax error: expected " + std::string(k), std::move(hint));
    next();
  }
  void end_statement() {
    if (peek().kind == Tok::semicolon) next();
    else if (!is_op(")") && !is_op("}")) unexpected("newline or ;");
  }

  struct Deeper {  // bounds recursion
    explicit Deeper(Parser& p) : p_(p) {
      if (++p_.depth_ > max_depth)
        p_.fail(p_.peek().pos, "nesting too deep", "at most about 100 levels of parentheses, operators or blocks; split the code into functions");
    }
    ~Deeper() { --p_.depth_; }
    Parser& p_;
  };

  // Sets an expression node's height from its children's, refusing trees too high to translate.
  Node* grown(Node* n) {
    for (const Node* k : n->kids)
      if (k) n->height = std::max(n->height, k->height + 1);
    if (n->height > max_height)
      fail(n->pos, "expression too deep", "at most " + std::to_string(max_height) + " levels of operators; split it with variables");
    return n;
  }

  Node* node(Kind k, Pos pos, std::string_view text = {}) {
    file_.arena.push_back(Node{k, pos, text, 0, {}, {}});
    return &file_.arena.back();
  }

  // ---- declarations ------------------------------------------------------------------------
  void import_spec(bool& imported) {
    if (peek().kind == Tok::ident || is_op(".")) {
      fail(peek().pos, "named and dot imports are not supported", "write import \"" + std::string(runtime_import) + "\"");
    }
    const Token& path = expect(Tok::string, "import path");
    if (path.bytes != runtime_import)
      fail(path.pos, "cannot import \"" + path.bytes + "\": RTG programs import only the runtime package",
           "write import \"" + std::string(runtime_import) + "\"");
    if (imported) fail(path.pos, "runtime package imported twice");
    imported = true;
  }

  // const x = 1 / const x T = 1 / const ( a = iota; b; c ) / const a, b = 1, 2
  // `local`: inside a function, where a spec of several names (const a, b = b, a) becomes one
  // "spec" block, so that its values are evaluated before its names come into scope.
  void const_decl(std::vector<Node*>& out, bool local = false) {
    next();
    if (accept_op("(")) {
      std::vector<Node*> previous;
      Node* previous_type = nullptr;
      u128 iota = 0;
      while (!is_op(")")) {
        const_spec(out, previous, previous_type, iota++, true, local);
        if (!is_op(")")) end_statement();
      }
      expect_op(")");
    } else {
      std::vector<Node*> previous;
      Node* previous_type = nullptr;
      const_spec(out, previous, previous_type, 0, false, local);
    }
  }
  void const_spec(std::vector<Node*>& out, std::vector<Node*>& previous, Node*& previous_type, u128 iota, bool grouped,
                  bool local) {
    std::vector<const Token*> names{&expect(Tok::ident, "constant name")};
    while (accept_op(",")) names.push_back(&expect(Tok::ident, "constant name"));
    Node* type = nullptr;
    std::vector<Node*> values;
    if (!is_op("=") && peek().kind != Tok::semicolon && !is_op(")")) type = parse_type();
    if (accept_op("=")) {
      values = expr_list();
      previous = values;
      previous_type = type;
    } else {
      // In a group, a spec without values repeats the previous one (with the next iota).
      if (!grouped || previous.empty() || type)
        fail(names[0]->pos, "missing constant value", "write const " + std::string(names[0]->text) + " = value");
      values = previous;
      type = previous_type;
    }
    if (values.size() != names.size())
      fail(names[0]->pos, "constant declaration has " + count(names.size(), "name") + " but " + count(values.size(), "value"));
    Node* spec = local && names.size() > 1 ? node(Kind::block, names[0]->pos, "spec") : nullptr;
    for (std::size_t k = 0; k < names.size(); ++k) {
      Node* c = node(Kind::const_decl, names[k]->pos, names[k]->text);
      c->kids = {node(Kind::name, names[k]->pos, names[k]->text), type, values[k]};
      c->value = iota;
      (spec ? spec->kids : out).push_back(c);
    }
    if (spec) out.push_back(spec);
  }

  Node* func_decl() {
    Pos at = next().pos;
    if (is_op("(")) fail(peek().pos, "methods are not supported", "write a plain function that takes the value as a parameter");
    const Token& name = expect(Tok::ident, "function name");
    Node* f = node(Kind::func_decl, at, name.text);
    if (is_op("[")) fail(peek().pos, "generic functions are not supported", "write one function per type");
    expect_op("(");
    std::vector<Node*> params = parameters();
    expect_op(")");
    Node* result = nullptr;
    if (is_op("(")) {
      next();
      if (peek().kind == Tok::ident && !is_op(")", 1) && !is_op(",", 1)) {
        // a named result, func f() (r int64): a variable that a bare return returns
        const Token& r = next();
        result = node(Kind::param, r.pos, r.text);
        result->kids = {parse_type()};
      } else {
        result = parse_type();
      }
      if (is_op(",")) fail(peek().pos, "functions return at most one result", "return one value, or store more through a buffer");
      expect_op(")");
    } else if (!is_op("{") && peek().kind != Tok::semicolon) {
      result = parse_type();
    }
    if (!is_op("{")) fail(peek().pos, "function " + std::string(name.text) + " has no body", "RTG functions are defined in the file");
    f->value = params.size();
    f->kids = std::move(params);
    f->kids.push_back(result);
    f->kids.push_back(block());
    return f;
  }

  // A parameter list, as Go writes it: every parameter named, names grouped before their type
  // (a, b int64, c uint8), or none named, types alone (int64, uint8); an unnamed parameter is
  // "_". Stops before the closing parenthesis.
  std::vector<Node*> parameters() {
    struct Entry {
      const Token* name;  // null: a type alone
      Node* type;         // null: a lone identifier (a name waiting for its type, or a type)
    };
    std::vector<Entry> entries;
    bool named = false;
    while (!is_op(")")) {
      if (is_op("...")) fail(peek().pos, "variadic functions are not supported", "pass a fixed number of arguments");
      if (peek().kind == Tok::ident && (is_op(",", 1) || is_op(")", 1))) {
        entries.push_back({&next(), nullptr});
      } else if (peek().kind == Tok::ident && !is_op(".", 1)) {
        const Token& n = next();
        if (is_op("...")) fail(peek().pos, "variadic functions are not supported", "pass a fixed number of arguments");
        entries.push_back({&n, parse_type()});
        named = true;
      } else {
        entries.push_back({nullptr, parse_type()});
      }
      if (!accept_op(",")) break;
    }
    std::vector<Node*> params;
    auto param = [&](Pos at, std::string_view name, Node* type) {
      Node* pn = node(Kind::param, at, name);
      pn->kids = {type};
      params.push_back(pn);
    };
    if (!named) {  // func g(int64, uint8)
      for (const Entry& e : entries)
        param(e.name ? e.name->pos : e.type->pos, "_", e.type ? e.type : node(Kind::name, e.name->pos, e.name->text));
      return params;
    }
    std::vector<const Token*> pending;
    for (const Entry& e : entries) {
      if (!e.name) fail(e.type->pos, "mixed named and unnamed parameters", "name every parameter, or none: func f(a int64, b uint8)");
      pending.push_back(e.name);
      if (!e.type) continue;
      for (const Token* p : pending) param(p->pos, p->text, e.type);
      pending.clear();
    }
    if (!pending.empty())
      fail(pending.back()->pos, "parameter " + std::string(pending.back()->text) + " has no name or no type",
           "RTG parameters are named and typed: func f(a int64, b uint8)");
    return params;
  }

  Node* parse_type() {
    Deeper d(*this);
    const Token& k = peek();
    if (k.kind == Tok::ident) return next(), node(Kind::name, k.pos, k.text);
    if (is_op("(")) {
      next();
      Node* t = parse_type();
      expect_op(")");
      return t;
    }
    if (is_op("[")) {
      next();
      if (is_op("]")) fail(k.pos, "slices are not supported", "use a fixed-size buffer: var buf [64]byte");
      if (is_op("...")) fail(k.pos, "[...] arrays are not supported", "give the length: [64]byte");
      Node* a = node(Kind::array_type, k.pos);
      Node* len = expr();
      expect_op("]");
      a->kids = {len, parse_type()};
      return a;
    }
    if (is_op("*")) fail(k.pos, "pointer types are not supported", "hold addresses in uintptr and use runtime.Load64/Store64");
    if (k.kind == Tok::keyword) {
      if (k.text == "map") fail(k.pos, "maps are not supported", "use a [N]byte buffer and index it yourself");
      if (k.text == "chan") fail(k.pos, "channels are not supported", "RTG programs are single-threaded");
      if (k.text == "func") fail(k.pos, "function types are not supported", "hold a function's address in uintptr and call it with runtime.Call");
      if (k.text == "struct") fail(k.pos, "structs are not supported", "use separate variables, or a [N]byte buffer with Load/Store");
      if (k.text == "interface") fail(k.pos, "interfaces are not supported", "RTG has integer, bool, string and [N]byte types only");
    }
    unexpected("a type");
  }

  // ---- statements --------------------------------------------------------------------------
  Node* block() {
    Deeper d(*this);
    Node* b = node(Kind::block, expect_op("{").pos);
    while (!is_op("}")) {
      if (peek().kind == Tok::eof) unexpected("}");
      if (peek().kind == Tok::semicolon) {
        next();
        continue;
      }
      b->kids.push_back(statement());
      if (!is_op("}")) end_statement();
    }
    b->value = next().pos;  // the closing brace, where "missing return" points
    return b;
  }

  Node* statement() {
    Deeper d(*this);
    const Token& k = peek();
    if (k.kind == Tok::ident && is_op(":", 1)) {
      next();
      next();
      Node* l = node(Kind::labeled, k.pos, k.text);
      // A label before a closing brace labels an empty statement.
      if (is_op("}") || peek().kind == Tok::semicolon) l->kids = {node(Kind::empty, k.pos)};
      else l->kids = {statement()};
      return l;
    }
    if (is_op("{")) return block();
    if (k.kind == Tok::keyword) {
      std::string_view w = k.text;
      if (w == "var") return var_decl();
      if (w == "const") {
        std::vector<Node*> cs;
        const_decl(cs, true);
        Node* b = node(Kind::block, k.pos, "decls");  // declarations in the enclosing scope
        b->kids = std::move(cs);
        return b;
      }
      if (w == "if") return if_stmt();
      if (w == "for") return for_stmt();
      if (w == "return") {
        next();
        Node* r = node(Kind::return_stmt, k.pos);
        if (peek().kind != Tok::semicolon && !is_op("}")) {
          r->kids = {expr()};
          if (is_op(",")) fail(peek().pos, "functions return at most one result");
        }
        return r;
      }
      if (w == "break" || w == "continue") {
        next();
        if (peek().kind == Tok::ident)
          fail(peek().pos, "labelled " + std::string(w) + " is not supported", "use goto to leave or restart an outer loop");
        return node(w == "break" ? Kind::break_stmt : Kind::continue_stmt, k.pos);
      }
      if (w == "goto") {
        next();
        const Token& l = expect(Tok::ident, "label");
        return node(Kind::goto_stmt, k.pos, l.text);
      }
      if (w == "switch") fail(k.pos, "switch is not supported", "write if / else if / else");
      if (w == "select") fail(k.pos, "select is not supported", "RTG programs are single-threaded");
      if (w == "go") fail(k.pos, "goroutines are not supported", "RTG programs are single-threaded; use runtime.Syscall(runtime.SYS_CLONE, ...) for processes");
      if (w == "defer") fail(k.pos, "defer is not supported", "call the function before each return");
      if (w == "fallthrough") fail(k.pos, "fallthrough is not supported", "RTG has no switch; write if / else if / else");
      if (w == "type") fail(k.pos, "type declarations are not supported", "RTG has integer, bool, string and [N]byte types only");
      if (w == "func") fail(k.pos, "nested functions and closures are not supported", "declare the function at the top level");
    }
    return simple_statement();
  }

  // var x T / var x = e / var a, b T = e1, e2 / var ( ... ): one var_decl per name, grouped in
  // a "decls" block (declarations in the enclosing scope).
  Node* var_decl() {
    Pos at = next().pos;
    Node* group = node(Kind::block, at, "decls");
    if (accept_op("(")) {
      while (!is_op(")")) {
        if (peek().kind == Tok::semicolon) {
          next();
          continue;
        }
        var_spec(group);
        if (!is_op(")")) end_statement();
      }
      expect_op(")");
    } else {
      var_spec(group);
    }
    return group;
  }
  void var_spec(Node* group) {
    std::vector<const Token*> names{&expect(Tok::ident, "variable name")};
    while (accept_op(",")) names.push_back(&expect(Tok::ident, "variable name"));
    Node* type = nullptr;
    std::vector<Node*> values;
    if (!is_op("=")) type = parse_type();
    if (accept_op("=")) values = expr_list();
    // var p, n = runtime.EmbedString(...): one call, two values (the translator checks it is one).
    const bool two_from_one = names.size() == 2 && values.size() == 1;
    if (!values.empty() && values.size() != names.size() && !two_from_one)
      fail(names[0]->pos, "assignment mismatch: " + count(names.size(), "variable") + " but " + count(values.size(), "value"));
    // One node for the whole spec: its values are evaluated before any of its names is in scope.
    Node* v = node(Kind::var_decl, names[0]->pos, names[0]->text);
    for (const Token* n : names) v->kids.push_back(node(Kind::name, n->pos, n->text));
    v->kids.push_back(type);
    v->kids.insert(v->kids.end(), values.begin(), values.end());
    v->value = names.size();
    group->kids.push_back(v);
  }

  Node* simple_statement() {
    Pos at = peek().pos;
    std::vector<Node*> lhs = expr_list();
    const Token& k = peek();
    if (k.kind == Tok::op) {
      if (k.text == ":=" || k.text == "=") {
        next();
        if (is_keyword("range")) fail(peek().pos, "range is not supported", "write for i < n { ...; i++ }");
        std::vector<Node*> rhs = expr_list();
        Node* s = node(k.text == ":=" ? Kind::define : Kind::assign, k.pos, k.text);
        s->value = lhs.size();
        s->kids = std::move(lhs);
        s->kids.insert(s->kids.end(), rhs.begin(), rhs.end());
        return s;
      }
      if (k.text.size() >= 2 && k.text.back() == '=' && k.text != "==" && k.text != "!=" && k.text != "<=" && k.text != ">=") {
        next();
        if (lhs.size() != 1) fail(k.pos, "assignment operation " + std::string(k.text) + " needs a single target");
        Node* s = node(Kind::assign, k.pos, k.text);
        s->value = 1;
        s->kids = {lhs[0], expr()};
        return s;
      }
      if (k.text == "++" || k.text == "--") {
        next();
        if (lhs.size() != 1) fail(k.pos, std::string(k.text) + " needs a single target");
        Node* s = node(Kind::inc_dec, k.pos, k.text);
        s->kids = {lhs[0]};
        return s;
      }
      if (k.text == "<-") fail(k.pos, "channels are not supported", "RTG programs are single-threaded");
    }
    if (lhs.size() != 1) fail(at, "expression list is not a statement", "assign it: a, b = x, y");
    Node* s = node(Kind::expr_stmt, at);
    s->kids = {lhs[0]};
    return s;
  }

  Node* if_stmt() {
    Deeper d(*this);  // else if chains nest
    Pos at = next().pos;
    Node* init = nullptr;
    Node* cond = nullptr;
    Node* first = simple_statement();
    if (peek().kind == Tok::semicolon && !peek().implicit) {
      next();
      init = first;
      first = simple_statement();
    }
    if (first->kind != Kind::expr_stmt) fail(first->pos, "if needs a condition", "write if x > 0 { ... }");
    cond = first->kids[0];
    if (!is_op("{")) unexpected("{ after if condition");
    Node* n = node(Kind::if_stmt, at);
    Node* then = block();
    Node* otherwise = nullptr;
    if (is_keyword("else")) {
      next();
      if (is_keyword("if")) otherwise = if_stmt();
      else if (is_op("{")) otherwise = block();
      else unexpected("if or { after else");
    }
    n->kids = {init, cond, then, otherwise};
    return n;
  }

  Node* for_stmt() {
    Pos at = next().pos;
    // Look ahead to the loop body for constructs RTG leaves out.
    int depth = 0;
    for (std::size_t k = i_; k < t_.size() && t_[k].kind != Tok::eof; ++k) {
      const Token& x = t_[k];
      if (x.kind == Tok::op && (x.text == "(" || x.text == "[")) ++depth;
      if (x.kind == Tok::op && (x.text == ")" || x.text == "]")) --depth;
      if (depth == 0 && x.kind == Tok::op && x.text == "{") break;
      if (x.kind == Tok::keyword && x.text == "range") fail(x.pos, "range is not supported", "write i := 0 before the loop and for i < n { ...; i++ }");
      if (depth == 0 && x.kind == Tok::semicolon)
        fail(at, "for loops with init or post statements are not supported",
             "write the init before the loop and the post at the end of the body: i := 0; for i < n { ...; i++ }");
    }
    Node* n = node(Kind::for_stmt, at);
    Node* cond = nullptr;
    if (!is_op("{")) cond = expr();
    n->kids = {cond, block()};
    return n;
  }

  // ---- expressions -------------------------------------------------------------------------
  std::vector<Node*> expr_list() {
    std::vector<Node*> out{expr()};
    while (accept_op(",")) out.push_back(expr());
    return out;
  }

  static int precedence(const Token& k) {
    if (k.kind != Tok::op) return 0;
    std::string_view o = k.text;
    if (o == "||") return 1;
    if (o == "&&") return 2;
    if (o == "==" || o == "!=" || o == "<" || o == "<=" || o == ">" || o == ">=") return 3;
    if (o == "+" || o == "-" || o == "|" || o == "^") return 4;
    if (o == "*" || o == "/" || o == "%" || o == "<<" || o == ">>" || o == "&" || o == "&^") return 5;
    return 0;
  }

  Node* expr(int min_prec = 1) {
    Deeper d(*this);
    Node* lhs = unary();
    while (true) {
      int p = precedence(peek());
      if (p < min_prec) return lhs;
      const Token& o = next();
      Node* rhs = expr(p + 1);
      Node* b = node(Kind::binary, o.pos, o.text);
      b->kids = {lhs, rhs};
      lhs = grown(b);
    }
  }

  Node* unary() {
    Deeper d(*this);
    const Token& k = peek();
    if (k.kind == Tok::op) {
      if (k.text == "-" || k.text == "+" || k.text == "!" || k.text == "^" || k.text == "&") {
        next();
        Node* u = node(Kind::unary, k.pos, k.text);
        u->kids = {unary()};
        return grown(u);
      }
      if (k.text == "*") fail(k.pos, "pointers are not supported", "read memory with runtime.Load64(p, 0)");
      if (k.text == "<-") fail(k.pos, "channels are not supported", "RTG programs are single-threaded");
    }
    return primary();
  }

  Node* primary() {
    Node* x = operand();
    while (true) {
      const Token& k = peek();
      if (is_op(".")) {
        next();
        if (is_op("(")) fail(k.pos, "type assertions are not supported");
        const Token& f = expect(Tok::ident, "name after .");
        Node* s = node(Kind::selector, f.pos, f.text);
        s->kids = {x};
        x = grown(s);
      } else if (is_op("(")) {
        next();
        Node* c = node(Kind::call, k.pos);
        c->kids = {x};
        while (!is_op(")")) {
          c->kids.push_back(expr());
          if (is_op("...")) fail(peek().pos, "variadic arguments (x...) are not supported", "pass each argument");
          if (!accept_op(",")) break;
        }
        expect_op(")");
        x = grown(c);
      } else if (is_op("[")) {
        next();
        if (is_op(":")) fail(k.pos, "slices are not supported", "pass a buffer's address and a length");
        Node* i = node(Kind::index, k.pos);
        i->kids = {x, expr()};
        if (is_op(":")) fail(k.pos, "slices are not supported", "pass a buffer's address and a length");
        if (is_op(",")) fail(peek().pos, "generic instantiation is not supported");
        expect_op("]");
        x = grown(i);
      } else if (is_op("{") && x->kind == Kind::array_type) {
        fail(k.pos, "composite literals are not supported", "declare var buf [N]byte and store the bytes, or use runtime.EmbedBytes");
      } else {
        return x;
      }
    }
  }

  Node* operand() {
    const Token& k = peek();
    switch (k.kind) {
      case Tok::ident: next(); return node(Kind::name, k.pos, k.text);
      case Tok::integer: {
        next();
        Node* n = node(Kind::integer, k.pos, k.text);
        n->value = k.value;
        return n;
      }
      case Tok::character: {
        next();
        Node* n = node(Kind::character, k.pos, k.text);
        n->value = k.value;
        return n;
      }
      case Tok::string: {
        next();
        Node* n = node(Kind::string, k.pos, k.text);
        n->bytes = k.bytes;
        return n;
      }
      case Tok::keyword:
        if (k.text == "func") fail(k.pos, "function literals (closures) are not supported", "declare a top-level function and pass its name");
        if (k.text == "map") fail(k.pos, "maps are not supported", "use a [N]byte buffer and index it yourself");
        if (k.text == "struct") fail(k.pos, "structs are not supported", "use separate variables");
        if (k.text == "chan") fail(k.pos, "channels are not supported", "RTG programs are single-threaded");
        if (k.text == "range") fail(k.pos, "range is not supported", "write for i < n { ...; i++ }");
        break;
      case Tok::op:
        if (k.text == "(") {
          next();
          Node* p = node(Kind::paren, k.pos);
          p->kids = {expr()};
          expect_op(")");
          return grown(p);
        }
        if (k.text == "[") return parse_type();  // [N]T in an expression: a conversion or literal, rejected later
        break;
      default: break;
    }
    unexpected("an expression");
  }

  const Source& src_;
  const std::vector<Token>& t_;
  std::size_t i_ = 0;
  int depth_ = 0;
  File file_;
};

}  // namespace

File parse(const Source& src, const std::vector<Token>& tokens) { return Parser(src, tokens).run(); }

}  // namespace crumble::rtg
