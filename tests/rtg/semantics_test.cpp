// SPDX-License-Identifier: Apache-2.0
// tests/rtg/semantics_test.cpp — RTG's integers behave as Go's, checked against the host's C++.
//
// The test writes one RTG program: for each integer type T, a function that converts two int64
// values to T and prints every operation on them (arithmetic, bitwise, shifts by run-time counts
// up to 71, unary, comparisons, conversions to every other type), each result as uint64(r) in hex.
// main calls it for every pair of 22 boundary values. The expected text is computed here with
// C++ fixed-width types, whose C++20 conversions are Go's (modular, sign-extending); arithmetic
// goes through uint64 so nothing is undefined. The program runs on every architecture.
//
// Also here: the runtime stub package names everything the translator knows, and a compile-time
// condition leaves no trace of the branch not taken.
#include <catch2/catch.hpp>
#include <crumble/crumble.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "../runner.hpp"
#include <crumble/rtg/constants.hpp>
#include <crumble/rtg/translate.hpp>

namespace {

using u64 = std::uint64_t;
using i64 = std::int64_t;

constexpr i64 values[] = {0, 1, -1, 2, 7, -7, 100, 127, 128, -128, -129, 255, 256, 32767, -32768, 65535,
                          0x7fffffff, -0x80000000LL, 0xffffffffLL, INT64_MAX, INT64_MIN,
                          static_cast<i64>(0x123456789abcdef0ULL)};
constexpr int nvalues = sizeof values / sizeof values[0];
int shift_count(int i, int j) { return (i * 5 + j * 3) % 72; }

struct Ty {
  const char* go;
  int bits;
  bool is_signed;
};
constexpr Ty types[] = {{"int8", 8, true},   {"int16", 16, true},   {"int32", 32, true},   {"int64", 64, true},
                        {"int", 64, true},   {"uint8", 8, false},   {"uint16", 16, false}, {"uint32", 32, false},
                        {"uint64", 64, false}, {"uintptr", 64, false}};

// A 64-bit pattern held as type `t`, as Go holds it: truncated, then read back sign- or
// zero-extended (what uint64(T(x)) gives).
u64 as(const Ty& t, u64 v) {
  if (t.bits == 64) return v;
  u64 mask = (u64{1} << t.bits) - 1;
  v &= mask;
  if (t.is_signed && (v >> (t.bits - 1)) & 1) v |= ~mask;
  return v;
}

std::string hex(u64 v) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}

// The line ops<T>(a0, b0, s) prints.
std::string expected_line(const Ty& t, i64 a0, i64 b0, int s) {
  const u64 a = as(t, static_cast<u64>(a0)), b = as(t, static_cast<u64>(b0));
  std::vector<u64> r{as(t, a + b), as(t, a - b), as(t, a * b), as(t, a & ~b), a & b, a | b, a ^ b};
  const i64 sa = static_cast<i64>(a), sb = static_cast<i64>(b);
  if (b != 0 && !(t.bits == 64 && t.is_signed && sa == INT64_MIN && sb == -1)) {
    if (t.is_signed) {
      i64 q = (sa == INT64_MIN && sb == -1) ? sa : sa / sb;  // narrow MIN/-1 fits in 64 bits, wraps below
      i64 m = (sb == -1) ? 0 : sa % sb;
      r.push_back(as(t, static_cast<u64>(q)));
      r.push_back(as(t, static_cast<u64>(m)));
    } else {
      r.push_back(a / b);
      r.push_back(a % b);
    }
  }
  r.push_back(s >= 64 ? 0 : as(t, a << s));
  if (t.is_signed) r.push_back(s >= 64 ? (sa < 0 ? ~u64{0} : 0) : static_cast<u64>(sa >> s));
  else r.push_back(s >= 64 ? 0 : a >> s);
  r.push_back(as(t, a << 3));
  r.push_back(t.is_signed ? static_cast<u64>(sa >> 3) : a >> 3);
  r.push_back(as(t, 0 - a));
  r.push_back(as(t, ~a));
  const bool lt = t.is_signed ? sa < sb : a < b;
  const bool gt = t.is_signed ? sa > sb : a > b;
  for (bool c : {lt, !gt, gt, !lt, a == b, a != b}) r.push_back(c);
  for (const Ty& to : types) r.push_back(as(to, a));
  std::string line;
  for (u64 v : r) line += hex(v) + " ";
  return line + "\n";
}

std::string rtg_function(const Ty& t) {
  std::string T = t.go, f = "ops_" + T;
  std::string div_guard = "b != 0";
  if (t.bits == 64 && t.is_signed) div_guard += " && (b != -1 || a != -9223372036854775808)";
  std::string s = "func " + f + "(a0 int64, b0 int64, s uint64) {\n";
  s += "\ta := " + T + "(a0)\n\tb := " + T + "(b0)\n";
  s += "\truntime.Printf(\"%x %x %x %x %x %x %x \", uint64(a+b), uint64(a-b), uint64(a*b), uint64(a&^b), uint64(a&b), uint64(a|b), uint64(a^b))\n";
  s += "\tif " + div_guard + " {\n\t\truntime.Printf(\"%x %x \", uint64(a/b), uint64(a%b))\n\t}\n";
  s += "\truntime.Printf(\"%x %x %x %x %x %x \", uint64(a<<s), uint64(a>>s), uint64(a<<3), uint64(a>>3), uint64(-a), uint64(^a))\n";
  s += "\truntime.Printf(\"%x %x %x %x %x %x \", b2i(a < b), b2i(a <= b), b2i(a > b), b2i(a >= b), b2i(a == b), b2i(a != b))\n";
  s += "\truntime.Printf(\"";
  for (std::size_t k = 0; k < std::size(types); ++k) s += "%x ";
  s += "\\n\"";
  for (const Ty& to : types) s += ", uint64(" + std::string(to.go) + "(a))";
  s += ")\n}\n\n";
  return s;
}

std::string program_source() {
  std::string s = "package main\n\nimport \"crumble/rtg/runtime\"\n\n";
  s += "func b2i(c bool) uint64 {\n\tif c {\n\t\treturn 1\n\t}\n\treturn 0\n}\n\n";
  for (const Ty& t : types) s += rtg_function(t);
  s += "func main() {\n\tvar vals [" + std::to_string(8 * nvalues) + "]byte\n";
  for (int k = 0; k < nvalues; ++k)
    s += "\truntime.Store64(&vals, " + std::to_string(8 * k) + ", uint64(" + std::to_string(static_cast<u64>(values[k])) + "))\n";
  s += "\ti := 0\n\tfor i < " + std::to_string(nvalues) + " {\n\t\tj := 0\n\t\tfor j < " + std::to_string(nvalues) + " {\n";
  s += "\t\t\ta := int64(runtime.Load64(&vals, i*8))\n\t\t\tb := int64(runtime.Load64(&vals, j*8))\n";
  s += "\t\t\ts := uint64((i*5 + j*3) % 72)\n";
  for (const Ty& t : types) s += "\t\t\tops_" + std::string(t.go) + "(a, b, s)\n";
  s += "\t\t\tj++\n\t\t}\n\t\ti++\n\t}\n}\n";
  return s;
}

std::string expected_output() {
  std::string out;
  for (int i = 0; i < nvalues; ++i)
    for (int j = 0; j < nvalues; ++j)
      for (const Ty& t : types) out += expected_line(t, values[i], values[j], shift_count(i, j));
  return out;
}

template <class Target>
void run_semantics(const char* arch, const crumble::test::RunOptions& opt) {
  const std::string src = program_source();
  crumble::rtg::Translation t;
  try {
    t = crumble::rtg::translate({"semantics.go", src}, {.arch = arch});
  } catch (const crumble::rtg::Error& e) {
    FAIL(e.what() << "\n" << src);
  }
  auto r = crumble::test::run_elf(crumble::executable<Target>(t.program), opt);
  INFO(arch << ": " << r.describe());
  REQUIRE(r.exited);
  const std::string want = expected_output();
  // Compare line by line so a failure shows the operation that differs.
  std::istringstream got_lines(r.out), want_lines(want);
  std::string g, w;
  int line = 0;
  while (std::getline(want_lines, w)) {
    std::getline(got_lines, g);
    const int pair = line / static_cast<int>(std::size(types));
    INFO("line " << line << ": type " << types[line % std::size(types)].go << ", a=" << values[pair / nvalues]
                 << ", b=" << values[pair % nvalues] << ", s=" << shift_count(pair / nvalues, pair % nvalues));
    REQUIRE(g == w);
    ++line;
  }
  CHECK(r.out.size() == want.size());
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("rtg semantics: Go integer rules on amd64", "[rtg][semantics]") {
#if defined(__x86_64__)
  run_semantics<crumble::arch::amd64>("amd64", {});
#else
  run_semantics<crumble::arch::amd64>("amd64", crumble::test::emulated("qemu-x86_64"));
#endif
}
TEST_CASE("rtg semantics: Go integer rules on arm64", "[rtg][semantics]") {
  run_semantics<crumble::arch::arm64>("arm64", crumble::test::emulated("qemu-aarch64"));
}
TEST_CASE("rtg semantics: Go integer rules on riscv64", "[rtg][semantics]") {
  run_semantics<crumble::arch::riscv64>("riscv64", crumble::test::emulated("qemu-riscv64"));
}

TEST_CASE("rtg: the runtime stub package declares every name the translator knows", "[rtg][stub]") {
  const std::string stub = read(CRUMBLE_RTG_STUB);
  REQUIRE(!stub.empty());
  for (std::string_view sys : crumble::ir::syscall_names) {
    std::string name = "SYS_";
    for (char c : sys) name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    INFO(name);
    CHECK(stub.find("\t" + name + " ") != std::string::npos);
  }
  for (const auto& c : crumble::rtg::linux_constants) {
    INFO(c.name);
    CHECK(stub.find("\t" + std::string(c.name) + " ") != std::string::npos);
  }
  for (const char* f : {"Syscall", "Load8", "Load64", "Store8", "Store64", "Printf", "EmbedString", "EmbedCString",
                        "EmbedBytes", "Call", "ISB", "CacheFlush", "Ifdef", "Config"}) {
    INFO(f);
    CHECK(stub.find("func " + std::string(f)) != std::string::npos);
  }
}

TEST_CASE("rtg: a compile-time condition emits only the branch taken", "[rtg][fold]") {
  const std::string src = R"go(package main

import "crumble/rtg/runtime"

func main() {
	if runtime.GOARCH == "arm64" {
		runtime.Printf("marker-for-arm64\n")
	} else if runtime.Ifdef("EXTRA") {
		runtime.Printf("marker-for-extra\n")
	} else {
		runtime.Printf("marker-for-the-rest\n")
	}
}
)go";
  auto bytes = [&](const crumble::rtg::Options& o) {
    auto img = crumble::assemble<crumble::arch::amd64>(crumble::rtg::translate({"fold.go", src}, o).program);
    return std::string(img.bytes.begin(), img.bytes.end());
  };
  struct Row {
    crumble::rtg::Options opt;
    const char* present;
  };
  for (const Row& row : {Row{{.arch = "arm64"}, "marker-for-arm64"}, Row{{.arch = "amd64", .defines = {"EXTRA"}}, "marker-for-extra"},
                         Row{{.arch = "riscv64"}, "marker-for-the-rest"}}) {
    const std::string code = bytes(row.opt);
    INFO(row.present);
    for (const char* m : {"marker-for-arm64", "marker-for-extra", "marker-for-the-rest"})
      CHECK((code.find(m) != std::string::npos) == (std::string_view(m) == row.present));
  }
}
