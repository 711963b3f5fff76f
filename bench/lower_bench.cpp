// SPDX-License-Identifier: Apache-2.0
// lower_bench — run-time cost of crumble::assemble<Target>(program) for Target = arch::amd64,
// arch::arm64 and arch::riscv64: lowering + encoding + linking (branch relaxation, relocations)
// of one generated IR program. The program is architecture-neutral (its syscalls, write, getpid
// and clock_gettime, exist on all three), so the same nodes are lowered for every target.
//
// The program is generated once, outside the timed loop, from a fixed seed: many functions of
// moderate size (~150 nodes) with parameters, 8 locals (so some live in stack slots), a 64-byte
// stack buffer, assignments, arithmetic (add/sub/mul/and/or/xor/shifts, some div/rem), nested
// if/else, while loops (some with break), direct calls (as statements and inside expressions),
// loads and stores of 8..64 bits on the stack buffer, globals, syscalls (write of embedded
// strings, getpid, clock_gettime) and a return. Printf is not used: its run-time routine would
// add ~100 IR statements that are lowered but not in the node count.
//
// Nodes are counted honestly by a separate walk: every Expr, Cond and Stmt node is one (an
// assignment's target Var is a node, Not is a node, a Call statement is one node plus its
// target and arguments). Reported: items_per_second = nodes/s, bytes_per_second = code bytes/s.
//
//   lower/assemble/ARCH/N   crumble::assemble<arch::ARCH>(program), program of ~N nodes
//   lower/phase/lower/ARCH  Lowering construction + lower_all() only (no link), 10k nodes
//   lower/phase/link/ARCH   Buffer::finish() only, on an already lowered 10k-node program
#include <benchmark/benchmark.h>

#include <crumble/arch/amd64/target.hpp>
#include <crumble/arch/arm64/target.hpp>
#include <crumble/arch/riscv64/target.hpp>
#include <crumble/assemble.hpp>
#include <crumble/ir/build.hpp>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace crumble::ir;

// ---- honest node count ----------------------------------------------------------------------
std::size_t nodes(const Expr& e);
std::size_t nodes(const Cond& c);
std::size_t nodes(const Block& b);

std::size_t nodes(const Expr& e) {
  return 1 + visit(
                 [](const auto& n) -> std::size_t {
                   using N = std::remove_cvref_t<decltype(n)>;
                   if constexpr (std::is_same_v<N, MemVar>) return nodes(n.base);
                   else if constexpr (std::is_same_v<N, Op>) return nodes(n.lhs) + nodes(n.rhs);
                   else if constexpr (std::is_same_v<N, Call>) {
                     std::size_t c = nodes(n.target);
                     for (const Expr& a : n.args) c += nodes(a);
                     return c;
                   } else if constexpr (std::is_same_v<N, Syscall>) {
                     std::size_t c = 0;
                     for (const Expr& a : n.args) c += nodes(a);
                     return c;
                   } else if constexpr (std::is_same_v<N, CondValue>) return nodes(n.cond);
                   else return 0;
                 },
                 e);
}
std::size_t nodes(const Cond& c) {
  return 1 + visit(
                 [](const auto& n) -> std::size_t {
                   using N = std::remove_cvref_t<decltype(n)>;
                   if constexpr (std::is_same_v<N, Compare>) return nodes(n.lhs) + nodes(n.rhs);
                   else if constexpr (std::is_same_v<N, IsZero> || std::is_same_v<N, IsNegative>) return nodes(n.value);
                   else if constexpr (std::is_same_v<N, Not>) return nodes(n.cond);
                   else return nodes(n.lhs) + nodes(n.rhs);
                 },
                 c);
}
std::size_t nodes(const Block& b) {
  std::size_t total = 0;
  for (const Stmt& s : b)
    total += 1 + visit(
                     [](const auto& n) -> std::size_t {
                       using N = std::remove_cvref_t<decltype(n)>;
                       if constexpr (std::is_same_v<N, Assign>) return nodes(n.target) + nodes(n.value);
                       else if constexpr (std::is_same_v<N, If>)
                         return nodes(n.cond) + nodes(n.then_body) + nodes(n.else_body);
                       else if constexpr (std::is_same_v<N, While>) return nodes(n.cond) + nodes(n.body);
                       else if constexpr (std::is_same_v<N, Return>) return nodes(n.value);
                       else if constexpr (std::is_same_v<N, Call> || std::is_same_v<N, Syscall>)
                         return nodes(Expr{n}) - 1;  // the statement is the node itself
                       else if constexpr (std::is_same_v<N, Printf>) {
                         std::size_t c = 0;
                         for (const Expr& a : n.args) c += nodes(a);
                         return c;
                       } else if constexpr (std::is_same_v<N, CacheFlush>) return nodes(n.base) + nodes(n.size);
                       else return 0;
                     },
                     s);
  return total;
}
std::size_t nodes(const Program& p) {
  std::size_t total = 0;
  for (const Function& f : p.functions) total += nodes(f.body);
  return total;
}

// ---- generator ------------------------------------------------------------------------------
constexpr const char* var_names[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"};
constexpr const char* param_names[] = {"p0", "p1", "p2", "p3"};
constexpr const char* global_names[] = {"counter", "state", "total", "flags"};
constexpr const char* messages[] = {"starting\n", "mount failed\n", "ok\n", "retrying\n", "done\n", "error: bad state\n"};

struct Generated {
  std::deque<std::string> names;  // function names: string_views in the program point here
  Program program;
  std::size_t node_count = 0;
  std::size_t generated = 0;  // functions with a generated body (the rest are one-line leaves)
};

class Generator {
 public:
  explicit Generator(std::uint32_t seed) : seed_(seed) {}

  // Functions are generated until the node budget is reached; calls name functions of a pool
  // whose size is the number of functions a first (pilot) run needed, so nearly every callee is
  // a generated function; the few pool names left over get a one-line body.
  Generated make(std::size_t target_nodes) {
    std::size_t pool = run(target_nodes, target_nodes / 20 + 2).generated;
    for (;; ++pool) {  // the draws depend on the pool size: grow it until the budget is met
      Generated g = run(target_nodes, pool);
      if (g.node_count >= target_nodes || g.generated < pool) return g;
    }
  }

 private:
  std::uint32_t seed_;
  std::mt19937 rng_;
  Generated* g_ = nullptr;
  std::vector<int> arity_;
  int params_ = 0;

  Generated run(std::size_t target_nodes, std::size_t pool) {
    Generated g;
    g_ = &g;
    rng_.seed(seed_);
    arity_.clear();
    for (const char* n : global_names) g.program.globals.push_back(Global{n});
    for (std::size_t i = 0; i < pool; ++i) {
      g.names.push_back(i == 0 ? std::string("main") : "fn" + std::to_string(i));
      arity_.push_back(i == 0 ? 0 : pick(0, 3));
    }
    std::size_t total = 0;
    for (std::size_t i = 0; i < pool && total < target_nodes; ++i) {
      Function f{g.names[i]};
      for (int p = 0; p < arity_[i]; ++p) f.params.push_back(param_names[p]);
      f.buffers.push_back(Buffer{"buf", 64});
      params_ = arity_[i];
      f.body = body();
      total += nodes(f.body);
      g.program.functions.push_back(std::move(f));
    }
    g.generated = g.program.functions.size();
    for (std::size_t i = g.generated; i < pool; ++i) {
      Function f{g.names[i]};
      for (int p = 0; p < arity_[i]; ++p) f.params.push_back(param_names[p]);
      f.body = {Return{arity_[i] ? Expr(Var{param_names[0]}) + Int64{static_cast<std::int64_t>(i)} : Expr(Int64{7})}};
      g.program.functions.push_back(std::move(f));
    }
    g.node_count = nodes(g.program);
    g_ = nullptr;
    return g;
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(0, 99) < percent; }

  Expr var() {
    int n = 8 + params_;
    int i = pick(0, n - 1);
    return i < 8 ? Expr(Var{var_names[i]}) : Expr(Var{param_names[i - 8]});
  }
  Expr constant() {
    switch (pick(0, 5)) {
      case 0: return Int64{static_cast<std::int64_t>(rng_()) << 20};  // needs movabs
      case 1: return Int32{pick(-100000, 100000)};
      default: return Int64{pick(0, 100)};
    }
  }
  Expr buf_load() {
    int width = 8 << pick(0, 3);
    return load(BufferAddr{"buf"}, 8 * pick(0, 7), width, chance(30) ? Extend::sign : Extend::zero);
  }
  Call call_expr(int depth) {
    auto callee = static_cast<std::size_t>(pick(1, static_cast<int>(arity_.size()) - 1));
    std::vector<Expr> args;
    for (int a = 0; a < arity_[callee]; ++a) args.push_back(expr(depth + 1));
    return Call{FuncAddr{g_->names[callee]}, std::move(args)};
  }

  Expr expr(int depth) {
    if (depth >= 3 || chance(depth == 0 ? 20 : 45)) {
      int r = pick(0, 99);
      if (r < 60) return var();
      if (r < 88) return constant();
      if (r < 93) return GlobalVar{global_names[pick(0, 3)]};
      return buf_load();
    }
    int r = pick(0, 99);
    if (r < 6 && depth < 2) return call_expr(depth);
    if (r < 9) return CondValue{cond(depth + 1)};
    static constexpr OpKind common[] = {OpKind::Add, OpKind::Add, OpKind::Sub, OpKind::Mul,
                                        OpKind::And, OpKind::Or,  OpKind::Xor, OpKind::Add};
    if (r < 16) {
      static constexpr OpKind shifts[] = {OpKind::Shl, OpKind::Shr, OpKind::Sar};
      Expr amount = chance(80) ? Expr(Int64{pick(1, 63)}) : var();
      return op(shifts[pick(0, 2)], expr(depth + 1), std::move(amount));
    }
    if (r < 20) {
      static constexpr OpKind divs[] = {OpKind::Div, OpKind::UDiv, OpKind::Rem, OpKind::URem};
      return op(divs[pick(0, 3)], expr(depth + 1), expr(depth + 1));
    }
    return op(common[pick(0, 7)], expr(depth + 1), expr(depth + 1));
  }

  Cond cond(int depth) {
    int r = pick(0, 99);
    if (depth < 2 && r < 12) return expr_cmp(depth) && expr_cmp(depth);
    if (depth < 2 && r < 20) return expr_cmp(depth) || expr_cmp(depth);
    if (r < 25) return !expr_cmp(depth);
    if (r < 30) return IsZero{expr(depth + 1)};
    return expr_cmp(depth);
  }
  Cond expr_cmp(int depth) {
    static constexpr Cmp cmps[] = {Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::ULt, Cmp::UGe};
    Expr rhs = chance(60) ? constant() : expr(depth + 2);
    return cmp(cmps[pick(0, 7)], expr(depth + 2), std::move(rhs));
  }

  Stmt assign_var(Expr value) {
    int n = 8 + params_;
    int i = pick(0, n - 1);
    Expr target = i < 8 ? Expr(Var{var_names[i]}) : Expr(Var{param_names[i - 8]});
    return Assign{std::move(target), std::move(value)};
  }

  Stmt stmt(int nest) {
    int r = pick(0, 99);
    if (r < 30) return assign_var(expr(0));
    if (r < 36) {  // x = x op y: the in-place form
      int i = pick(0, 7);
      return Assign{Var{var_names[i]}, Expr(Var{var_names[i]}) + expr(1)};
    }
    if (r < 44) return store(BufferAddr{"buf"}, 8 * pick(0, 7), 8 << pick(0, 3), expr(1));
    if (r < 49) return assign_var(buf_load() + expr(1));
    if (r < 52) return Assign{GlobalVar{global_names[pick(0, 3)]}, expr(1)};
    if (r < 62 && nest < 3) {
      Block then_body = block(nest + 1, 1, 4);
      if (chance(50)) return If{cond(0), std::move(then_body), block(nest + 1, 1, 3)};
      return If{cond(0), std::move(then_body)};
    }
    if (r < 68 && nest < 3) {  // a counted loop: i = 0; while i < n { ...; i = i + 1 }
      const char* i = var_names[pick(0, 7)];
      Block body = block(nest + 1, 1, 4);
      if (chance(30)) body.push_back(If{Expr(Var{i}) == Int64{pick(1, 5)}, {Break{}}});
      body.push_back(Assign{Var{i}, Expr(Var{i}) + 1});
      return While{Var{i} < Expr(Int64{pick(2, 100)}), std::move(body)};
    }
    if (r < 78) {
      if (chance(50)) return call_expr(1);
      return assign_var(call_expr(1));
    }
    if (r < 83) {
      const char* m = messages[pick(0, 5)];
      return Syscall{Sys::write, {1, cstr(m), Int64{static_cast<std::int64_t>(std::string_view(m).size())}}};
    }
    if (r < 86) return assign_var(syscall(Sys::getpid));
    if (r < 88) return Syscall{Sys::clock_gettime, {1, BufferAddr{"buf"}}};
    return assign_var(expr(0));
  }

  Block block(int nest, int lo, int hi) {
    Block b;
    int n = pick(lo, hi);
    for (int i = 0; i < n; ++i) b.push_back(stmt(nest));
    return b;
  }

  Block body() {
    Block b;
    for (int i = 0; i < 8; ++i)  // locals start from parameters or constants
      b.push_back(Assign{Var{var_names[i]}, i < params_ ? Expr(Var{param_names[i]}) : constant()});
    Block rest = block(0, 6, 12);
    for (Stmt& s : rest) b.push_back(std::move(s));
    b.push_back(Return{expr(0)});
    return b;
  }
};

const Generated& program(std::size_t target_nodes) {
  static std::deque<std::pair<std::size_t, Generated>> cache;
  for (auto& [n, g] : cache)
    if (n == target_nodes) return g;
  cache.emplace_back(target_nodes, Generator(2026).make(target_nodes));
  return cache.back().second;
}

namespace arch = crumble::arch;

template <class Target>
void BM_assemble(benchmark::State& st) {
  const Generated& g = program(static_cast<std::size_t>(st.range(0)));
  std::size_t code = 0;
  for (auto _ : st) {
    crumble::code::Image img = crumble::assemble<Target>(g.program);
    code = img.code_size;
    benchmark::DoNotOptimize(img.bytes.data());
  }
  st.counters["nodes"] = static_cast<double>(g.node_count);
  st.counters["functions"] = static_cast<double>(g.program.functions.size());
  st.counters["code_bytes"] = static_cast<double>(code);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * g.node_count));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * code));
}

template <class Target>
void BM_lower_only(benchmark::State& st) {
  const Generated& g = program(10000);
  for (auto _ : st) {
    crumble::lower::Lowering<Target> l(g.program);
    l.lower_all();
    benchmark::DoNotOptimize(l.buf.bytes.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * g.node_count));
}

template <class Target>
void BM_link_only(benchmark::State& st) {
  const Generated& g = program(10000);
  crumble::lower::Lowering<Target> l(g.program);
  l.lower_all();
  std::size_t code = 0;
  for (auto _ : st) {
    crumble::code::Image img = l.buf.finish(l.entry());
    code = img.code_size;
    benchmark::DoNotOptimize(img.bytes.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * g.node_count));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * code));
}

// Registered per size, then per architecture, so the three targets print side by side.
template <class Target>
void register_phases(const char* name) {
  benchmark::RegisterBenchmark((std::string("lower/phase/lower/") + name).c_str(), BM_lower_only<Target>)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark((std::string("lower/phase/link/") + name).c_str(), BM_link_only<Target>)
      ->Unit(benchmark::kMicrosecond);
}
void register_all() {
  for (long n : {1000L, 10000L, 100000L, 1000000L}) {
    auto reg = [n](const char* name, auto fn) {
      benchmark::RegisterBenchmark((std::string("lower/assemble/") + name).c_str(), fn)
          ->Arg(n)
          ->Unit(benchmark::kMicrosecond);
    };
    reg("amd64", BM_assemble<arch::amd64>);
    reg("arm64", BM_assemble<arch::arm64>);
    reg("riscv64", BM_assemble<arch::riscv64>);
  }
  register_phases<arch::amd64>("amd64");
  register_phases<arch::arm64>("arm64");
  register_phases<arch::riscv64>("riscv64");
}

template <class Target>
void describe(const char* name, std::size_t n) {
  const Generated& g = program(n);
  crumble::code::Image img = crumble::assemble<Target>(g.program);
  std::printf("program ~%zu, %-7s: %zu nodes in %zu functions (%zu generated) -> %llu code bytes, %zu bytes image, "
              "%zu relocations\n",
              n, name, g.node_count, g.program.functions.size(), g.generated,
              static_cast<unsigned long long>(img.code_size), img.bytes.size(), img.relocs.size());
}

}  // namespace

int main(int argc, char** argv) {
  for (std::size_t n : {1000, 10000, 100000, 1000000}) {
    describe<arch::amd64>("amd64", n);
    describe<arch::arm64>("arm64", n);
    describe<arch::riscv64>("riscv64", n);
  }
  register_all();
  std::fflush(stdout);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
