// SPDX-License-Identifier: Apache-2.0
// Built once per mistake with -DMISTAKE=<name>: assembling it in constant evaluation must stop
// the build with "call to non-'constexpr' function 'void crumble::diagnostic::<name>()'".
// With -DMISTAKE_CONTROL it assembles a correct program and must compile.
#include "mistakes.hpp"

#ifdef MISTAKE_CONTROL
constexpr auto image = crumble::assemble<crumble::arch::amd64>([] {
  using namespace crumble::ir;
  return Program{{Function{"main", {}, {Return{1}}}}};
});
#else
constexpr auto image = crumble::assemble<crumble::arch::amd64>([] { return crumble::test::mistakes::MISTAKE(); });
#endif
int main() { return static_cast<int>(image.bytes.size()); }
