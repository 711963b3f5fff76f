// SPDX-License-Identifier: Apache-2.0
// Built once per mistake with -DMISTAKE=<name>: assembling it in constant evaluation must stop
// the build with "call to non-'constexpr' function 'void crumble::diagnostic::<name>()'".
// With -DMISTAKE_CONTROL it assembles a correct program and must compile. With -DBY_FUNCTION it
// assembles by function (crumble::ByFunction), which must name the mistake the same way.
#include "mistakes.hpp"

struct Make {
  constexpr crumble::ir::Program operator()() const {
#ifdef MISTAKE_CONTROL
    using namespace crumble::ir;
    return Program{{Function{"main", {}, {Return{1}}}, Function{"f", {}, {Printf{"%d", {Int64{2}}}}}}};
#else
    return crumble::test::mistakes::MISTAKE();
#endif
  }
};
#ifdef BY_FUNCTION
constexpr auto image = crumble::assemble<crumble::arch::amd64>(crumble::ByFunction<Make>{});
#else
constexpr auto image = crumble::assemble<crumble::arch::amd64>(Make{});
#endif
int main() { return static_cast<int>(image.bytes.size()); }
