// SPDX-License-Identifier: Apache-2.0
// IR construction: node kinds, constant folding of Int widths, kind dispatch.
#include <catch2/catch.hpp>
#include <crumble/ir/build.hpp>

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
  CHECK(get_if<Var>(*get_if<Op>(e)->lhs)->name == "x");
  Cond c = ult(Var{"a"}, 3) && !(Var{"b"} == 0);
  REQUIRE(holds<And>(c));
  CHECK(holds<Not>(*get_if<And>(c)->rhs));
  Stmt s = store(Var{"p"}, 8, 16, 7);
  REQUIRE(holds<Assign>(s));
  CHECK(get_if<MemVar>(get_if<Assign>(s)->target)->width == 16);
}

// GCC's -fconstexpr-depth (512) bounds tree depth in constant evaluation to about 90 levels.
TEST_CASE("nodes copy deeply and are usable in constant evaluation") {
  constexpr auto depth = [] {
    Expr e = Var{"x"};
    for (int i = 0; i < 30; ++i) e = e * 2 + i;
    Expr copy = e;
    int d = 0;
    for (const Expr* p = &copy; holds<Op>(*p); p = &*get_if<Op>(*p)->lhs) ++d;
    return d;
  }();
  STATIC_REQUIRE(depth == 60);
}
