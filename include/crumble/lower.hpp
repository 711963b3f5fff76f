// SPDX-License-Identifier: Apache-2.0
// crumble/lower.hpp — lowers an IR program to machine code for a target architecture.
//
// The lowering is written once and templated on a target policy (arch/<arch>/target.hpp) that
// knows the register file, the ABI, the syscall numbers and how to encode a handful of virtual
// instructions (move, load, store, binop, compare-and-branch, call, syscall, frame set-up); the
// TargetPolicy concept (arch/target_policy.hpp) lists every member it must have.
//
// Register allocation, per function:
//   - homes: every variable (parameters and assigned locals) gets a home. The most used ones
//     (uses weighted by loop depth) live in the target's callee-saved registers, the rest in
//     stack slots. Callee-saved homes survive calls and syscalls, so nothing is saved around
//     them; a function saves only the homes it uses.
//   - temps: expressions are evaluated into caller-saved temporaries, allocated and freed as
//     the tree is walked (Sethi–Ullman order). When an operand must survive the evaluation of
//     a subtree that needs more temps than are free, it is spilled to a stack slot; temps
//     still holding values across a call or syscall are saved to slots around it. The number
//     of slots a function needs is bounded by the size of its largest expression, so the frame
//     size is known before the body is lowered.
//   - call arguments are evaluated into temps, then moved into the argument registers as a
//     parallel move (cycles broken with the target's swap). Arguments past the ABI's registers
//     (up to ir::max_call_arguments in all) go to the outgoing-argument area at the bottom of
//     the frame, [sp], [sp + 8], ..., which every ABI wants there at the call; the frame keeps
//     sp 16-byte aligned, so nothing moves sp around a call. One is stored as soon as it is
//     computed unless a later argument makes a call of its own (which reuses the area): then
//     it waits in a spill slot and is copied just before the call.
//   - parameters past the argument registers are read where the caller left them, above the
//     return address and the saved registers (T::incoming_args says how far above sp).
// Printf is rewritten into IR (stores of its arguments into a stack array and a call of a
// formatting routine written in IR, ir/printf.hpp), so every target gets it for free.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <iterator>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "arch/target_policy.hpp"
#include "code/buffer.hpp"
#include "code/name_table.hpp"
#include "error.hpp"
#include "ir/nodes.hpp"
#include "ir/printf.hpp"

namespace crumble::lower {

using namespace crumble::ir;

template <class T>
using Operand = arch::Operand<typename T::Reg>;

// A list of at most Cap elements held in place: the short lists a call sequence keeps (its
// arguments, the temps it saves, its register moves). In constant evaluation each std::vector
// is an allocation and each push_back a few hundred evaluated operations of libstdc++'s
// allocator layers; these lists have a few elements and a bound known from the target.
template <class E, std::size_t Cap>
class SmallList {
 public:
  constexpr void push_back(const E& e) {
    if (n_ == Cap) detail::fail(errc::program_too_large, "(internal) call sequence list full");
    items_[n_++] = e;
  }
  constexpr std::size_t size() const { return n_; }
  constexpr bool empty() const { return n_ == 0; }
  constexpr E& operator[](std::size_t i) { return items_[i]; }
  constexpr E* begin() { return items_.data(); }
  constexpr E* end() { return items_.data() + n_; }
  // Removes element i, keeping the order of the rest.
  constexpr void erase(std::size_t i) {
    for (; i + 1 < n_; ++i) items_[i] = items_[i + 1];
    --n_;
  }

 private:
  std::array<E, Cap> items_{};
  std::size_t n_ = 0;
};

// A vector's elements as a range of plain pointers, for the lowering's walks: std::vector's
// iterators are objects, and each ++, * and != on one is an evaluated call in constant
// evaluation (about five per element, != calling base() twice, in every walk over a block or an
// argument list). The vector must outlive the range, so a temporary is refused.
template <class E>
struct Elements {
  const E* first;
  const E* last;
  constexpr const E* begin() const { return first; }
  constexpr const E* end() const { return last; }
};
template <class E>
constexpr Elements<E> elements(const std::vector<E>& v) {
  const E* first = v.data();
  return {first, first + v.size()};
}
template <class E>
void elements(const std::vector<E>&&) = delete;

template <arch::TargetPolicy T>
class Lowering {
  using Reg = typename T::Reg;
  using Buf = code::Buffer<T>;

 public:
  Buf buf;

  constexpr explicit Lowering(const Program& p) : program_(&p) {
    const bool with_printf = uses_printf(p);
    declare(p.functions.size(), [&](std::size_t i) { return p.functions[i].name; }, p.globals, with_printf);
    if (with_printf) printf_runtime_ = ir::printf_runtime();
  }

  // For assembly by function (assemble.hpp), which lowers each function in a Lowering of its
  // own and joins their buffers in another: the program's function names, in order, and its
  // globals; printf's routines are always declared. Every such Lowering then numbers the
  // functions' labels alike.
  constexpr Lowering(std::span<const std::string_view> function_names, const std::vector<Global>& globals) {
    declare(function_names.size(), [&](std::size_t i) { return function_names[i]; }, globals, true);
  }

  // The first function's label.
  constexpr code::Label entry() const { return code::Label{0}; }

  constexpr void lower_all() {  // a Lowering made from a Program (not from names: it has no bodies)
    for (const Function& f : elements(program_->functions)) lower_function(f);
    for (const Function& f : elements(printf_runtime_)) lower_function(f);
  }
  // One function, in a Lowering made from names and globals.
  constexpr void lower(const Function& f) { lower_function(f); }
  // printf's routines, as lower_all lowers them after a program that uses Printf.
  constexpr void lower_printf_runtime() {
    printf_runtime_ = ir::printf_runtime();
    for (const Function& f : elements(printf_runtime_)) lower_function(f);
  }

  static constexpr bool uses_printf(const Block& b) {
    for (const Stmt& s : elements(b)) {
      if (holds<Printf>(s)) return true;
      if (auto* i = get_if<If>(s); i && (uses_printf(i->then_body) || uses_printf(i->else_body)))
        return true;
      if (auto* w = get_if<While>(s); w && uses_printf(w->body)) return true;
    }
    return false;
  }

 private:
  struct Home {
    std::string_view name;
    int weight = 0;
    int param = -1;  // parameter index, or -1 for a local
    bool in_reg = false;
    Reg reg{};
    std::int32_t slot = 0;
  };
  struct Loop {
    code::Label top, end;
  };

  const Program* program_ = nullptr;  // null in a Lowering for assembly by function
  std::vector<Function> printf_runtime_;
  // Names resolved in constant time (code/name_table.hpp): functions to label ids, globals to
  // bss offsets; per function, variables to indices in homes_, buffers to frame offsets,
  // labels to label ids.
  code::NameTable functions_, globals_;

  // Per-function state.
  const Function* fn_ = nullptr;
  // Not std::vectors (code/pod_vector.hpp): in constant evaluation every push_back of one
  // goes through libstdc++'s allocator layers.
  code::PodVector<Home> homes_;
  code::NameTable home_index_, buffers_, labels_;
  code::PodVector<Loop> loops_;
  std::uint32_t free_temps_ = 0;  // bit i set: T::temps[i] is free
  std::int32_t spill_base_ = 0;
  int spill_depth_ = 0, spill_limit_ = 0;
  code::Label epilogue_{};
  std::uint32_t saved_homes_ = 0;  // bit i set: T::homes[i] used, saved in the prologue
  std::int32_t frame_ = 0;
  int outgoing_args_ = 0;  // most stack-passed arguments of any call in the function

  static constexpr std::uint32_t all_temps = (1u << T::temps.size()) - 1;
  // The temps by index and each register's temp index (-1: not a temp), as plain arrays: in
  // constant evaluation std::array's [] is an evaluated call, and alloc/release run for every
  // value of every expression (Clang counts those calls against -fconstexpr-steps).
  struct TempTable {
    Reg reg[T::temps.size()]{};
    std::int8_t index[256]{};
  };
  static_assert(sizeof(Reg) == 1, "a register indexes TempTable::index");
  static constexpr TempTable temp_table = [] {
    TempTable t;
    for (auto& i : t.index) i = -1;
    for (std::size_t i = 0; i < T::temps.size(); ++i) {
      t.reg[i] = T::temps[i];
      t.index[static_cast<std::uint8_t>(T::temps[i])] = static_cast<std::int8_t>(i);
    }
    return t;
  }();
  // Buffers, globals and frames stay below 1 GiB so offsets fit 32 bits with room to add.
  static constexpr std::int64_t max_size = std::int64_t{1} << 30;
  static constexpr bool sane_size(std::int64_t n) { return n >= 0 && n <= max_size; }

  // ---- program-level lookups ----------------------------------------------------------------
  constexpr code::Label function_label(std::string_view name) const {
    std::uint32_t id = functions_.find(name);
    if (id == code::NameTable::none) detail::fail(errc::undefined_function, name, where());
    return code::Label{id};
  }
  constexpr std::uint32_t global_offset(std::string_view name) const {
    std::uint32_t at = globals_.find(name);
    if (at == code::NameTable::none) detail::fail(errc::undefined_global, name, where());
    return at;
  }
  constexpr std::string_view where() const { return fn_ ? fn_->name : std::string_view{}; }

  // Labels for the functions (ids from 0, in the program's order, then printf's routines when
  // `with_printf`) and the globals' bss.
  template <class NameOf>
  constexpr void declare(std::size_t count, NameOf name_of, const std::vector<Global>& globals, bool with_printf) {
    if (count == 0) detail::fail(errc::empty_program);
    functions_.reserve(count + std::size(ir::printf_runtime_names));
    for (std::size_t i = 0; i < count; ++i)
      if (!functions_.insert(name_of(i), buf.new_label().id)) detail::fail(errc::duplicate_function, name_of(i));
    for (const Global& g : globals) {
      if (globals_.contains(g.name)) detail::fail(errc::duplicate_global, g.name);
      if (!sane_size(g.size) || g.align <= 0 || (g.align & (g.align - 1)) || g.align > max_size)
        detail::fail(errc::invalid_size, g.name);
      globals_.insert(g.name, buf.add_bss(g.size, g.align));
    }
    // A program function of the same name keeps it (insert keeps the first).
    if (with_printf)
      for (std::string_view name : ir::printf_runtime_names) functions_.insert(name, buf.new_label().id);
  }

  static constexpr bool uses_printf(const Program& p) {
    for (const Function& f : elements(p.functions))
      if (uses_printf(f.body)) return true;
    return false;
  }

  // ---- analysis: homes, labels, frame size ------------------------------------------------
  struct Analysis {
    int max_expr = 0;        // nodes in the largest expression: bounds the spill slots
    int printf_args = 0;     // most arguments of any Printf: size of the argument array
  };

  constexpr Home* home(std::string_view name) {
    std::uint32_t i = home_index_.find(name);
    return i == code::NameTable::none ? nullptr : &homes_[i];
  }
  constexpr void note_var(std::string_view name, int weight, bool assigned) {
    Home* h = home(name);
    if (!h) {
      if (!assigned) return;  // a read of a name never assigned: reported when lowered
      home_index_.insert(name, static_cast<std::uint32_t>(homes_.size()));
      homes_.push_back(Home{name});
      h = &homes_.back();
    }
    h->weight += weight;
  }
  // Notes the variables of an expression (weighted by loop depth) and returns how many nodes
  // it has: one walk for both (the spill slots are bounded by the largest expression). scan_node
  // takes the node itself, so a Call or Syscall statement is scanned without being copied into
  // an Expr.
  template <class N>
  constexpr int scan_node(const N& n, int weight) {
    if constexpr (std::is_same_v<N, Var>) {
      note_var(n.name, weight, false);
      return 1;
    } else if constexpr (std::is_same_v<N, MemVar>) return 1 + scan(n.base, weight);
    else if constexpr (std::is_same_v<N, Op>) {
      const int l = scan(n.lhs, weight);
      return 1 + l + scan(n.rhs, weight);
    } else if constexpr (std::is_same_v<N, Call>) {
      int c = 1 + scan(n.target, weight);
      for (const Expr& a : elements(n.args)) c += scan(a, weight);
      outgoing_args_ = std::max(outgoing_args_, stack_args(n.args.size()));
      return c;
    } else if constexpr (std::is_same_v<N, Syscall>) {
      int c = 1;
      for (const Expr& a : elements(n.args)) c += scan(a, weight);
      return c;
    } else if constexpr (std::is_same_v<N, CondValue>) return 1 + scan(n.cond, weight);
    else return 1;
  }
  constexpr int scan(const Expr& e, int weight) {
    return visit([&](const auto& n) { return scan_node(n, weight); }, e);
  }
  constexpr int scan(const Cond& c, int weight) {
    return visit(
        [&](const auto& n) -> int {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Compare>) {
            const int l = scan(n.lhs, weight);
            return 1 + l + scan(n.rhs, weight);
          } else if constexpr (std::is_same_v<N, IsZero> || std::is_same_v<N, IsNegative>) return 1 + scan(n.value, weight);
          else if constexpr (std::is_same_v<N, Not>) return scan(n.cond, weight);
          else {
            const int l = scan(n.lhs, weight);
            return l + scan(n.rhs, weight);
          }
        },
        c);
  }
  constexpr void scan(const Block& b, int weight, Analysis& a) {
    auto expr = [&](const Expr& e) { a.max_expr = std::max(a.max_expr, scan(e, weight)); };
    for (const Stmt& s : elements(b)) {
      visit(
          [&](const auto& n) {
            using N = std::remove_cvref_t<decltype(n)>;
            if constexpr (std::is_same_v<N, Assign>) {
              if (auto* v = get_if<Var>(n.target)) note_var(v->name, weight, true);
              else expr(n.target);
              expr(n.value);
            } else if constexpr (std::is_same_v<N, If>) {
              a.max_expr = std::max(a.max_expr, scan(n.cond, weight));
              scan(n.then_body, weight, a);
              scan(n.else_body, weight, a);
            } else if constexpr (std::is_same_v<N, While>) {
              int inner = weight < (1 << 20) ? weight * 8 : weight;
              a.max_expr = std::max(a.max_expr, scan(n.cond, inner));
              scan(n.body, inner, a);
            } else if constexpr (std::is_same_v<N, Label>) {
              if (!labels_.insert(n.name, buf.new_label().id)) detail::fail(errc::duplicate_label, n.name, where());
            } else if constexpr (std::is_same_v<N, Return>) {
              expr(n.value);
            } else if constexpr (std::is_same_v<N, Call> || std::is_same_v<N, Syscall>) {
              a.max_expr = std::max(a.max_expr, scan_node(n, weight));
            } else if constexpr (std::is_same_v<N, Printf>) {
              a.printf_args = std::max(a.printf_args, static_cast<int>(n.args.size()));
              for (const Expr& e : elements(n.args)) expr(e);
            } else if constexpr (std::is_same_v<N, CacheFlush>) {
              expr(n.base);
              expr(n.size);
            }
          },
          s);
    }
  }

  // ---- functions ----------------------------------------------------------------------------
  constexpr void lower_function(const Function& f) {
    fn_ = &f;
    homes_.clear();
    home_index_.clear();
    buffers_.clear();
    labels_.clear();
    loops_.clear();
    if (f.params.size() > max_call_arguments) detail::fail(errc::too_many_call_arguments, f.name);
    for (std::size_t i = 0; i < f.params.size(); ++i) homes_.push_back(Home{f.params[i], 1, static_cast<int>(i)});
    for (std::size_t i = 0; i < homes_.size(); ++i)  // the parameters' homes; a repeated name keeps the first
      home_index_.insert(homes_[i].name, static_cast<std::uint32_t>(i));
    outgoing_args_ = 0;
    Analysis a;
    scan(f.body, 1, a);

    // The most used variables get the callee-saved registers (stable: ties keep source order).
    code::PodVector<Home*> order;
    order.reserve(homes_.size());
    for (Home& h : homes_) order.push_back(&h);
    for (std::size_t i = 1; i < order.size(); ++i)  // insertion sort: constexpr, stable, n is small
      for (std::size_t j = i; j > 0 && order[j - 1]->weight < order[j]->weight; --j) std::swap(order[j - 1], order[j]);
    saved_homes_ = 0;
    std::int32_t off = 8 * outgoing_args_;  // [sp, sp + off): arguments of calls, past the registers
    spill_limit_ = a.max_expr + 1;
    spill_base_ = off;
    off += 8 * spill_limit_;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (i < T::homes.size()) {
        order[i]->in_reg = true;
        order[i]->reg = T::homes[i];
        saved_homes_ |= 1u << i;
      } else if (order[i]->param >= static_cast<int>(T::call_args.size())) {
        continue;  // stays where the caller put it: the slot is set once the frame is known
      } else {
        order[i]->slot = off;
        off += 8;
      }
    }
    auto place = [&](const Buffer& b) {  // the function's buffers, then Printf's argument array
      if (buffers_.contains(b.name)) detail::fail(errc::duplicate_buffer, b.name, f.name);
      if (!sane_size(b.size) || off > max_size) detail::fail(errc::invalid_size, b.name, f.name);
      off = static_cast<std::int32_t>(code::align_up(off, 16));
      buffers_.insert(b.name, static_cast<std::uint32_t>(off));
      off += static_cast<std::int32_t>(code::align_up(b.size, 8));
    };
    for (const Buffer& b : f.buffers) place(b);
    if (a.printf_args) place(Buffer{printf_argv, 8 * a.printf_args});
    if (off > max_size) detail::fail(errc::invalid_size, "stack frame", f.name);
    frame_ = T::frame_size(off, saved_homes_);
    const std::int32_t incoming = T::incoming_args(frame_, saved_homes_);
    for (Home& h : homes_)
      if (h.param >= static_cast<int>(T::call_args.size()))
        h.slot = incoming + 8 * (h.param - static_cast<int>(T::call_args.size()));

    buf.bind(function_label(f.name));
    epilogue_ = buf.new_label();
    T::prologue(buf, saved_homes_, frame_);
    free_temps_ = all_temps;
    spill_depth_ = 0;
    for (const Home& h : homes_) {  // parameters move to their homes, locals start at zero
      if (h.param >= static_cast<int>(T::call_args.size())) {  // passed on the stack
        if (h.in_reg) T::load(buf, h.reg, T::sp, h.slot, 64, false);
      } else if (h.param >= 0) {
        Reg arg = T::call_args[h.param];
        if (h.in_reg) T::mov(buf, h.reg, arg);
        else T::store(buf, T::sp, h.slot, arg, 64);
      } else if (h.in_reg) {
        T::mov_imm(buf, h.reg, 0);
      } else {
        T::mov_imm(buf, T::scratch, 0);
        T::store(buf, T::sp, h.slot, T::scratch, 64);
      }
    }
    block(f.body);
    if (f.body.empty() || !holds<Return>(f.body.back())) T::mov_imm(buf, T::ret, 0);  // falling off the end returns 0
    buf.bind(epilogue_);
    T::epilogue(buf, saved_homes_, frame_);
    fn_ = nullptr;
  }

  // ---- temps and spill slots ----------------------------------------------------------------
  struct Value {
    Reg reg;
    bool owned;  // a temp this expression must free
  };
  constexpr int free_count() const { return std::popcount(free_temps_); }
  constexpr Reg alloc() {
    if (!free_temps_) detail::fail(errc::program_too_large, "expression needs more temporaries than available", where());
    int i = std::countr_zero(free_temps_);
    free_temps_ &= ~(1u << i);
    return temp_table.reg[i];
  }
  constexpr int temp_index(Reg r) const { return temp_table.index[static_cast<std::uint8_t>(r)]; }
  constexpr void release(Value v) {
    if (v.owned) free_temps_ |= 1u << temp_index(v.reg);
  }
  constexpr void claim(Reg r) { free_temps_ &= ~(1u << temp_index(r)); }
  constexpr std::int32_t push_slot() {
    if (spill_depth_ >= spill_limit_) detail::fail(errc::program_too_large, "spill slots exhausted", where());
    return spill_base_ + 8 * spill_depth_++;
  }

  // Temps a subtree needs while it is evaluated (Sethi–Ullman number).
  static constexpr int need(const Expr& e) {
    return visit(
        [](const auto& n) -> int {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, MemVar>) return need(n.base);
          else if constexpr (std::is_same_v<N, Op>) return std::max(need(n.lhs), need(n.rhs) + 1);
          else if constexpr (std::is_same_v<N, Call> || std::is_same_v<N, Syscall>) {
            // Arguments for registers are held in temps until the call; those for the stack are not.
            const int held = static_cast<int>(std::min(n.args.size(), T::call_args.size()));
            int k = held + 1, i = 0;  // i: the argument's index
            for (const Expr& a : elements(n.args)) {
              k = std::max(k, need(a) + std::min(i, held));
              ++i;
            }
            return k;
          } else if constexpr (std::is_same_v<N, CondValue>) return 3;
          else return 1;
        },
        e);
  }

  // ---- expressions --------------------------------------------------------------------------
  // The integer kinds are consecutive in ExprKinds: most expressions asked are not constants,
  // and they are told so by two comparisons, without a visit.
  using ExprNode = node_of<ExprKinds>;
  static_assert(ExprNode::index_of<Int32> == ExprNode::index_of<Int64> + 1 &&
                ExprNode::index_of<Int16> == ExprNode::index_of<Int64> + 2 &&
                ExprNode::index_of<Int8> == ExprNode::index_of<Int64> + 3);
  static constexpr bool constant(const Expr& e, std::int64_t& v) {
    const std::size_t k = e.node.index();
    if (k < ExprNode::index_of<Int64> || k > ExprNode::index_of<Int8>) return false;
    return visit(
        [&](const auto& n) {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Int64> || std::is_same_v<N, Int32> || std::is_same_v<N, Int16> ||
                        std::is_same_v<N, Int8>) {
            v = n.sign_extended();
            return true;
          } else return false;
        },
        e);
  }

  constexpr Value var(std::string_view name) {
    Home* h = home(name);
    if (!h) detail::fail(errc::undefined_variable, name, where());
    if (h->in_reg) return Value{h->reg, false};
    Reg t = alloc();
    T::load(buf, t, T::sp, h->slot, 64, false);
    return Value{t, true};
  }

  constexpr Value eval(const Expr& e) {
    return visit([&](const auto& n) { return eval_node(n); }, e);
  }
  constexpr Operand<T> operand(const Expr& e) {
    std::int64_t v = 0;
    if (constant(e, v)) return Operand<T>{true, Reg{}, v};
    Value x = eval(e);
    return Operand<T>{false, x.reg, x.owned ? 1 : 0};  // imm field remembers ownership
  }
  constexpr void release(const Operand<T>& o) {
    if (!o.is_imm) release(Value{o.reg, o.imm != 0});
  }
  // A register that may be overwritten: the value itself if it is an owned temp, else a copy.
  constexpr Value writable(Value v) {
    if (v.owned) return v;
    Reg t = alloc();
    T::mov(buf, t, v.reg);
    return Value{t, true};
  }

  constexpr Value eval_node(const Var& n) { return var(n.name); }
  template <int B>
  constexpr Value eval_node(const Int<B>& n) {
    Reg t = alloc();
    T::mov_imm(buf, t, n.sign_extended());
    return Value{t, true};
  }
  constexpr Value eval_node(const GlobalVar& n) {
    Reg t = alloc();
    T::address_of(buf, t, code::Section::bss, global_offset(n.name));
    T::load(buf, t, t, 0, 64, false);
    return Value{t, true};
  }
  constexpr Value eval_node(const GlobalAddr& n) {
    Reg t = alloc();
    T::address_of(buf, t, code::Section::bss, global_offset(n.name));
    return Value{t, true};
  }
  constexpr Value eval_node(const FuncAddr& n) {
    Reg t = alloc();
    T::address_of(buf, t, code::Section::code, function_label(n.name).id);
    return Value{t, true};
  }
  constexpr Value eval_node(const Embed& n) {
    Reg t = alloc();
    T::address_of(buf, t, code::Section::rodata, buf.add_rodata(n.bytes, n.nul));
    return Value{t, true};
  }
  constexpr Value eval_node(const BufferAddr& n) {
    std::uint32_t at = buffers_.find(n.name);
    if (at == code::NameTable::none) detail::fail(errc::undefined_buffer, n.name, where());
    Reg t = alloc();
    T::stack_address(buf, t, static_cast<std::int32_t>(at));
    return Value{t, true};
  }
  static constexpr void check_width(int w, std::string_view fn) {
    if (w != 8 && w != 16 && w != 32 && w != 64) detail::fail(errc::invalid_width, {}, fn);
  }
  constexpr Value eval_node(const MemVar& n) {
    check_width(n.width, where());
    Value base = eval(n.base);
    Value d = base.owned ? base : Value{alloc(), true};
    T::load(buf, d.reg, base.reg, n.disp, n.width, n.extend == Extend::sign);
    return d;
  }
  // Evaluates lhs into a register and rhs into an operand (an immediate when it is a constant
  // and `imm_ok`). If rhs needs more temps than are free while lhs holds one, lhs waits in a
  // spill slot meanwhile.
  constexpr std::pair<Value, Operand<T>> pair(const Expr& lhs, const Expr& rhs, bool imm_ok = true) {
    Value a = eval(lhs);
    std::int64_t c = 0;
    if (imm_ok && constant(rhs, c)) return {a, Operand<T>{true, Reg{}, c}};
    if (!a.owned || free_count() >= need(rhs)) {
      Value b = eval(rhs);
      return {a, Operand<T>{false, b.reg, b.owned ? 1 : 0}};
    }
    std::int32_t slot = push_slot();
    T::store(buf, T::sp, slot, a.reg, 64);
    release(a);
    Value b = eval(rhs);
    a = Value{alloc(), true};
    T::load(buf, a.reg, T::sp, slot, 64, false);
    --spill_depth_;
    return {a, Operand<T>{false, b.reg, b.owned ? 1 : 0}};
  }
  constexpr Value eval_node(const Op& n) {
    auto [a, b] = pair(n.lhs, n.rhs);
    Value d = a.owned ? a : Value{alloc(), true};
    T::binop(buf, n.kind, d.reg, a.reg, b);
    release(b);
    return d;
  }
  // The condition is evaluated before the result register is taken, so it has every temp.
  constexpr Value eval_node(const CondValue& n) {
    code::Label otherwise = buf.new_label(), done = buf.new_label();
    branch(n.cond, false, otherwise);
    Reg d = alloc();
    T::mov_imm(buf, d, 1);
    T::jump(buf, done);
    buf.bind(otherwise);
    T::mov_imm(buf, d, 0);
    buf.bind(done);
    return Value{d, true};
  }
  // Arguments a call with `n` passes on the stack.
  static constexpr int stack_args(std::size_t n) {
    return n > T::call_args.size() ? static_cast<int>(n - T::call_args.size()) : 0;
  }
  // True when evaluating e makes a call (which writes the outgoing-argument area).
  static constexpr bool makes_call(const Expr& e) {
    return visit(
        [](const auto& n) -> bool {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Call>) return true;
          else if constexpr (std::is_same_v<N, MemVar>) return makes_call(n.base);
          else if constexpr (std::is_same_v<N, Op>) return makes_call(n.lhs) || makes_call(n.rhs);
          else if constexpr (std::is_same_v<N, Syscall>) {
            for (const Expr& a : elements(n.args))
              if (makes_call(a)) return true;
            return false;
          } else if constexpr (std::is_same_v<N, CondValue>) return makes_call(n.cond);
          else return false;
        },
        e);
  }
  static constexpr bool makes_call(const Cond& c) {
    return visit(
        [](const auto& n) -> bool {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Compare>) return makes_call(n.lhs) || makes_call(n.rhs);
          else if constexpr (std::is_same_v<N, IsZero> || std::is_same_v<N, IsNegative>) return makes_call(n.value);
          else if constexpr (std::is_same_v<N, Not>) return makes_call(n.cond);
          else return makes_call(n.lhs) || makes_call(n.rhs);
        },
        c);
  }

  constexpr Value eval_node(const Call& n) {
    if (n.args.size() > max_call_arguments) {
      auto* f = get_if<FuncAddr>(n.target);
      detail::fail(errc::too_many_call_arguments, f ? f->name : std::string_view{}, where());
    }
    if (auto* f = get_if<FuncAddr>(n.target)) return call_direct(function_label(f->name), n.args.data(), n.args.size());
    return call_sequence(n.args.data(), n.args.size(), T::call_args, &n.target, [&] { T::call_indirect(buf); });
  }
  constexpr Value call_direct(code::Label l, const Expr* args, std::size_t count) {
    return call_sequence(args, count, T::call_args, nullptr, [&] { T::call(buf, l); });
  }
  constexpr Value eval_node(const Syscall& n) {
    if (n.args.size() > T::syscall_args.size()) detail::fail(errc::too_many_syscall_arguments, {}, where());
    int nr = T::syscall_number(n.nr);
    if (nr == absent_syscall) detail::fail(errc::unknown_syscall, ir::name(n.nr), T::name);
    return call_sequence(n.args.data(), n.args.size(), T::syscall_args, nullptr, [&] { T::syscall(buf, nr); });
  }

  // Evaluates arguments (and an indirect target), saves live temps, moves the values into the
  // ABI registers and the outgoing-argument area, emits the call, restores the temps and
  // returns the result in a fresh temp. Only calls pass more arguments than `regs` holds.
  template <std::size_t N, class Emit>
  constexpr Value call_sequence(const Expr* args, std::size_t count, const std::array<Reg, N>& regs,
                                const Expr* target, Emit emit) {
    struct Arg {
      enum { imm, reg, slot } where;
      Reg r;
      std::int64_t v;  // immediate or slot offset
      bool owned;
      Reg dst;
    };
    SmallList<Arg, N + 1> vals;  // the target and the register arguments
    const std::uint32_t live_before = all_temps & ~free_temps_;
    const int depth_before = spill_depth_;
    auto spill_held = [&] {
      for (Arg& a : vals)
        if (a.where == Arg::reg && a.owned) {
          std::int32_t s = push_slot();
          T::store(buf, T::sp, s, a.r, 64);
          release(Value{a.r, true});
          a = Arg{Arg::slot, Reg{}, s, false, a.dst};
        }
    };
    auto add = [&](const Expr& e, Reg dst) {
      std::int64_t c = 0;
      if (constant(e, c)) {
        vals.push_back(Arg{Arg::imm, Reg{}, c, false, dst});
        return;
      }
      if (free_count() < need(e)) spill_held();
      Value v = eval(e);
      vals.push_back(Arg{Arg::reg, v.reg, 0, v.owned, dst});
    };
    if (target) add(*target, T::call_target);
    const Reg* reg = regs.data();  // not std::array's [] (an evaluated call per argument)
    for (std::size_t i = 0; i < count && i < N; ++i) add(args[i], reg[i]);

    // The rest go to [sp + 8k]. Until the last nested call among them has been made, a
    // computed one waits in a spill slot; constants and slots are copied in at the end.
    struct StackArg {
      std::int32_t to;
      bool is_imm;
      std::int64_t v;  // immediate or spill slot
    };
    SmallList<StackArg, max_call_arguments> late;
    std::size_t last_call = N;  // no argument from here on makes a call
    for (std::size_t i = count; i-- > N;)
      if (makes_call(args[i])) {
        last_call = i + 1;
        break;
      }
    for (std::size_t i = N; i < count; ++i) {
      const auto to = static_cast<std::int32_t>(8 * (i - N));
      std::int64_t c = 0;
      if (constant(args[i], c)) {
        late.push_back(StackArg{to, true, c});
        continue;
      }
      if (free_count() < need(args[i])) spill_held();
      Value v = eval(args[i]);
      if (i + 1 < last_call) {
        std::int32_t s = push_slot();
        T::store(buf, T::sp, s, v.reg, 64);
        late.push_back(StackArg{to, false, s});
      } else {
        T::store(buf, T::sp, to, v.reg, 64);
      }
      release(v);
    }

    // Temps live before this call (held by enclosing expressions) are clobbered by it.
    SmallList<std::pair<Reg, std::int32_t>, T::temps.size()> saved;
    for (std::size_t i = 0; i < T::temps.size(); ++i)
      if (live_before & (1u << i)) {
        std::int32_t s = push_slot();
        T::store(buf, T::sp, s, T::temps[i], 64);
        saved.push_back({T::temps[i], s});
      }

    // Before the register moves: T::scratch may be the indirect-call target.
    for (const StackArg& s : late) {
      if (s.is_imm) T::mov_imm(buf, T::scratch, s.v);
      else T::load(buf, T::scratch, T::sp, static_cast<std::int32_t>(s.v), 64, false);
      T::store(buf, T::sp, s.to, T::scratch, 64);
    }

    Moves<N + 1> moves;  // (dst, src)
    for (const Arg& a : vals)
      if (a.where == Arg::reg && a.r != a.dst) moves.push_back({a.dst, a.r});
    parallel_move(moves);
    for (const Arg& a : vals) {
      if (a.where == Arg::slot) T::load(buf, a.dst, T::sp, static_cast<std::int32_t>(a.v), 64, false);
      if (a.where == Arg::imm) T::mov_imm(buf, a.dst, a.v);
      if (a.where == Arg::reg) release(Value{a.r, a.owned});
    }
    emit();
    for (const auto& [r, s] : saved) T::load(buf, r, T::sp, s, 64, false);
    spill_depth_ = depth_before;
    Reg d = alloc();
    T::mov(buf, d, T::ret);
    return Value{d, true};
  }

  template <std::size_t Cap>
  using Moves = SmallList<std::pair<Reg, Reg>, Cap>;
  // Moves (dst <- src) as if all at once. Destinations are distinct.
  template <std::size_t Cap>
  constexpr void parallel_move(Moves<Cap>& moves) {
    while (!moves.empty()) {
      bool progressed = false;
      for (std::size_t i = 0; i < moves.size(); ++i) {
        bool read_later = false;
        for (std::size_t j = 0; j < moves.size(); ++j)
          if (j != i && moves[j].second == moves[i].first) read_later = true;
        if (!read_later) {
          T::mov(buf, moves[i].first, moves[i].second);
          moves.erase(i);
          progressed = true;
          break;
        }
      }
      if (progressed) continue;
      // Only cycles remain: swap, then whoever read either register reads the other.
      auto [d, s] = moves[0];
      T::swap(buf, d, s);
      moves.erase(0);
      for (auto& m : moves) {
        if (m.second == d) m.second = s;
        else if (m.second == s) m.second = d;
      }
      for (std::size_t i = moves.size(); i-- > 0;)
        if (moves[i].first == moves[i].second) moves.erase(i);
    }
  }

  // ---- conditions ---------------------------------------------------------------------------
  static constexpr Cmp negate(Cmp c) {
    switch (c) {
      case Cmp::Eq: return Cmp::Ne;
      case Cmp::Ne: return Cmp::Eq;
      case Cmp::Lt: return Cmp::Ge;
      case Cmp::Ge: return Cmp::Lt;
      case Cmp::Le: return Cmp::Gt;
      case Cmp::Gt: return Cmp::Le;
      case Cmp::ULt: return Cmp::UGe;
      case Cmp::UGe: return Cmp::ULt;
      case Cmp::ULe: return Cmp::UGt;
      case Cmp::UGt: return Cmp::ULe;
    }
    return c;
  }
  constexpr void compare(Cmp k, const Expr& lhs, const Expr& rhs, bool when, code::Label target) {
    auto [a, b] = pair(lhs, rhs);
    T::branch(buf, when ? k : negate(k), a.reg, b, target);
    release(b);
    release(a);
  }
  // Jumps to target when the condition's truth equals `when`; falls through otherwise.
  constexpr void branch(const Cond& c, bool when, code::Label target) {
    visit(
        [&](const auto& n) {
          using N = std::remove_cvref_t<decltype(n)>;
          if constexpr (std::is_same_v<N, Compare>) compare(n.kind, n.lhs, n.rhs, when, target);
          else if constexpr (std::is_same_v<N, IsZero>) compare(Cmp::Eq, n.value, Int64{0}, when, target);
          else if constexpr (std::is_same_v<N, IsNegative>) compare(Cmp::Lt, n.value, Int64{0}, when, target);
          else if constexpr (std::is_same_v<N, Not>) branch(n.cond, !when, target);
          else {
            constexpr bool is_and = std::is_same_v<N, And>;
            if (when == is_and) {  // both must decide: skip the second test when the first settles it
              code::Label skip = buf.new_label();
              branch(n.lhs, !when, skip);
              branch(n.rhs, when, target);
              buf.bind(skip);
            } else {
              branch(n.lhs, when, target);
              branch(n.rhs, when, target);
            }
          }
        },
        c);
  }

  // ---- statements ---------------------------------------------------------------------------
  constexpr void block(const Block& b) {
    for (const Stmt& s : elements(b)) visit([&](const auto& n) { stmt(n); }, s);
  }

  constexpr void stmt(const Assign& n) {
    visit(
        [&](const auto& t) {
          using N = std::remove_cvref_t<decltype(t)>;
          if constexpr (std::is_same_v<N, Var>) assign_var(t.name, n.value);
          else if constexpr (std::is_same_v<N, GlobalVar>) {
            Value v = eval(n.value);
            Reg a = alloc();
            T::address_of(buf, a, code::Section::bss, global_offset(t.name));
            T::store(buf, a, 0, v.reg, 64);
            release(Value{a, true});
            release(v);
          } else if constexpr (std::is_same_v<N, MemVar>) {
            check_width(t.width, where());
            auto [base, v] = pair(t.base, n.value, false);
            T::store(buf, base.reg, t.disp, v.reg, t.width);
            release(v);
            release(base);
          } else {
            detail::fail(errc::invalid_assignment_target, {}, where());
          }
        },
        n.target);
  }
  constexpr void assign_var(std::string_view name, const Expr& value) {
    Home* h = home(name);
    std::int64_t c = 0;
    if (h->in_reg && constant(value, c)) {
      T::mov_imm(buf, h->reg, c);
      return;
    }
    // x = x op y with x in a register: operate in place.
    if (auto* op = get_if<Op>(value); op && h->in_reg) {
      if (auto* lhs = get_if<Var>(op->lhs); lhs && lhs->name == name) {
        Operand<T> b = operand(op->rhs);
        T::binop(buf, op->kind, h->reg, h->reg, b);
        release(b);
        return;
      }
    }
    Value v = eval(value);
    if (h->in_reg) {
      if (v.reg != h->reg) T::mov(buf, h->reg, v.reg);
    } else {
      T::store(buf, T::sp, h->slot, v.reg, 64);
    }
    release(v);
  }
  constexpr void stmt(const If& n) {
    code::Label end = buf.new_label();
    if (n.else_body.empty()) {
      branch(n.cond, false, end);
      block(n.then_body);
    } else {
      code::Label otherwise = buf.new_label();
      branch(n.cond, false, otherwise);
      block(n.then_body);
      T::jump(buf, end);
      buf.bind(otherwise);
      block(n.else_body);
    }
    buf.bind(end);
  }
  // Test at the bottom: one taken branch per iteration.
  constexpr void stmt(const While& n) {
    code::Label body = buf.new_label(), test = buf.new_label(), end = buf.new_label();
    loops_.push_back(Loop{test, end});
    T::jump(buf, test);
    buf.bind(body);
    block(n.body);
    buf.bind(test);
    branch(n.cond, true, body);
    buf.bind(end);
    loops_.pop_back();
  }
  constexpr void stmt(const Break&) {
    if (loops_.empty()) detail::fail(errc::break_outside_loop, {}, where());
    T::jump(buf, loops_.back().end);
  }
  constexpr void stmt(const Continue&) {
    if (loops_.empty()) detail::fail(errc::break_outside_loop, {}, where());
    T::jump(buf, loops_.back().top);
  }
  constexpr void stmt(const Label& n) { buf.bind(code::Label{labels_.find(n.name)}); }
  constexpr void stmt(const Goto& n) {
    std::uint32_t id = labels_.find(n.name);
    if (id == code::NameTable::none) detail::fail(errc::undefined_label, n.name, where());
    T::jump(buf, code::Label{id});
  }
  constexpr void stmt(const Return& n) {
    std::int64_t c = 0;
    if (constant(n.value, c)) {
      T::mov_imm(buf, T::ret, c);
    } else {
      Value v = eval(n.value);
      T::mov(buf, T::ret, v.reg);
      release(v);
    }
    T::jump(buf, epilogue_);
  }
  constexpr void stmt(const Call& n) { release(eval_node(n)); }
  constexpr void stmt(const Syscall& n) { release(eval_node(n)); }
  constexpr void stmt(const Printf& n) {
    int specs = ir::printf_arguments(n.format);
    if (specs < 0) detail::fail(errc::invalid_printf_format, n.format, where());
    if (specs != static_cast<int>(n.args.size())) detail::fail(errc::printf_argument_count, n.format, where());
    // Argument i is stored as Assign{MemVar{argv, 8 * i}, arg} is (stmt(Assign) for a MemVar
    // target), without copying the argument into such a node.
    const Expr argv = BufferAddr{printf_argv};
    std::int64_t at = 0;
    for (const Expr& arg : elements(n.args)) {
      auto [base, v] = pair(argv, arg, false);
      T::store(buf, base.reg, at, v.reg, 64);
      at += 8;
      release(v);
      release(base);
    }
    // The call __crumble_printf(format, argv or 0), its two arguments in place: no Call node
    // and no std::vector of arguments per Printf.
    Expr call_args[2] = {Embed{n.format, true}, Int64{0}};
    if (!n.args.empty()) call_args[1] = BufferAddr{printf_argv};
    release(call_direct(function_label(ir::printf_function), call_args, 2));
  }
  constexpr void stmt(const CacheFlush& n) {
    Value base = eval(n.base);
    Value size = eval(n.size);
    T::cache_flush(buf, base.reg, size.reg);
    release(size);
    release(base);
  }
  constexpr void stmt(const InstructionBarrier&) { T::instruction_barrier(buf); }

  static constexpr std::string_view printf_argv = "__crumble_printf_argv";
};

}  // namespace crumble::lower
