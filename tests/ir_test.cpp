// SPDX-License-Identifier: Apache-2.0
// IR construction: node kinds, constant folding of Int widths, kind dispatch, shared nodes,
// program sizes, and the name table the lowering finds names with.
#include <catch2/catch.hpp>
#include <crumble/code/name_table.hpp>
#include <crumble/ir/build.hpp>
#include <crumble/ir/printf.hpp>
#include <crumble/ir/program_size.hpp>

#include <array>
#include <iterator>
#include <string_view>
#include <vector>

using namespace crumble::ir;

TEST_CASE("IntN sign-extends its value to 64 bits") {
  struct Row { std::int64_t got, want; };
  const Row rows[] = {
      {Int8{200}.sign_extended(), -56},           {Int8{127}.sign_extended(), 127},
      {Int8{-1}.sign_extended(), -1},             {Int16{0x8000}.sign_extended(), -32768},
      {Int16{0x7fff}.sign_extended(), 32767},     {Int32{0xffffffff}.sign_extended(), -1},
      {Int32{0x7fffffff}.sign_extended(), 2147483647}, {Int64{INT64_MIN}.sign_extended(), INT64_MIN},
  };
  for (const Row& r : rows) CHECK(r.got == r.want);
}

TEST_CASE("operators build the expected node kinds") {
  Expr e = Var{"x"} + 1;
  REQUIRE(holds<Op>(e));
  CHECK(get_if<Op>(e)->kind == OpKind::Add);
  CHECK(get_if<Var>(get_if<Op>(e)->lhs)->name == "x");
  Cond c = ult(Var{"a"}, 3) && !(Var{"b"} == 0);
  REQUIRE(holds<And>(c));
  CHECK(holds<Not>(get_if<And>(c)->rhs));
  Stmt s = store(Var{"p"}, 8, 16, 7);
  REQUIRE(holds<Assign>(s));
  CHECK(get_if<MemVar>(get_if<Assign>(s)->target)->width == 16);
}

// GCC's -fconstexpr-depth (512) bounds the depth of a tree walked in constant evaluation (about
// 90 levels when it was measured, with more nested calls per level than now).
TEST_CASE("deep expressions are copied and walked in constant evaluation") {
  constexpr auto depth = [] {
    Expr e = Var{"x"};
    for (int i = 0; i < 30; ++i) e = e * 2 + i;
    Expr copy = e;
    int d = 0;
    for (const Expr* p = &copy; holds<Op>(*p); p = &get_if<Op>(*p)->lhs) ++d;
    return d;
  }();
  STATIC_REQUIRE(depth == 60);
}

// Programs are counted as the constexpr assemble bounds them: every Expr, Cond and Stmt is a
// node; a Printf adds its call and argument stores (5 + 3 per argument) and its format's bytes.
TEST_CASE("program_size counts nodes, functions, embedded bytes and addresses") {
  struct Row { const char* what; Program p; ProgramSize want; };
  const Row rows[] = {
      {"return x + 1", {{Function{"f", {"x"}, {Return{Var{"x"} + 1}}}}}, {4, 1, 0, 0, 0}},
      {"two functions, an if", {{Function{"f", {}, {If{Var{"a"} < 3, {Return{1}}, {Return{2}}}}}, Function{"g"}}},
       {8, 2, 0, 0, 0}},
      {"printf with one argument", {{Function{"f", {}, {Printf{"%d\n", {Var{"x"}}}}}}}, {10, 1, 4, 1, 1}},
      {"write of a string", {{Function{"f", {}, {Syscall{Sys::write, {1, cstr("hi"), 2}}}}}}, {4, 1, 3, 1, 0}},
      {"global and call", {{Function{"f", {}, {Assign{GlobalVar{"g"}, Call{FuncAddr{"f"}, {}}}}}}}, {4, 1, 0, 2, 0}},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    ProgramSize got = program_size(r.p);
    CHECK(got.nodes == r.want.nodes);
    CHECK(got.functions == r.want.functions);
    CHECK(got.embedded_bytes == r.want.embedded_bytes);
    CHECK(got.addresses == r.want.addresses);
    CHECK(got.printfs == r.want.printfs);
  }
}

// Copies share the node (it is immutable): a copy outlives the original, in constant
// evaluation (where a use after free is an error) as at run time.
TEST_CASE("a copied node outlives its original") {
  auto check = [] {
    Expr* original = new Expr(Var{"x"} * 3 + 4);
    Expr copy = *original;
    delete original;
    const Op* add = get_if<Op>(copy);
    return add && add->kind == OpKind::Add && get_if<Var>(get_if<Op>(add->lhs)->lhs)->name == "x";
  };
  STATIC_REQUIRE(check());
  CHECK(check());
}

// Assignment to itself, a move into itself, and the moved-from nodes left behind keep the count
// right: constant evaluation refuses a node deleted twice, used after its deletion, or never
// deleted, so a wrong count fails to compile.
TEST_CASE("nodes survive self-assignment, self-move and the moved-from nodes left behind") {
  auto check = [] {
    Expr e = Var{"x"} + 1;
    Expr& same = e;
    e = same;
    e = std::move(same);
    Expr moved = std::move(e);
    Op op{OpKind::Mul, std::move(moved), 2};
    Expr whole = std::move(op);
    Expr copy = whole;
    const Op* mul = get_if<Op>(copy);
    const Op* add = mul ? get_if<Op>(mul->lhs) : nullptr;
    return add && mul->kind == OpKind::Mul && add->kind == OpKind::Add && get_if<Var>(add->lhs)->name == "x";
  };
  STATIC_REQUIRE(check());
  CHECK(check());
}

// The lowering's name lookups (functions, variables, labels, strings): every name found with
// its value, a second insert of a name refused, clear() empties the table, across growth.
// "fn" and i in decimal (std::string is not usable here in Clang's constant evaluation).
struct Numbered {
  std::array<char, 16> text{};
  std::size_t size = 0;
  constexpr std::string_view view() const { return {text.data(), size}; }
};
constexpr Numbered numbered(int i) {
  Numbered n;
  char digits[12]{};
  int k = 0;
  do digits[k++] = static_cast<char>('0' + i % 10);
  while ((i /= 10) != 0);
  n.text[n.size++] = 'f';
  n.text[n.size++] = 'n';
  while (k > 0) n.text[n.size++] = digits[--k];
  return n;
}
constexpr bool name_table_agrees(int n, bool reserve = false) {
  crumble::code::NameTable t;
  if (reserve) t.reserve(static_cast<std::size_t>(n));
  std::vector<Numbered> names;
  for (int i = 0; i < n; ++i) names.push_back(numbered(i));
  for (int i = 0; i < n; ++i)
    if (!t.insert(names[i].view(), static_cast<std::uint32_t>(3 * i))) return false;
  for (int i = 0; i < n; ++i)
    if (t.insert(names[i].view(), 1) || t.find(names[i].view()) != static_cast<std::uint32_t>(3 * i)) return false;
  const Numbered past = numbered(n);
  if (t.size() != static_cast<std::size_t>(n) || t.contains("fn") || t.contains(past.view())) return false;
  t.clear();
  for (int i = 0; i < n; ++i)
    if (t.contains(names[i].view())) return false;
  return t.size() == 0 && t.insert(names[0].view(), 7) && t.find(names[0].view()) == 7;
}

TEST_CASE("NameTable finds every name, refuses duplicates and empties on clear") {
  STATIC_REQUIRE(name_table_agrees(100));
  STATIC_REQUIRE(name_table_agrees(100, true));
  CHECK(name_table_agrees(20000));
  CHECK(name_table_agrees(20000, true));
}

TEST_CASE("printf_runtime_names names printf_runtime()'s functions, in order") {
  // The lowering declares the routines by these names without building them.
  const std::vector<Function> runtime = printf_runtime();
  REQUIRE(runtime.size() == std::size(printf_runtime_names));
  for (std::size_t i = 0; i < runtime.size(); ++i) CHECK(runtime[i].name == printf_runtime_names[i]);
}

TEST_CASE("function_size counts one function as program_size counts a program of it") {
  const Program p{{Function{"f", {"a"}, {Assign{Var{"x"}, Var{"a"} + 1}, Printf{"%d\n", {Var{"x"}}}, Return{Var{"x"}}}},
                   Function{"g", {}, {Return{Embed{"abc"}}}}}};
  for (const Function& f : p.functions) {
    const ProgramSize one = function_size(f), whole = program_size(Program{{f}});
    CHECK(one.nodes == whole.nodes);
    CHECK(one.functions == 1);
    CHECK(one.embedded_bytes == whole.embedded_bytes);
    CHECK(one.addresses == whole.addresses);
    CHECK(one.printfs == whole.printfs);
  }
  CHECK(function_size(p.functions[0]).nodes + function_size(p.functions[1]).nodes == program_size(p).nodes);
}
