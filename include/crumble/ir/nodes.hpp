// SPDX-License-Identifier: Apache-2.0
// crumble/ir/nodes.hpp — the IR: node kinds as C++ types, a program as a tree of them.
//
// The node kinds mirror the spec's fragments (Var, GlobalVar, Int64, MemVar, If, Goto, Op,
// Syscall, ...). Each is a plain aggregate; children are held by value (an Expr, Cond or Stmt
// for one child, std::vector for many), so a program is an ordinary C++ value that can be
// built, copied and lowered in constant evaluation as well as at run time.
//
// Expr, Cond and Stmt hold their node behind a pointer (node.hpp), so each is defined after the
// kinds that hold nodes are declared and before they are defined: such a kind can then hold an
// Expr directly. (Children were held through Box, a second heap allocation per child, when
// nodes were variants held by value; it is gone.)
//
// The kinds of each category are listed once, as type lists (ExprKinds, CondKinds, StmtKinds);
// the NodeOf<...> inside Expr/Cond/Stmt is made from those lists. The lists were Boost.Hana's:
// its instantiations were nearly a third of the headers' compile time and ~50 MB (bench/README.md
// §3, session 28).
//
// Values are 64-bit. Names (variables, labels, functions, globals, buffers) and embedded
// bytes are std::string_view: the program refers to them and does not own them, so keep the
// strings alive until assembly is done (string literals always are).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "node.hpp"
#include "syscalls.hpp"

namespace crumble::ir {

struct Expr;
struct Cond;
struct Stmt;
using Block = std::vector<Stmt>;

template <class... Kinds>
struct KindList {};

namespace kinds_detail {
template <class List>
struct NodeOfList;
template <class... Kinds>
struct NodeOfList<KindList<Kinds...>> {
  using type = NodeOf<Kinds...>;
};
template <class T, class List>
struct InList;
template <class T, class... Kinds>
struct InList<T, KindList<Kinds...>> : std::bool_constant<(std::is_same_v<T, Kinds> || ...)> {};
}  // namespace kinds_detail

// NodeOf<Kinds...> (node.hpp) of a KindList.
template <class List>
using node_of = typename kinds_detail::NodeOfList<List>::type;

// True when T (without cv/ref) is one of List's kinds.
template <class T, class List>
inline constexpr bool is_kind = kinds_detail::InList<std::remove_cvref_t<T>, List>::value;

// ---- values -------------------------------------------------------------------------------

struct Var { std::string_view name; };        // a function-local 64-bit variable
struct GlobalVar { std::string_view name; };  // the 64-bit value stored in a global

// Integer constants. The value is sign-extended to 64 bits; Int8{200} is -56.
template <int Bits>
struct Int {
  static_assert(Bits == 8 || Bits == 16 || Bits == 32 || Bits == 64);
  std::int64_t value;
  constexpr std::int64_t sign_extended() const {
    if constexpr (Bits == 64) return value;
    else {
      std::uint64_t m = std::uint64_t{1} << (Bits - 1);
      std::uint64_t v = static_cast<std::uint64_t>(value) & ((m << 1) - 1);
      return static_cast<std::int64_t>((v ^ m) - m);
    }
  }
};
using Int64 = Int<64>;
using Int32 = Int<32>;
using Int16 = Int<16>;
using Int8 = Int<8>;

enum class Extend : std::uint8_t { zero, sign };

struct GlobalAddr { std::string_view name; };  // address of a global
struct FuncAddr { std::string_view name; };    // address of a function (Call target)
struct BufferAddr { std::string_view name; };  // address of a function's stack buffer
// Address of bytes embedded in the program (read-only); `nul` appends a terminating 0.
struct Embed {
  std::string_view bytes;
  bool nul = false;
};

// The expression kinds that hold other nodes, defined after Expr.
struct MemVar;
struct Op;
struct Call;
struct Syscall;
struct CondValue;

using ExprKinds = KindList<Var, GlobalVar, Int64, Int32, Int16, Int8, MemVar, GlobalAddr, FuncAddr, BufferAddr, Embed,
                           Op, Call, Syscall, CondValue>;

struct Expr {
  node_of<ExprKinds> node;

  template <class T>
    requires is_kind<T, ExprKinds>
  constexpr Expr(T&& n) : node(std::forward<T>(n)) {}
  constexpr Expr(std::int64_t v) : node(Int64{v}) {}
  constexpr Expr(int v) : node(Int64{v}) {}
  constexpr Expr() : node(Int64{0}) {}
};

// ---- conditions (defined here: CondValue holds one) ----------------------------------------

enum class Cmp : std::uint8_t { Eq, Ne, Lt, Le, Gt, Ge, ULt, ULe, UGt, UGe };

struct Compare;
struct IsZero;
struct IsNegative;
struct Not;
struct And;
struct Or;

using CondKinds = KindList<Compare, IsZero, IsNegative, Not, And, Or>;

struct Cond {
  node_of<CondKinds> node;
  template <class T>
    requires is_kind<T, CondKinds>
  constexpr Cond(T&& n) : node(std::forward<T>(n)) {}
};

// ---- expressions that hold nodes -----------------------------------------------------------

// Memory at base + disp, `width` bits (8, 16, 32 or 64). As a value it is a load, zero-extended
// by default (Extend::sign for signed loads); as an assignment target it is a store of the low
// `width` bits.
struct MemVar {
  Expr base;
  std::int64_t disp = 0;
  int width = 64;
  Extend extend = Extend::zero;
};

enum class OpKind : std::uint8_t { Add, Sub, Mul, Div, UDiv, Rem, URem, Shl, Shr, Sar, And, Or, Xor };
// Division by zero (and INT64_MIN / -1) is undefined: it traps on AMD64.
// Shift counts are taken modulo 64, as all three architectures do in hardware.
struct Op {
  OpKind kind;
  Expr lhs, rhs;
};

// A call: target is FuncAddr{name} for a direct call, any other value for an indirect one.
// Up to max_call_arguments arguments: the first go in the ABI's argument registers (6 on AMD64,
// 8 on ARM64 and RISC-V), the rest on the stack in 8-byte slots, as each ABI passes them, so a
// payload may call a host function of that many integer parameters. Every value is 64 bits;
// for a host callee with narrower parameters see README.md ("Calls and the host ABI").
inline constexpr std::size_t max_call_arguments = 16;
struct Call {
  Expr target;
  std::vector<Expr> args;
};

struct Syscall {
  Sys nr;
  std::vector<Expr> args;
};

struct CondValue { Cond cond; };  // 1 if cond holds, else 0

// ---- conditions' kinds --------------------------------------------------------------------

struct Compare {
  Cmp kind;
  Expr lhs, rhs;
};
struct IsZero { Expr value; };
struct IsNegative { Expr value; };
struct Not { Cond cond; };
struct And { Cond lhs, rhs; };  // short-circuit
struct Or { Cond lhs, rhs; };   // short-circuit

// ---- statements ---------------------------------------------------------------------------

// Stmt is defined before the statement kinds, which are only declared here: If and While hold
// a Block (std::vector<Stmt>), and the standard lets a vector's members be used only once its
// element type is complete. `Block else_body = {}` uses the default constructor, which Clang
// instantiates at once (GCC later, when Stmt happens to be complete). NodeOf holds its node
// behind a pointer, so Stmt needs no kind to be complete.
struct Assign;
struct If;
struct While;
struct Break;
struct Continue;
struct Label;
struct Goto;
struct Return;
struct Printf;
struct CacheFlush;
struct InstructionBarrier;

using StmtKinds = KindList<Assign, If, While, Break, Continue, Label, Goto, Return, Call, Syscall, Printf, CacheFlush,
                           InstructionBarrier>;

struct Stmt {
  node_of<StmtKinds> node;
  template <class T>
    requires is_kind<T, StmtKinds>
  constexpr Stmt(T&& n) : node(std::forward<T>(n)) {}
};

struct Assign {
  Expr target;  // Var, GlobalVar or MemVar
  Expr value;
};
struct If {
  Cond cond;
  Block then_body;
  Block else_body = {};
};
struct While {
  Cond cond;
  Block body;
};
struct Break {};
struct Continue {};
struct Label { std::string_view name; };
struct Goto { std::string_view name; };
struct Return { Expr value = Int64{0}; };
// Formats to stdout (fd 1) with one write: %d %u %x %s (NUL-terminated) %c %%.
struct Printf {
  std::string_view format;
  std::vector<Expr> args = {};
};
// Makes code just written to [base, base+size) visible to instruction fetch (no-op on AMD64).
struct CacheFlush { Expr base, size; };
struct InstructionBarrier {};

// Node access for all three categories: get_if<Var>(expr), holds<If>(stmt), visit(f, cond).
template <class T, class N>
constexpr const T* get_if(const N& n) { return n.node.template get_if<T>(); }
template <class T, class N>
constexpr bool holds(const N& n) { return n.node.template holds<T>(); }
template <class F, class N>
constexpr decltype(auto) visit(F&& f, const N& n) { return n.node.visit(std::forward<F>(f)); }

// ---- program ------------------------------------------------------------------------------

struct Buffer {  // a function's stack buffer, [size]byte, 16-byte aligned
  std::string_view name;
  std::int64_t size;
};

// At most max_call_arguments parameters; those past the ABI's argument registers arrive on
// the stack and are read from there.
struct Function {
  std::string_view name;
  std::vector<std::string_view> params = {};
  Block body = {};
  std::vector<Buffer> buffers = {};
};

struct Global {  // zero-initialised storage
  std::string_view name;
  std::int64_t size = 8;
  std::int64_t align = 8;
};

// The first function is the entry point. In an executable it is called as main(argc, argv, envp)
// and its result is the exit status.
struct Program {
  std::vector<Function> functions;
  std::vector<Global> globals = {};
};

}  // namespace crumble::ir
