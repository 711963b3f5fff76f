// SPDX-License-Identifier: Apache-2.0
// A consumer of the installed package: assembles a program at compile time, boots a microVM with
// the default init, runs a command in it, calls a payload translated from its own RTG file at
// build time (crumble_add_rtg) and one translated at run time (crumble::rtg).
#include <crumble/crumble.hpp>
#include <crumble/rtg/translate.hpp>
#include <crumble/vm/session.hpp>

#include <cstdio>

#include "triangle.hpp"  // made by crumble_add_rtg(triangle SOURCE triangle.go)

constexpr auto image = crumble::assemble<crumble::arch::amd64>([] {
  using namespace crumble::ir;
  return Program{{Function{"add", {"a", "b"}, {Return{Var{"a"} + Var{"b"}}}}}};
});

int main() {
  std::printf("consumer: %zu bytes of AMD64 code\n", image.bytes.size());
  try {
    crumble::vm::Session vm({});
    const crumble::vm::CommandResult r = vm.run({"uname", "-s"});
    std::printf("consumer: uname -s in the guest: %s", r.out.c_str());
    const auto payload = crumble::assemble<crumble::arch::amd64>(crumble::rtg::programs::triangle());
    std::printf("consumer: triangle payload returned %lld\n", static_cast<long long>(vm.call(payload)));
    const crumble::rtg::Translation t =
        crumble::rtg::translate({"answer.go", "package main\n\nfunc main() int64 {\n\treturn 6 * 7\n}\n"});
    std::printf("consumer: translated at run time, returned %lld\n",
                static_cast<long long>(vm.call(crumble::assemble<crumble::arch::amd64>(t.program))));
    return r.status();
  } catch (const crumble::vm::VmError& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
