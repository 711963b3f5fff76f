// SPDX-License-Identifier: Apache-2.0
// crumble-rtg — translates an RTG file to a C++ header (IR for constexpr assembly) or to a
// static executable.
//
//   crumble-rtg [-arch A] [-D FLAG]... [-c key=value]... [-name F] [-namespace N] -o init.hpp init.go
//   crumble-rtg -arch arm64 -o prog prog.go
//
// The output kind follows the output name (.hpp/.h/.hh: header) unless -emit says. Output is
// written to a temporary file and renamed, so a failed run never leaves a half-written file.
// Exit status: 0 done, 1 the source (or its assembly) has a mistake, 2 bad usage or I/O error.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/stat.h>

#include <crumble/crumble.hpp>

#include <crumble/rtg/emit_cpp.hpp>
#include <crumble/rtg/translate.hpp>

#include "version_line.hpp"

namespace {

constexpr const char* usage = R"(usage: crumble-rtg [options] FILE.go
  -o PATH           output file (required; .hpp/.h/.hh -> C++ header, else executable; - is stdout for a header)
  -emit header|exe  output kind, when the name does not say it
  -arch ARCH        amd64 (default), arm64 or riscv64: runtime.GOARCH, and the executable's architecture
  -D FLAG           define FLAG for runtime.Ifdef("FLAG")
  -c KEY=VALUE      set runtime.Config("KEY"); a value that reads as an integer is one
  -name NAME        C++ function the header defines (default: the file name without .go)
  -namespace NS     C++ namespace of that function (default: crumble::rtg::programs)
  -time             print how long translation took, to stderr
  --version         print the version and exit
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "crumble-rtg: " << msg << "\n" << usage;
  std::exit(2);
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string stem(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (ends_with(base, ".go")) base.resize(base.size() - 3);
  std::string id;
  for (char c : base) id += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0]))) id = "rtg_" + id;
  return id;
}

// Writes atomically: PATH.tmp then rename.
void write_file(const std::string& path, const void* data, std::size_t size, bool executable) {
  if (path == "-") {
    std::cout.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    std::cout.flush();
    if (!std::cout) throw std::runtime_error("cannot write to stdout");
    return;
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp);
    }
  }
  if (executable) ::chmod(tmp.c_str(), 0755);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
}

template <class Arch>
std::vector<std::uint8_t> build(const crumble::ir::Program& p) {
  return crumble::executable<Arch>(p);
}

}  // namespace

int main(int argc, char** argv) {
  crumble::rtg::Options opt;
  crumble::rtg::HeaderInfo info;
  std::string input, output, emit;
  bool timing = false, named = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "-o") output = value();
    else if (a == "-emit") emit = value();
    else if (a == "-arch") opt.arch = value();
    else if (a == "-D") opt.defines.insert(value());
    else if (a == "-c") {
      std::string kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) usage_error("-c takes KEY=VALUE, got \"" + kv + "\"");
      opt.config[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "-name") info.function = value(), named = true;
    else if (a == "-namespace") info.name_space = value();
    else if (a == "-time") timing = true;
    else if (a == "--version" || a == "-version") {
      std::cout << crumble::tools::version_line("crumble-rtg");
      return 0;
    } else if (a == "-h" || a == "-help" || a == "--help") {
      std::cout << usage;
      return 0;
    } else if (!a.empty() && a[0] == '-' && a != "-") usage_error("unknown option " + a);
    else if (input.empty()) input = a;
    else usage_error("more than one input file");
  }
  if (input.empty()) usage_error("no input file");
  if (output.empty()) usage_error("no output file (-o)");
  if (opt.arch != "amd64" && opt.arch != "arm64" && opt.arch != "riscv64")
    usage_error("unknown architecture \"" + opt.arch + "\" (amd64, arm64 or riscv64)");
  if (emit.empty()) emit = ends_with(output, ".hpp") || ends_with(output, ".h") || ends_with(output, ".hh") || output == "-" ? "header" : "exe";
  if (emit != "header" && emit != "exe") usage_error("-emit takes header or exe");
  if (emit == "exe" && output == "-") usage_error("an executable cannot go to stdout");
  if (!named) info.function = stem(input);

  try {
    auto t0 = std::chrono::steady_clock::now();
    crumble::rtg::Translation t = crumble::rtg::translate_file(input, opt);
    auto t1 = std::chrono::steady_clock::now();
    if (timing)
      std::cerr << "crumble-rtg: translated " << input << " in "
                << std::chrono::duration<double, std::micro>(t1 - t0).count() << " us\n";
    if (emit == "header") {
      std::string defs;
      for (const auto& d : opt.defines) defs += " -D " + d;
      for (const auto& [k, v] : opt.config) defs += " -c " + k + "=" + v;
      info.comment = "from " + input + " (-arch " + opt.arch + defs + ")";
      std::string text = crumble::rtg::emit_cpp(t.program, info);
      write_file(output, text.data(), text.size(), false);
    } else {
      std::vector<std::uint8_t> elf;
      if (opt.arch == "amd64") elf = build<crumble::arch::amd64>(t.program);
      else if (opt.arch == "arm64") elf = build<crumble::arch::arm64>(t.program);
      else elf = build<crumble::arch::riscv64>(t.program);
      write_file(output, elf.data(), elf.size(), true);
    }
  } catch (const crumble::rtg::Error& e) {
    std::cerr << e.what();
    return 1;
  } catch (const crumble::compile_error& e) {
    std::cerr << input << ": cannot assemble for " << opt.arch << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "crumble-rtg: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
