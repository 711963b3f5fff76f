// SPDX-License-Identifier: Apache-2.0
// make_init — build step: translates the init program (rtg/init/init.go) with the protocol's
// values (crumble/vm/protocol/layout.hpp, as Config) into a C++ header, so the protocol is defined once.
//
//   make_init INIT.go OUT.hpp FUNCTION [-D FLAG]...
#include <crumble/vm/protocol/layout.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <crumble/rtg/emit_cpp.hpp>
#include <crumble/rtg/translate.hpp>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: make_init INIT.go OUT.hpp FUNCTION [-D FLAG]...\n";
    return 2;
  }
  crumble::rtg::Options opt;
  for (auto& [k, v] : crumble::vm::protocol::config_values()) opt.config[k] = v;
  for (int i = 4; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "-D") opt.defines.insert(argv[i + 1]);
  try {
    crumble::rtg::Translation t = crumble::rtg::translate_file(argv[1], opt);
    crumble::rtg::HeaderInfo info;
    info.function = argv[3];
    info.name_space = "crumble::vm::generated";
    info.comment = std::string("the guest init, from ") + argv[1] + " with the values of crumble/vm/protocol/layout.hpp";
    std::string text = crumble::rtg::emit_cpp(t.program, info);
    std::string tmp = std::string(argv[2]) + ".tmp";
    std::ofstream(tmp, std::ios::binary) << text;
    if (std::rename(tmp.c_str(), argv[2]) != 0) throw std::runtime_error(std::string("cannot write ") + argv[2]);
  } catch (const std::exception& e) {
    std::cerr << e.what();
    return 1;
  }
  return 0;
}
