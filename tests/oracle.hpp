// SPDX-License-Identifier: Apache-2.0
// tests/oracle.hpp — LLVM's assembler (llvm-mc) as an independent oracle for encoder tests.
//
// An encoder test builds a table of {our bytes, assembly text} and asks llvm-mc what the text
// assembles to; the expected bytes are never written by hand. llvm-mc runs once per batch of
// lines, since starting it per instruction would dominate the test's run time.
//
// Two routes, because `llvm-mc --show-encoding` prints a fixup placeholder instead of bytes for
// any operand that is only known after layout (branch targets, `.`-relative expressions):
//   llvm_mc_encodings         --show-encoding, one line per instruction; for everything else.
//   llvm_mc_object_encodings  -filetype=obj, each line in its own section, bytes read back out
//                             of the ELF file; for x86 branches written as `jmp 1f+DISP; 1:`.
// AArch64 and RISC-V need no object file for branches: a numeric offset (`b #8`, `cbz x0, #-4`,
// `jal x0, 8`, `beq a0, a1, -4096`) is an immediate that --show-encoding turns into bytes. (For
// RISC-V the object route is no alternative: llvm-mc 14 rejects `.`- or label-relative branch
// targets there with "Unsupported relocation type".)
// Both are target-neutral: the triple and -mattr flags are the caller's (`-triple=x86_64`,
// `-triple=aarch64`, `-triple=riscv64 -mattr=+m`).
//
// The oracle's path comes from CMake as the string macro CRUMBLE_LLVM_MC. When it is missing the
// test exits with code 4, which ctest reports as SKIPPED (SKIP_RETURN_CODE in tests/CMakeLists).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#ifndef CRUMBLE_LLVM_MC
#define CRUMBLE_LLVM_MC ""
#endif

namespace crumble::test {

using Bytes = std::vector<std::uint8_t>;

// Any failure of the oracle itself (rejected line, unexpected output). Catch reports the message.
struct OracleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Exits with 4 (ctest: SKIPPED) unless `path` names an executable. Called when a test runs, not
// at static initialisation, so test discovery (--list-test-names-only) works without the tool.
inline void require_tool(const std::string& path, const std::string& what) {
  if (!path.empty() && ::access(path.c_str(), X_OK) == 0) return;
  std::fprintf(stderr, "SKIPPED: %s not found%s%s (install llvm-14: scripts/setup.sh)\n", what.c_str(),
               path.empty() ? "" : " at ", path.c_str());
  std::exit(4);
}

inline std::string hex(const std::uint8_t* b, const std::uint8_t* e) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (auto p = b; p != e; ++p) {
    if (p != b) s += ' ';
    s += digits[*p >> 4];
    s += digits[*p & 15];
  }
  return s;
}
inline std::string hex(const Bytes& b) { return hex(b.data(), b.data() + b.size()); }

namespace detail {

// A fresh directory under $TMPDIR, removed with everything in it when this goes out of scope.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "crumble-oracle-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw OracleError("mkdtemp failed: " + std::string(std::strerror(errno)));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Single quotes for the shell; our own paths never contain a quote, but the tool's path might.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The input file as written: its text, and for each 1-based file line the case it belongs to
// (-1 for lines we added), so llvm-mc's `file:LINE:COL: error:` names the offending case.
struct Source {
  std::string text;
  std::vector<int> case_of_line{-1};  // index 0 unused: file lines are 1-based
  void add(const std::string& line, int case_index) {
    text += line;
    text += '\n';
    case_of_line.push_back(case_index);
  }
};

struct RunResult {
  int status;
  std::string out, err;
};

// Runs `llvm-mc <flags> source` with `flags` split by the shell (so callers may pass several).
inline RunResult run_llvm_mc(const TempDir& dir, const std::string& flags, const Source& src) {
  const std::string tool = CRUMBLE_LLVM_MC;
  require_tool(tool, "llvm-mc");
  auto in = dir.path / "in.s", out = dir.path / "out.txt", err = dir.path / "err.txt";
  std::ofstream(in, std::ios::binary) << src.text;
  std::string cmd = shell_quote(tool) + " " + flags + " " + shell_quote(in.string()) + " >" +
                    shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  int raw = std::system(cmd.c_str());
  int status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return {status, read_file(out), read_file(err)};
}

// Turns llvm-mc's diagnostics into one exception that names every rejected case by its text.
[[noreturn]] inline void fail_with_diagnostics(const RunResult& r, const std::string& file,
                                               const Source& src, const std::vector<std::string>& lines) {
  std::ostringstream msg;
  msg << "llvm-mc failed (exit " << r.status << ")";
  std::istringstream err(r.err);
  for (std::string d; std::getline(err, d);) {
    // "<file>:<line>:<col>: error: <message>"
    if (d.rfind(file + ":", 0) != 0 || d.find(": error:") == std::string::npos) continue;
    int file_line = std::atoi(d.c_str() + file.size() + 1);
    int c = file_line > 0 && file_line < int(src.case_of_line.size()) ? src.case_of_line[file_line] : -1;
    msg << "\n  " << (c >= 0 ? "`" + lines[c] + "`" : "line " + std::to_string(file_line)) << ": "
        << d.substr(d.find(": error:") + 9);
  }
  msg << "\nfull stderr:\n" << r.err;
  throw OracleError(msg.str());
}

inline std::uint64_t le(const std::string& s, std::size_t off, int n) {
  if (off + n > s.size()) throw OracleError("llvm-mc wrote a truncated ELF file");
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<std::uint8_t>(s[off + i]);
  return v;
}

}  // namespace detail

// Encodes each line (one instruction per line) with `llvm-mc --show-encoding <flags>` in one run
// and returns its bytes, in order. Throws OracleError naming the line if llvm-mc rejects a line,
// if a line yields no or several instructions, or if an encoding still holds a fixup.
inline std::vector<Bytes> llvm_mc_encodings(const std::string& flags, const std::vector<std::string>& lines) {
  // A label before each line lets us attribute every printed encoding to its input line
  // instead of trusting that the n-th encoding belongs to the n-th line.
  static constexpr std::string_view marker = ".Lcrumble_case_";
  detail::Source src;
  for (int i = 0; i < int(lines.size()); ++i) {
    src.add(std::string(marker) + std::to_string(i) + ":", -1);
    src.add(lines[i], i);
  }
  detail::TempDir dir;
  auto r = detail::run_llvm_mc(dir, "--show-encoding " + flags, src);
  if (r.status != 0) detail::fail_with_diagnostics(r, (dir.path / "in.s").string(), src, lines);

  std::vector<Bytes> result(lines.size());
  std::vector<int> count(lines.size(), 0);
  int current = -1;
  std::istringstream out(r.out);
  for (std::string l; std::getline(out, l);) {
    auto first = l.find_first_not_of(" \t");
    if (first != std::string::npos && l.compare(first, marker.size(), marker) == 0) {
      current = std::atoi(l.c_str() + first + marker.size());
      continue;
    }
    auto enc = l.find("encoding: [");
    if (enc == std::string::npos) continue;
    if (current < 0) throw OracleError("llvm-mc printed an encoding before the first line: " + l);
    std::string_view what = lines[current];
    if (++count[current] > 1)
      throw OracleError("`" + std::string(what) + "` assembled to more than one instruction");
    auto end = l.find(']', enc);
    std::istringstream items(l.substr(enc + 11, end - enc - 11));
    for (std::string item; std::getline(items, item, ',');) {
      // Anything but 0xNN (`A`, `0bAAAA0000`, ...) is a fixup llvm-mc resolves only at layout.
      if (item.size() != 4 || item.compare(0, 2, "0x") != 0)
        throw OracleError("`" + std::string(what) + "` has an unresolved fixup (" + l.substr(enc) +
                          "); use llvm_mc_object_encodings");
      result[current].push_back(static_cast<std::uint8_t>(std::stoul(item.substr(2), nullptr, 16)));
    }
  }
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (count[i] != 1) throw OracleError("`" + lines[i] + "` assembled to no instruction");
  return result;
}

// Assembles each line with `llvm-mc -filetype=obj <flags>`, each in a section of its own, and
// returns each section's bytes. Use it where --show-encoding leaves a fixup: a branch written
// as `jmp 1f+DISP; 1:` (the label marks the instruction's end, so DISP is the displacement
// whatever size the assembler picks). Throws OracleError naming the line if llvm-mc rejects it,
// if it yields no bytes, or if it needs a relocation (its bytes would not be final).
inline std::vector<Bytes> llvm_mc_object_encodings(const std::string& flags,
                                                   const std::vector<std::string>& lines) {
  static constexpr std::string_view prefix = ".text.crumble_case_";
  detail::Source src;
  for (int i = 0; i < int(lines.size()); ++i) {
    // %progbits rather than @progbits: `@` starts a comment in some targets' syntax.
    src.add(".section " + std::string(prefix) + std::to_string(i) + ",\"ax\",%progbits", -1);
    src.add(lines[i], i);
  }
  detail::TempDir dir;
  auto obj = dir.path / "out.o";
  auto r = detail::run_llvm_mc(dir, "-filetype=obj -o " + detail::shell_quote(obj.string()) + " " + flags, src);
  if (r.status != 0) detail::fail_with_diagnostics(r, (dir.path / "in.s").string(), src, lines);

  // Just enough ELF64 little-endian to walk the section headers (all our targets are that).
  using detail::le;
  std::string elf = detail::read_file(obj);
  if (elf.size() < 64 || elf.compare(0, 4, "\x7f" "ELF") != 0 || elf[4] != 2 || elf[5] != 1)
    throw OracleError("llvm-mc did not write an ELF64 little-endian object");
  std::uint64_t shoff = le(elf, 0x28, 8), shentsize = le(elf, 0x3A, 2), shnum = le(elf, 0x3C, 2);
  std::uint64_t strtab = le(elf, shoff + le(elf, 0x3E, 2) * shentsize + 0x18, 8);
  constexpr std::uint32_t sht_rela = 4, sht_rel = 9;

  std::vector<Bytes> result(lines.size());
  std::vector<bool> seen(lines.size(), false);
  std::map<std::uint64_t, int> case_of_section;
  for (std::uint64_t s = 0; s < shnum; ++s) {
    std::uint64_t h = shoff + s * shentsize;
    std::uint64_t name_at = strtab + le(elf, h, 4);
    if (name_at >= elf.size()) throw OracleError("llvm-mc wrote a truncated ELF file");
    std::string name = elf.c_str() + name_at;
    if (name.rfind(prefix, 0) != 0) continue;
    int c = std::atoi(name.c_str() + prefix.size());
    std::uint64_t off = le(elf, h + 0x18, 8), size = le(elf, h + 0x20, 8);
    if (off + size > elf.size()) throw OracleError("llvm-mc wrote a truncated ELF file");
    result[c].assign(elf.begin() + off, elf.begin() + off + size);
    seen[c] = true;
    case_of_section[s] = c;
  }
  for (std::uint64_t s = 0; s < shnum; ++s) {
    std::uint64_t h = shoff + s * shentsize;
    auto type = le(elf, h + 4, 4);
    if (type != sht_rela && type != sht_rel) continue;
    auto target = case_of_section.find(le(elf, h + 0x2C, 4));  // sh_info: the section relocated
    if (target != case_of_section.end())
      throw OracleError("`" + lines[target->second] + "` needs a relocation, so its bytes are not final");
  }
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (!seen[i] || result[i].empty()) throw OracleError("`" + lines[i] + "` assembled to no bytes");
  return result;
}

// One row of an encoder test: the bytes our encoder produced and the assembly text that must
// produce the same bytes.
struct Case {
  Bytes ours;
  std::string text;
};

enum class Route { show_encoding, object };

// Compares every case with llvm-mc's bytes (one llvm-mc run for all of them); each mismatch is
// its own Catch failure showing the text, our bytes and llvm's bytes in hex.
inline void check_against_llvm_mc(const std::string& flags, const std::vector<Case>& cases,
                                  Route route = Route::show_encoding) {
  std::vector<std::string> lines;
  for (const auto& c : cases) lines.push_back(c.text);
  auto expected = route == Route::object ? llvm_mc_object_encodings(flags, lines) : llvm_mc_encodings(flags, lines);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].ours == expected[i]) continue;  // keep Catch's assertion count and log small
    ++mismatches;
    INFO(cases[i].text << "\n  ours: " << hex(cases[i].ours) << "\n  llvm: " << hex(expected[i]));
    CHECK(hex(cases[i].ours) == hex(expected[i]));
  }
  INFO(cases.size() << " cases checked against llvm-mc " << flags);
  CHECK(mismatches == 0);
}

}  // namespace crumble::test
