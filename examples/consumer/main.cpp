// SPDX-License-Identifier: Apache-2.0
// Assembles a small program at compile time against an installed crumble.
#include <crumble/crumble.hpp>
#include <cstdio>

constexpr auto image = crumble::assemble<crumble::arch::amd64>([] {
  using namespace crumble::ir;
  return Program{{Function{"add", {"a", "b"}, {Return{Var{"a"} + Var{"b"}}}}}};
});

int main() { std::printf("consumer: %zu bytes of AMD64 code\n", image.bytes.size()); }
