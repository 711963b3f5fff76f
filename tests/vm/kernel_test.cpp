// SPDX-License-Identifier: Apache-2.0
// Guest kernels: the cache directory, Debian's cloud kernel fetched once and reused, the image
// check, and the module index with its load order.
//
// Oracles are independent of crumble: kmod's `modinfo` for every module's depends= and name, `as`
// for hand-made .ko files and an x86-64 executable, `file` for the real bzImage, the boot protocol
// document's offsets for hand-made setup headers. The real kernel comes from cached_kernel(), or
// is fetched once (network); without network or apt, or without modinfo, the tests that need them
// print SKIPPED and exit 4, which ctest reports as skipped.
#include <catch2/catch.hpp>
#include <crumble/vm/guest/kernel.hpp>
#include <crumble/vm/guest/modules.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using crumble::test::quote;
using crumble::test::shell;
using crumble::test::ScratchDir;
using namespace crumble::vm;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

using Bytes = std::vector<unsigned char>;

void write_file(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}
void write_text(const fs::path& p, const std::string& s) { write_file(p, Bytes(s.begin(), s.end())); }
Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}
void put(Bytes& b, std::size_t at, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.at(at + static_cast<std::size_t>(i)) = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t get(const Bytes& b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b.at(at + static_cast<std::size_t>(i));
  return v;
}

// A tool found in PATH or the sbin directories (modinfo lives in /usr/sbin), or "".
std::string find_tool(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  for (std::size_t at = 0; at <= path.size();) {
    std::size_t end = path.find(':', at);
    if (end == std::string::npos) end = path.size();
    std::string p = path.substr(at, end - at) + "/" + name;
    if (end > at && ::access(p.c_str(), X_OK) == 0) return p;
    at = end + 1;
  }
  return {};
}
std::string require_tool(const std::string& name, const std::string& package) {
  std::string p = find_tool(name);
  if (p.empty()) {
    std::fprintf(stderr, "SKIPPED: %s not found (install %s: scripts/setup.sh)\n", name.c_str(), package.c_str());
    std::exit(4);
  }
  return p;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  for (std::size_t at = 0; at <= s.size();) {
    std::size_t end = s.find(sep, at);
    if (end == std::string::npos) end = s.size();
    v.push_back(s.substr(at, end - at));
    at = end + 1;
  }
  return v;
}
// modinfo's "a,b-c\n" -> {a, b_c}; "" -> {}. Names are compared with '-' read as '_', as the
// kernel does (depends= keeps a dependency's spelling: e.g. "notifier-error-inject").
std::vector<std::string> depends_list(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return {};
  std::replace(s.begin(), s.end(), '-', '_');
  return split(s, ',');
}

// Sets (or unsets, with nullopt) environment variables for a scope.
struct ScopedEnv {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  void set(const std::string& k, const std::optional<std::string>& v) {
    const char* old = std::getenv(k.c_str());
    saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
    if (v) ::setenv(k.c_str(), v->c_str(), 1);
    else ::unsetenv(k.c_str());
  }
  ~ScopedEnv() {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else ::unsetenv(it->first.c_str());
    }
  }
};

// Debian's cloud kernel from the cache, fetched (once per machine) when absent. Without network
// or apt the test is skipped, loudly.
GuestKernel real_kernel() {
  if (auto k = cached_kernel()) return *k;
  try {
    return fetch_debian_kernel([](std::string_view s) { std::fprintf(stderr, "fetch: %.*s\n", int(s.size()), s.data()); });
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    for (const char* offline : {"Could not resolve", "Temporary failure resolving", "Unable to connect", "Could not connect",
                                "Network is unreachable", "Failed to fetch", "cannot run `apt"}) {
      if (m.find(offline) != std::string::npos) {
        std::fprintf(stderr, "SKIPPED: no guest kernel in the cache and fetching Debian's failed (no network or apt?):\n%s\n",
                     m.c_str());
        std::exit(4);
      }
    }
    throw;
  }
}

// x86 boot protocol offsets (Documentation/arch/x86/boot.rst), for hand-made setup headers.
constexpr std::size_t setup_sects = 0x1f1, syssize = 0x1f4, boot_flag = 0x1fe, header = 0x202, version = 0x206,
                      loadflags = 0x211, relocatable_kernel = 0x234, xloadflags = 0x236;

// A bzImage-shaped file that passes every check: 4 setup sectors + 16 paragraphs of "kernel".
Bytes good_bzimage() {
  Bytes b(5 * 512 + 16 * 16, 0x90);
  b[setup_sects] = 4;
  put(b, syssize, 16, 4);
  put(b, boot_flag, 0xAA55, 2);
  std::memcpy(&b[header], "HdrS", 4);
  put(b, version, 0x020f, 2);
  b[loadflags] = 0x01;  // LOADED_HIGH
  b[relocatable_kernel] = 1;
  put(b, xloadflags, 0x03, 2);  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  return b;
}

// An ELF64 header alone: class, data, type, machine as given.
Bytes elf_header(unsigned char cls, unsigned machine, unsigned type = 2) {
  Bytes b(64, 0);
  b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F', b[4] = cls, b[5] = 1, b[6] = 1;
  put(b, 16, type, 2);
  put(b, 18, machine, 2);
  put(b, 20, 1, 4);
  put(b, 52, 64, 2);  // e_ehsize
  return b;
}

// A fake kernel module made by the assembler: an ELF64 relocatable object whose .modinfo section
// holds the given strings.
void make_ko(const fs::path& ko, const std::vector<std::string>& modinfo, bool with_modinfo = true) {
  fs::create_directories(ko.parent_path());
  fs::path s = ko.string() + ".s";
  std::string src = ".text\nnop\n";
  if (with_modinfo) {
    src += ".section .modinfo,\"a\"\n";
    for (const auto& e : modinfo) src += ".asciz \"" + e + "\"\n";
  }
  write_text(s, src);
  shell("as --64 -o " + quote(ko.string()) + " " + quote(s.string()) + " 2>&1");
  fs::remove(s);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_CASE("cache_dir: XDG_CACHE_HOME, else HOME/.cache, else an error naming the fix") {
  struct Row {
    std::optional<std::string> xdg, home;
    std::string expected;  // a path, or "error"
  };
  const Row rows[] = {
      {"/x/cache", "/home/u", "/x/cache/crumble"},
      {"/x/cache", std::nullopt, "/x/cache/crumble"},
      {std::nullopt, "/home/u", "/home/u/.cache/crumble"},
      {"", "/home/u", "/home/u/.cache/crumble"},
      {"relative/cache", "/home/u", "/home/u/.cache/crumble"},  // the XDG spec: relative is ignored
      {std::nullopt, std::nullopt, "error"},
      {std::nullopt, "", "error"},
  };
  for (const auto& r : rows) {
    INFO("XDG_CACHE_HOME=" << r.xdg.value_or("(unset)") << " HOME=" << r.home.value_or("(unset)"));
    ScopedEnv env;
    env.set("XDG_CACHE_HOME", r.xdg);
    env.set("HOME", r.home);
    if (r.expected == "error") {
      std::string m = error_of([] { cache_dir(); });
      CHECK_THAT(m, Contains("HOME") && Contains("XDG_CACHE_HOME") && Contains("set"));
    } else {
      CHECK(cache_dir() == fs::path(r.expected));
    }
  }
}

TEST_CASE("cached_kernel: the newest complete kernel, never a partial or incomplete one") {
  ScratchDir t{"crumble-kernel-test"};
  ScopedEnv env;
  env.set("XDG_CACHE_HOME", t.path.string());
  CHECK_FALSE(cached_kernel().has_value());  // no kernels directory at all

  const fs::path kernels = t.path / "crumble" / "kernels";
  auto complete = [&](const std::string& dirname, const std::string& ver) {
    write_file(kernels / dirname / "boot" / ("vmlinuz-" + ver), good_bzimage());
    fs::create_directories(kernels / dirname / "lib" / "modules" / ver / "kernel");
  };
  complete("6.1.0-9-cloud-amd64", "6.1.0-9-cloud-amd64");
  complete("6.1.0-41-cloud-amd64", "6.1.0-41-cloud-amd64");  // newest: 41 > 9 as numbers
  complete(".partial-6.1.0-99-cloud-amd64-abc123", "6.1.0-99-cloud-amd64");  // a crashed fetch
  write_file(kernels / "6.1.0-50-cloud-amd64" / "boot" / "vmlinuz-6.1.0-50-cloud-amd64", good_bzimage());  // no modules
  fs::create_directories(kernels / "6.1.0-60-cloud-amd64" / "lib" / "modules" / "6.1.0-60-cloud-amd64");  // no image

  auto k = cached_kernel();
  REQUIRE(k.has_value());
  CHECK(k->version == "6.1.0-41-cloud-amd64");
  CHECK(k->image == kernels / "6.1.0-41-cloud-amd64" / "boot" / "vmlinuz-6.1.0-41-cloud-amd64");
  CHECK(k->modules_dir == kernels / "6.1.0-41-cloud-amd64" / "lib" / "modules" / "6.1.0-41-cloud-amd64");
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("check_kernel_image: hand-made files, one check failing per row") {
  ScratchDir t{"crumble-kernel-test"};
  std::mt19937 rng(12345);
  Bytes random(64 * 1024);
  for (auto& c : random) c = static_cast<unsigned char>(rng());
  random[510] = 0x12;  // make sure chance did not write a boot signature

  auto with = [](std::function<void(Bytes&)> f) {
    Bytes b = good_bzimage();
    f(b);
    return b;
  };
  struct Row {
    const char* what;
    Bytes bytes;
    std::string expected;  // exact message, or "bzimage" / "elf"
  };
  const Row rows[] = {
      {"empty file", {}, "not a Linux kernel: file is empty"},
      {"100 bytes", Bytes(100, 0),
       "not a Linux kernel: 100 bytes is too small for a boot sector and setup header (568)"},
      {"64 KiB of random bytes", random, "not a Linux kernel: no boot sector signature 0xAA55 at 510"},
      {"boot sector without HdrS", with([](Bytes& b) { b[header + 1] = 'X'; }), "not a Linux kernel: no HdrS signature"},
      {"boot protocol 2.11", with([](Bytes& b) { put(b, version, 0x020b, 2); }),
       "bzImage boot protocol 2.11 is older than 2.12 (needed for the 64-bit entry point)"},
      {"zImage (not loaded high)", with([](Bytes& b) { b[loadflags] = 0; }),
       "not a bzImage: a zImage (not LOADED_HIGH) is not supported"},
      {"no 64-bit entry", with([](Bytes& b) { put(b, xloadflags, 0x02, 2); }),
       "bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)"},
      {"not relocatable", with([](Bytes& b) { b[relocatable_kernel] = 0; }),
       "bzImage is not relocatable (relocatable_kernel is 0)"},
      {"syssize one paragraph too many", with([](Bytes& b) { put(b, syssize, 17, 4); }),
       "truncated bzImage: header says 2832 bytes, file has 2816"},
      {"setup_sects 0 means 4", with([](Bytes& b) { b[setup_sects] = 0; }), "bzimage"},
      {"setup_sects 5 needs one more sector", with([](Bytes& b) { b[setup_sects] = 5; }),
       "truncated bzImage: header says 3328 bytes, file has 2816"},
      {"trailing bytes (a signature) are fine", with([](Bytes& b) { b.resize(b.size() + 1000, 0); }), "bzimage"},
      {"the good header", good_bzimage(), "bzimage"},
      {"ELF for aarch64", elf_header(2, 183),
       "not an x86-64 kernel: ELF machine 183 (AArch64), expected 62 (x86-64)"},
      {"ELF32 for i386", elf_header(1, 3), "not a 64-bit kernel: ELF class 1, expected ELFCLASS64 (2)"},
      {"ELF64 x86-64 relocatable object", elf_header(2, 62, 1), "not a vmlinux: ELF type 1, expected ET_EXEC (2)"},
      {"ELF64 x86-64 without program headers", elf_header(2, 62), "not a vmlinux: ELF has no program headers"},
      {"ELF header cut at 40 bytes", [] { Bytes b = elf_header(2, 62); b.resize(40); return b; }(),
       "truncated ELF: the ELF64 header needs 64 bytes, file has 40"},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    fs::path p = t.path / "image";
    write_file(p, r.bytes);
    if (r.expected == "bzimage") CHECK(check_kernel_image(p) == KernelFormat::bzimage);
    else if (r.expected == "elf") CHECK(check_kernel_image(p) == KernelFormat::elf);
    else {
      CHECK_THROWS_AS(check_kernel_image(p), std::invalid_argument);
      CHECK(error_of([&] { check_kernel_image(p); }) == r.expected);
    }
  }
  CHECK_THROWS_AS(check_kernel_image(t.path / "missing"), std::invalid_argument);
  CHECK_THROWS_AS(check_kernel_image(t.path), std::invalid_argument);  // a directory
}

TEST_CASE("check_kernel_image: an x86-64 executable made by as and ld is an ELF kernel, and cut short it is not") {
  require_tool("as", "binutils");
  require_tool("ld", "binutils");
  ScratchDir t{"crumble-kernel-test"};
  write_text(t.path / "k.s", ".globl _start\n.text\n_start: hlt\n.data\n.fill 8192, 1, 0x5a\n");
  shell("as --64 -o " + quote((t.path / "k.o").string()) + " " + quote((t.path / "k.s").string()) + " && ld -static -o " +
        quote((t.path / "vmlinux").string()) + " " + quote((t.path / "k.o").string()) + " 2>&1");
  CHECK(check_kernel_image(t.path / "vmlinux") == KernelFormat::elf);

  Bytes elf = read_file(t.path / "vmlinux");
  // The last PT_LOAD segment per the program headers (the oracle for the message is the file).
  std::uint64_t phoff = get(elf, 32, 8), phnum = get(elf, 56, 2), end = 0, index = 0;
  for (std::uint64_t i = 0; i < phnum; ++i) {
    std::size_t at = static_cast<std::size_t>(phoff + i * 56);
    if (get(elf, at, 4) == 1 && get(elf, at + 8, 8) + get(elf, at + 32, 8) > end)
      end = get(elf, at + 8, 8) + get(elf, at + 32, 8), index = i;
  }
  REQUIRE(end > 4096);
  elf.resize(static_cast<std::size_t>(end - 1));
  write_file(t.path / "cut", elf);
  CHECK(error_of([&] { check_kernel_image(t.path / "cut"); }) ==
        "truncated ELF: segment " + std::to_string(index) + " ends at " + std::to_string(end) + " bytes, file has " +
            std::to_string(end - 1));
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("ModuleIndex and resolve_modules on hand-made .ko files") {
  require_tool("as", "binutils");
  const std::string modinfo = require_tool("modinfo", "kmod");
  ScratchDir t{"crumble-kernel-test"};
  const fs::path dir = t.path / "lib" / "modules" / "6.1.0-test";
  // name -> depends=; file names may use '-' where the module name has '_'
  const std::vector<std::pair<std::string, std::string>> fakes = {
      {"kernel/a.ko", "b"},          {"kernel/sub/b.ko", "c"},     {"kernel/c.ko", "a"},  // a cycle
      {"kernel/self.ko", "self"},                                                          // a cycle of one
      {"kernel/top.ko", "m1,m2"},    {"kernel/m1.ko", "m2"},       {"kernel/m2.ko", ""},
      {"kernel/my-mod.ko", "m2"},    {"kernel/x.ko", "ghost"},     {"kernel/y.ko", "x"},
      {"kernel/solo.ko", ""},        {"kernel/uses-dash.ko", "my-mod"},
  };
  for (const auto& [file, deps] : fakes) {
    make_ko(dir / file, {"license=GPL", "depends=" + deps, "vermagic=6.1.0-test SMP mod_unload"});
  }
  write_text(dir / "modules.order", "kernel/a.ko\n");  // other files are ignored

  ModuleIndex index(dir);
  CHECK(index.size() == fakes.size());
  CHECK(index.dir() == dir);

  SECTION("depends= as kmod's modinfo reads it") {
    for (const auto& [file, deps] : fakes) {
      INFO(file);
      std::string stem = fs::path(file).stem().string();
      const KernelModule* m = index.find(stem);
      REQUIRE(m != nullptr);
      std::string expected_name = stem;
      std::replace(expected_name.begin(), expected_name.end(), '-', '_');
      CHECK(m->name == expected_name);
      CHECK(m->path == dir / file);
      CHECK(m->depends == depends_list(shell(quote(modinfo) + " -F depends " + quote((dir / file).string()))));
    }
    CHECK(index.find("my_mod") == index.find("my-mod"));
    CHECK(index.find("nope") == nullptr);
  }

  SECTION("load order: dependencies first, then the requested order; each module once") {
    struct Row {
      std::vector<std::string> request, order;
    };
    const Row rows[] = {
        {{"top"}, {"m2", "m1", "top"}},
        {{"m2", "top"}, {"m2", "m1", "top"}},
        {{"solo", "top", "solo", "m1"}, {"solo", "m2", "m1", "top"}},
        {{"uses-dash"}, {"m2", "my_mod", "uses_dash"}},
        {{"m1", "solo", "my_mod"}, {"m2", "m1", "solo", "my_mod"}},
        {{}, {}},
    };
    for (const auto& r : rows) {
      std::vector<std::string> got;
      for (const auto& m : resolve_modules(index, r.request)) got.push_back(m.name);
      CHECK(got == r.order);
    }
  }

  SECTION("errors: missing modules say who needed them; cycles are named") {
    const std::string d = dir.string();
    struct Row {
      std::vector<std::string> request;
      std::string message;
    };
    const Row rows[] = {
        {{"ghost"}, "kernel module ghost not found in " + d},
        {{"solo", "nope"}, "kernel module nope not found in " + d},
        {{"x"}, "kernel module ghost not found in " + d + " (needed by x, requested)"},
        {{"y"}, "kernel module ghost not found in " + d + " (needed by x, a dependency of requested module y)"},
        {{"a"}, "kernel module dependency cycle: a -> b -> c -> a"},
        {{"c"}, "kernel module dependency cycle: c -> a -> b -> c"},
        {{"solo", "self"}, "kernel module dependency cycle: self -> self"},
    };
    for (const auto& r : rows) {
      CHECK_THROWS_AS(resolve_modules(index, r.request), std::runtime_error);
      CHECK(error_of([&] { resolve_modules(index, r.request); }) == r.message);
    }
  }
}

TEST_CASE("ModuleIndex: a malformed or compressed .ko is an error naming the file") {
  // A module's .modinfo is read when it is looked up (resolve_modules), its name when listed.
  auto lookup = [](const fs::path& dir, const std::string& name) {
    ModuleIndex index(dir);
    resolve_modules(index, {name});
  };
  require_tool("as", "binutils");
  ScratchDir t{"crumble-kernel-test"};
  make_ko(t.path / "good.ko", {"depends="});
  const Bytes good = read_file(t.path / "good.ko");
  const std::uint64_t shoff = get(good, 0x28, 8), shnum = get(good, 0x3c, 2), shstrndx = get(good, 0x3e, 2);
  // Index of .modinfo among the section headers, found with binutils' readelf as the oracle.
  const std::string sections = shell("readelf -SW " + quote((t.path / "good.ko").string()));
  std::size_t at = sections.find("] .modinfo");
  REQUIRE(at != std::string::npos);
  const std::size_t modinfo = std::stoul(sections.substr(sections.rfind('[', at) + 1));

  auto mutated = [&](std::function<void(Bytes&)> f) {
    Bytes b = good;
    f(b);
    return b;
  };
  auto sh = [&](std::uint64_t i, std::size_t field) { return static_cast<std::size_t>(shoff + i * 64 + field); };
  struct Row {
    const char* what;
    Bytes bytes;
    std::string message;  // after "malformed kernel module <file>: "
  };
  const Row rows[] = {
      {"empty", {}, "shorter than an ELF64 header (0 bytes)"},
      {"40 bytes", Bytes(good.begin(), good.begin() + 40), "shorter than an ELF64 header (40 bytes)"},
      {"not ELF", mutated([](Bytes& b) { b[1] = 'X'; }), "not an ELF file"},
      {"ELF32", mutated([](Bytes& b) { b[4] = 1; }), "not ELF64"},
      {"big-endian", mutated([](Bytes& b) { b[5] = 2; }), "not little-endian"},
      {"cut inside the section header table", Bytes(good.begin(), good.begin() + static_cast<long>(shoff + shnum * 64 - 1)),
       "section header table (bytes " + std::to_string(shoff) + "+" + std::to_string(shnum * 64) +
           ") lies outside the file (" + std::to_string(shoff + shnum * 64 - 1) + " bytes)"},
      {"e_shoff far away", mutated([](Bytes& b) { put(b, 0x28, 0x7fffffffffffff00, 8); }),
       "section header table (bytes " + std::to_string(0x7fffffffffffff00) + "+" + std::to_string(shnum * 64) +
           ") lies outside the file (" + std::to_string(good.size()) + " bytes)"},
      {"e_shnum huge", mutated([](Bytes& b) { put(b, 0x3c, 0xfff0, 2); }),
       "65520 section headers cannot fit in the file"},
      {"e_shentsize wrong", mutated([](Bytes& b) { put(b, 0x3a, 40, 2); }), "section header size 40, expected 64"},
      {"e_shstrndx out of range", mutated([&](Bytes& b) { put(b, 0x3e, shnum, 2); }),
       "section name table index " + std::to_string(shnum) + " out of range"},
      {".modinfo size past the end", mutated([&](Bytes& b) { put(b, sh(modinfo, 0x20), 1u << 30, 8); }),
       ".modinfo section (bytes " + std::to_string(get(good, sh(modinfo, 0x18), 8)) + "+" + std::to_string(1u << 30) +
           ") lies outside the file (" + std::to_string(good.size()) + " bytes)"},
      {".modinfo offset overflowing", mutated([&](Bytes& b) { put(b, sh(modinfo, 0x18), ~0ull, 8); }),
       ".modinfo section (bytes " + std::to_string(~0ull) + "+" + std::to_string(get(good, sh(modinfo, 0x20), 8)) +
           ") lies outside the file (" + std::to_string(good.size()) + " bytes)"},
      {"section name index past the table", mutated([&](Bytes& b) { put(b, sh(modinfo, 0), 0xffffff, 4); }),
       "section " + std::to_string(modinfo) + "'s name lies outside the name table"},
      {"name table without NULs", mutated([&](Bytes& b) {
         std::size_t o = static_cast<std::size_t>(get(b, sh(shstrndx, 0x18), 8)), n = static_cast<std::size_t>(get(b, sh(shstrndx, 0x20), 8));
         std::fill(b.begin() + static_cast<long>(o), b.begin() + static_cast<long>(o + n), 'x');
       }),
       "section 1's name is not NUL-terminated"},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    ScratchDir d{"crumble-kernel-test"};
    fs::path ko = d.path / "kernel" / "bad-mod.ko";
    write_file(ko, r.bytes);
    make_ko(d.path / "kernel" / "fine.ko", {"depends="});
    std::string m = error_of([&] { lookup(d.path, "bad_mod"); });
    CHECK(m == "malformed kernel module " + ko.string() + ": " + r.message);
    CHECK(error_of([&] { lookup(d.path, "fine"); }) == "(no error)");  // the others stay usable
  }

  SECTION("no .modinfo section") {
    ScratchDir d{"crumble-kernel-test"};
    make_ko(d.path / "plain.ko", {}, false);
    CHECK(error_of([&] { lookup(d.path, "plain"); }) ==
          "malformed kernel module " + (d.path / "plain.ko").string() + ": no .modinfo section");
  }
  SECTION("compressed modules other than xz are refused") {  // .ko.xz: foreign_kernel_test.cpp
    for (const char* ext : {".ko.zst", ".ko.gz"}) {
      ScratchDir d{"crumble-kernel-test"};
      make_ko(d.path / "fine.ko", {"depends="});
      write_file(d.path / "kernel" / (std::string("virtio") + ext), Bytes(32, 0xfd));
      std::string m = error_of([&] { ModuleIndex index(d.path); });
      CHECK_THAT(m, Contains((d.path / "kernel" / (std::string("virtio") + ext)).string()) &&
                        Contains("compressed modules are not supported"));
    }
  }
  SECTION("a directory that does not exist") {
    CHECK_THAT(error_of([&] { ModuleIndex index(t.path / "nowhere"); }), Contains("does not exist"));
  }
}

// ---------------------------------------------------------------------------------------------
// Debian's kernel.

TEST_CASE("Debian's cloud kernel: the image is a bzImage, and truncated or corrupted copies are refused") {
  const GuestKernel k = real_kernel();
  INFO("kernel " << k.version << " at " << k.image);
  CHECK(k.image.filename() == "vmlinuz-" + k.version);
  CHECK(k.modules_dir.filename() == k.version);
  CHECK(k.version.ends_with("-cloud-amd64"));
  CHECK(check_kernel_image(k.image) == KernelFormat::bzimage);
  if (std::string file = find_tool("file"); !file.empty()) {
    CHECK_THAT(shell(quote(file) + " -b " + quote(k.image.string())), StartsWith("Linux kernel x86 boot executable bzImage"));
  }

  const Bytes image = read_file(k.image);
  REQUIRE(image.size() > 1024 * 1024);
  std::uint64_t sects = image[setup_sects] ? image[setup_sects] : 4;
  const std::uint64_t declared = (sects + 1) * 512 + get(image, syssize, 4) * 16;  // boot.rst: setup + syssize paragraphs
  REQUIRE(declared <= image.size());
  REQUIRE(declared > image.size() / 2);

  ScratchDir t{"crumble-kernel-test"};
  struct Row {
    const char* what;
    Bytes bytes;
    std::string expected;  // exact message, or "bzimage"
  };
  auto cut = [&](std::uint64_t n) { return Bytes(image.begin(), image.begin() + static_cast<long>(n)); };
  auto corrupt = [&](std::size_t at, unsigned char v) {
    Bytes b = image;
    b[at] = v;
    return b;
  };
  const Row rows[] = {
      {"truncated to half", cut(image.size() / 2),
       "truncated bzImage: header says " + std::to_string(declared) + " bytes, file has " + std::to_string(image.size() / 2)},
      {"one byte short of what the header declares", cut(declared - 1),
       "truncated bzImage: header says " + std::to_string(declared) + " bytes, file has " + std::to_string(declared - 1)},
      {"exactly what the header declares", cut(declared), "bzimage"},
      {"first 4 KiB only", cut(4096),
       "truncated bzImage: header says " + std::to_string(declared) + " bytes, file has 4096"},
      {"HdrS corrupted", corrupt(header, 'h'), "not a Linux kernel: no HdrS signature"},
      {"boot signature corrupted", corrupt(boot_flag + 1, 0), "not a Linux kernel: no boot sector signature 0xAA55 at 510"},
      {"not relocatable", corrupt(relocatable_kernel, 0), "bzImage is not relocatable (relocatable_kernel is 0)"},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    write_file(t.path / "vmlinuz", r.bytes);
    if (r.expected == "bzimage") CHECK(check_kernel_image(t.path / "vmlinuz") == KernelFormat::bzimage);
    else CHECK(error_of([&] { check_kernel_image(t.path / "vmlinuz"); }) == r.expected);
  }
}

TEST_CASE("Debian's cloud kernel: every module's name and depends= agree with kmod's modinfo") {
  const std::string modinfo = require_tool("modinfo", "kmod");
  const GuestKernel k = real_kernel();
  const ModuleIndex index(k.modules_dir);

  // Every .ko under the directory, found by walking it here.
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(k.modules_dir))
    if (e.is_regular_file() && e.path().extension() == ".ko") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() > 500);
  CHECK(index.size() == files.size());

  SECTION("the modules a microVM needs, one modinfo call each") {
    const char* wanted[] = {"virtio",     "virtio_ring", "virtio_mmio",  "virtio_pci",   "virtio_blk",
                            "virtio_net", "virtio_console", "virtiofs",  "fuse",         "overlay",
                            "vsock",      "vmw_vsock_virtio_transport", "vmw_vsock_virtio_transport_common",
                            "vhost_vsock", "net_failover", "failover"};
    for (const char* name : wanted) {
      INFO(name);
      const KernelModule* m = index.find(name);
      REQUIRE(m != nullptr);
      CHECK(shell(quote(modinfo) + " -F name " + quote(m->path.string())) == std::string(name) + "\n");
      CHECK(m->depends == depends_list(shell(quote(modinfo) + " -F depends " + quote(m->path.string()))));
    }
  }

  SECTION("all of them, in one modinfo call per field") {
    // modinfo prints one line per file for a field each module has exactly once (checked by the
    // line count); depends= can be empty, which is an empty line. xargs runs it in list order.
    ScratchDir t{"crumble-kernel-test"};
    std::string list;
    for (const auto& f : files) list += f.string() + "\n";
    write_text(t.path / "list", list);
    const std::string run = "xargs -d '\\n' -a " + quote((t.path / "list").string()) + " " + quote(modinfo);
    std::vector<std::string> names = split(shell(run + " -F name"), '\n');
    std::vector<std::string> deps = split(shell(run + " -F depends"), '\n');
    REQUIRE(names.size() == files.size() + 1);  // + the empty string after the last newline
    REQUIRE(deps.size() == files.size() + 1);
    std::size_t checked = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
      INFO(files[i]);
      const KernelModule* m = index.find(names[i]);
      REQUIRE(m != nullptr);
      CHECK(m->path == files[i]);
      CHECK(m->name == names[i]);
      CHECK(m->depends == depends_list(deps[i]));
      ++checked;
    }
    CHECK(checked == index.size());
  }
}

TEST_CASE("Debian's cloud kernel: resolve_modules gives modinfo's closure, dependencies first") {
  const std::string modinfo = require_tool("modinfo", "kmod");
  const GuestKernel k = real_kernel();
  const ModuleIndex index(k.modules_dir);
  std::map<std::string, fs::path> file_of;  // the oracle's own name -> file map, from a walk
  for (const auto& e : fs::recursive_directory_iterator(k.modules_dir))
    if (e.is_regular_file() && e.path().extension() == ".ko") {
      std::string n = e.path().stem().string();
      std::replace(n.begin(), n.end(), '-', '_');
      file_of[n] = e.path();
    }
  std::map<std::string, std::vector<std::string>> deps_of;  // filled through modinfo
  auto oracle_deps = [&](const std::string& n) -> const std::vector<std::string>& {
    auto it = deps_of.find(n);
    if (it == deps_of.end()) {
      REQUIRE(file_of.count(n));
      it = deps_of.emplace(n, depends_list(shell(quote(modinfo) + " -F depends " + quote(file_of[n].string())))).first;
    }
    return it->second;
  };
  auto closure = [&](const std::vector<std::string>& request) {
    std::set<std::string> seen;
    std::vector<std::string> todo = request;
    while (!todo.empty()) {
      std::string n = todo.back();
      todo.pop_back();
      if (!seen.insert(n).second) continue;
      for (const auto& d : oracle_deps(n)) todo.push_back(d);
    }
    return seen;
  };

  const std::vector<std::vector<std::string>> requests = {
      {"virtio_blk"},
      {"virtio_net"},
      {"virtiofs"},
      {"vmw_vsock_virtio_transport"},
      {"overlay", "virtio_blk", "virtio_net", "virtio_console", "virtiofs", "vmw_vsock_virtio_transport", "virtio_mmio"},
      {"virtio_blk", "virtio_blk", "virtio"},
  };
  for (const auto& request : requests) {
    std::string label;
    for (const auto& n : request) label += n + " ";
    INFO("request: " << label);
    std::vector<KernelModule> order = resolve_modules(index, request);
    std::vector<std::string> names;
    for (const auto& m : order) names.push_back(m.name);
    INFO("order: " << [&] { std::string s; for (auto& n : names) s += n + " "; return s; }());

    std::set<std::string> got(names.begin(), names.end());
    CHECK(got.size() == names.size());  // each once
    CHECK(got == closure(request));     // exactly what modinfo says is needed
    for (std::size_t i = 0; i < names.size(); ++i) {  // every dependency earlier
      for (const auto& d : oracle_deps(names[i])) {
        auto at = std::find(names.begin(), names.end(), d);
        CHECK(at < names.begin() + static_cast<long>(i));
      }
    }
    // Stable: a requested module that an earlier request did not already need comes after it.
    auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
    for (std::size_t j = 1; j < request.size(); ++j) {
      std::set<std::string> before = closure(std::vector<std::string>(request.begin(), request.begin() + static_cast<long>(j)));
      if (before.count(request[j])) continue;
      for (std::size_t i = 0; i < j; ++i) CHECK(pos(request[i]) < pos(request[j]));
    }
  }

  // The one the brief names: virtio_blk after virtio and virtio_ring.
  std::vector<std::string> blk;
  for (const auto& m : resolve_modules(index, {"virtio_blk"})) blk.push_back(m.name);
  REQUIRE(blk.size() >= 3);
  CHECK(blk.back() == "virtio_blk");
  CHECK(std::find(blk.begin(), blk.end(), "virtio") != blk.end());
  CHECK(std::find(blk.begin(), blk.end(), "virtio_ring") != blk.end());

  CHECK(error_of([&] { resolve_modules(index, {"virtio_blk", "no_such_module"}); }) ==
        "kernel module no_such_module not found in " + k.modules_dir.string());
}

TEST_CASE("fetch_debian_kernel: kept in the cache and reused without downloading") {
  (void)real_kernel();  // skips without network when nothing is cached
  std::vector<std::string> first, second;
  GuestKernel a = fetch_debian_kernel([&](std::string_view s) { first.emplace_back(s); });
  GuestKernel b = fetch_debian_kernel([&](std::string_view s) { second.emplace_back(s); });
  std::string log;
  for (const auto& s : second) log += s + "\n";
  INFO("second call said:\n" << log);
  CHECK(a.image == b.image);
  CHECK(a.modules_dir == b.modules_dir);
  CHECK(a.version == b.version);
  CHECK(a.image.parent_path().parent_path() == cache_dir() / "kernels" / a.version);
  CHECK(std::none_of(second.begin(), second.end(), [](const std::string& s) { return s.starts_with("downloading"); }));
  CHECK(std::none_of(second.begin(), second.end(), [](const std::string& s) { return s.starts_with("unpacking"); }));
  CHECK(std::find(second.begin(), second.end(), "found in cache: " + (cache_dir() / "kernels" / a.version).string()) != second.end());
  REQUIRE_FALSE(second.empty());
  CHECK(second.back() == "kernel ready: " + b.image.string());
  CHECK(check_kernel_image(b.image) == KernelFormat::bzimage);
  // cached_kernel() sees it too (it may know a newer one only if apt's candidate went back).
  auto c = cached_kernel();
  REQUIRE(c.has_value());
  CHECK_FALSE(detail::version_less(c->version, a.version));
}
