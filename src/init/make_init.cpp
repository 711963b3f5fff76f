// SPDX-License-Identifier: Apache-2.0
// make_init — build step: translates the guest init (rtg/init/init.go) with the protocol's values
// (crumble/vm/protocol/layout.hpp, as Config), so the protocol is defined once, and writes it as
//
//   make_init elf     INIT.go OUT.hpp [-D FLAG]... [--arch A] the executable's bytes: the header the
//                                                            package installs (default_init.hpp; for
//                                                            --arch arm64/riscv64 default_init_A.hpp)
//   make_init program INIT.go OUT.hpp FUNCTION [-D FLAG]... [--arch A]
//                                                            the IR program as C++, for assembling
//                                                            it in constant evaluation (tests: both
//                                                            agree)
//
// For a foreign guest (--arch arm64, riscv64) the init is translated with runtime.GOARCH set to it
// and assembled for it, and the protocol's guest-physical addresses are moved by where that
// machine's RAM begins (guest/arch.hpp: QEMU virt's RAM is at 1 GiB on ARM64, 2 GiB on RISC-V):
// the window keeps its place *in RAM*, so the host maps the same offset of the RAM file for every
// architecture.
//
// The bytes are assembled here, at build time, by the same lowering a constexpr build uses, so a
// consumer gets the init without raised -fconstexpr-* limits or the compile time they cost.
#include <crumble/vm/guest/arch.hpp>
#include <crumble/vm/protocol/layout.hpp>

#include <crumble/crumble.hpp>
#include <crumble/rtg/emit_cpp.hpp>
#include <crumble/rtg/translate.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>

namespace {

std::string bytes_header(const std::vector<std::uint8_t>& elf, const std::string& source, const std::set<std::string>& defines,
                         crumble::vm::GuestArch arch) {
  std::string flags;
  for (const auto& d : defines) flags += " -D " + d;
  const auto& a = crumble::vm::arch_info(arch);
  const bool native = arch == crumble::vm::GuestArch::amd64;
  // amd64 keeps the names it has always had: default_init_elf, default_init().
  const std::string suffix = native ? "" : "_" + std::string(a.name);
  if (!native) flags += " --arch " + std::string(a.name);
  std::string s =
      "// SPDX-License-Identifier: Apache-2.0\n"
      "// crumble/vm/guest/default_init" + suffix + ".hpp — the guest init SessionConfig{} boots" +
      (native ? "" : " for " + std::string(a.display) + " guests") + ". Generated at build time by\n"
      "// make_init from " + source + flags + " with the values of crumble/vm/protocol/layout.hpp:\n"
      "// do not edit; change the RTG source and rebuild.\n"
      "#pragma once\n\n#include <cstdint>\n#include <span>\n\nnamespace crumble::vm {\n\n"
      "// A static " + std::string(a.display) + " ELF executable, " + std::to_string(elf.size()) + " bytes.\n"
      "inline constexpr std::uint8_t default_init" + suffix + "_elf[" + std::to_string(elf.size()) + "] = {\n";
  char b[16];
  for (std::size_t i = 0; i < elf.size(); ++i) {
    std::snprintf(b, sizeof b, "%s0x%02x,", i % 16 == 0 ? "    " : " ", elf[i]);
    s += b;
    if (i % 16 == 15 || i + 1 == elf.size()) s += '\n';
  }
  s += "};\n\nconstexpr std::span<const std::uint8_t> default_init" + suffix + "() { return default_init" + suffix +
       "_elf; }\n\n}  // namespace crumble::vm\n";
  return s;
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary);
  out << text;
  out.close();
  if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const int fixed = mode == "program" ? 5 : 4;  // arguments before the -D flags
  if ((mode != "elf" && mode != "program") || argc < fixed) {
    std::cerr << "usage: make_init elf INIT.go OUT.hpp [-D FLAG]... [--arch amd64|arm64|riscv64]\n"
                 "       make_init program INIT.go OUT.hpp FUNCTION [-D FLAG]... [--arch amd64|arm64|riscv64]\n";
    return 2;
  }
  crumble::rtg::Options opt;
  crumble::vm::GuestArch arch = crumble::vm::GuestArch::amd64;
  try {
    for (int i = fixed; i + 1 < argc; i += 2) {
      if (std::string(argv[i]) == "-D") opt.defines.insert(argv[i + 1]);
      else if (std::string(argv[i]) == "--arch") arch = crumble::vm::parse_guest_arch(argv[i + 1]);
    }
  } catch (const std::exception& e) {
    std::cerr << "make_init: " << e.what() << "\n";
    return 2;
  }
  opt.arch = std::string(crumble::vm::arch_info(arch).name);
  for (auto& [k, v] : crumble::vm::protocol::config_values()) opt.config[k] = v;
  // The guest-physical places, moved by where the machine's RAM begins (see the top).
  const std::uint64_t ram_base = crumble::vm::arch_info(arch).ram_base;
  if (ram_base != 0)
    for (const char* phys : {"window_base", "mailbox_phys", "config_phys"})
      opt.config[phys] = std::to_string(std::stoull(opt.config.at(phys), nullptr, 16) + ram_base);
  try {
    const crumble::rtg::Translation t = crumble::rtg::translate_file(argv[2], opt);
    const std::string source = std::filesystem::path(argv[2]).filename().string();
    if (mode == "elf") {
      std::vector<std::uint8_t> elf;
      switch (arch) {
        case crumble::vm::GuestArch::amd64: elf = crumble::executable<crumble::arch::amd64>(t.program); break;
        case crumble::vm::GuestArch::arm64: elf = crumble::executable<crumble::arch::arm64>(t.program); break;
        case crumble::vm::GuestArch::riscv64: elf = crumble::executable<crumble::arch::riscv64>(t.program); break;
      }
      write_atomically(argv[3], bytes_header(elf, "rtg/init/" + source, opt.defines, arch));
    } else {
      crumble::rtg::HeaderInfo info;
      info.function = argv[4];
      info.name_space = "crumble::vm::generated";
      info.comment = "the guest init, from " + source + " with the values of crumble/vm/protocol/layout.hpp";
      write_atomically(argv[3], crumble::rtg::emit_cpp(t.program, info));
    }
  } catch (const std::exception& e) {
    std::cerr << "make_init: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
